# Shared by test/run.sh and test/demo.sh: packages, build, throwaway cluster.
# Source it; it defines functions and sets nothing else but PG, PG_BIN,
# PG_CONFIG and BATON_PACKAGES.

# PG=N in the environment: the PostgreSQL major (15 by default), Debian's
# packages of it. Majors this machine's Debian lacks run inside a chroot
# (test/majors.sh), where they are Debian's packages too.
# CASSERT=1: PostgreSQL 15 built with assertions, which test/cassert.sh
# builds on first use and caches.
# BATON_PG_BIN=DIR: another server's bin directory instead of Debian's (a
# private, relocated copy of /usr/lib/postgresql/15 and
# /usr/share/postgresql/15, say), so that make install, the clusters and the
# tests leave the machine's own PostgreSQL alone.
PG=${PG:-15}
export PG
if [ "${CASSERT:-}" = 1 ]; then
  [ "$PG" = 15 ] || { echo "baton: CASSERT=1 is PostgreSQL 15 only" >&2; return 1; }
  PG_BIN=$(bash "$(dirname "${BASH_SOURCE[0]}")/cassert.sh")/bin || return 1
else
  PG_BIN=${BATON_PG_BIN:-/usr/lib/postgresql/$PG/bin}
fi
PG_CONFIG=$PG_BIN/pg_config
export PG_CONFIG

# Debian packages a fresh Debian 12 machine lacks (docs/development.md says why).
BATON_PACKAGES="postgresql-$PG postgresql-server-dev-$PG postgresql-$PG-pgtap
  libtap-parser-sourcehandler-pgtap-perl libipc-run-perl pgbouncer
  python3 python3-psycopg2 python3-psycopg make g++"

# ensure_packages [EXTRA...]: BATON_PACKAGES and any extra ones.
ensure_packages() {
  local missing=() p
  for p in $BATON_PACKAGES "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "baton: missing packages: ${missing[*]} (run as root to install them)" >&2
    return 1
  fi
  echo "== installing ${missing[*]}"
  apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

build_and_install() {
  echo "== building and installing baton"
  # CASSERT=1: start and end with a clean tree, so that no object compiled
  # against the other server's headers is linked into either build.
  local clean=:
  [ "${CASSERT:-}" = 1 ] && clean="make -s clean"
  $clean && make -s PG_CONFIG="$PG_CONFIG" >/dev/null && make -s PG_CONFIG="$PG_CONFIG" install >/dev/null && $clean
}

# Runs a command as the postgres user (initdb and the server refuse root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local port
  for port in $(seq 54330 54399); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || { echo "$port"; return; }
  done
  return 1
}

# cluster_start NAME: a new cluster on loopback with its own socket
# directory; exports PGHOST, PGPORT, PGUSER and CLUSTER_DIR, CLUSTER_LOG.
cluster_start() {
  CLUSTER_DIR=$(mktemp -d "/tmp/baton-$1.XXXXXX")
  chmod 755 "$CLUSTER_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$CLUSTER_DIR"
  CLUSTER_LOG=$CLUSTER_DIR/server.log
  PGPORT=$(free_port) || { echo "baton: no free port" >&2; return 1; }
  as_postgres "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust >/dev/null || return 1
  cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$CLUSTER_DIR'
max_connections = 200
max_prepared_transactions = 10
log_min_messages = warning
CONF
  # A crashed backend leaves a core in the data directory (when the
  # kernel's core_pattern is a plain name): run.sh prints its backtrace.
  (ulimit -c unlimited 2>/dev/null
   as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_LOG" -w start >/dev/null) || {
    cat "$CLUSTER_LOG" >&2; return 1; }
  export PGHOST=$CLUSTER_DIR PGPORT PGUSER=postgres CLUSTER_DIR CLUSTER_LOG
  echo "== cluster on 127.0.0.1:$PGPORT ($CLUSTER_DIR)"
}

cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR/data" ] || return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1
}

cluster_remove() {
  [ -n "${CLUSTER_DIR:-}" ] && rm -rf "$CLUSTER_DIR"
}

cluster_restart() {
  (ulimit -c unlimited 2>/dev/null
   as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_LOG" -m fast -w restart >/dev/null)
}

# The backtrace of each core a crashed backend left in the cluster's data
# directory (gdb is installed for it, as root, only when there is one).
print_backtraces() {
  local core
  for core in "$CLUSTER_DIR"/data/core*; do
    [ -f "$core" ] || continue
    command -v gdb >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -q gdb >/dev/null 2>&1; }
    command -v gdb >/dev/null || { echo "(a core is in $core; no gdb to read it)"; return 0; }
    echo "-- backtrace of $core"
    gdb -batch -ex bt "$PG_BIN/postgres" "$core" 2>/dev/null | grep -E '^#' | head -40
  done
}
