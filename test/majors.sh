#!/usr/bin/env bash
# make test PG=N for a major this machine's Debian does not package: runs the
# whole of `make test` inside a minimal chroot of the Debian suite that does
# (17: trixie, 18: sid), from the same Debian mirror as this machine's apt.
#   bash test/majors.sh N             what test/run.sh execs for such a PG=N
#   bash test/majors.sh N --prepare   only build the chroot (if not built yet)
# The chroot is built on first use and cached outside any clone, in
# /var/cache/baton/chroot-SUITE-pgN; it counts only once its .complete marker
# exists (written last): an interrupted build is redone. A lock keeps two runs
# of one major apart (the second waits). Each run copies the work tree (not
# .git, not build products) to /baton inside the chroot, mounts proc and a
# /dev/shm of its own (the server's dynamic shared memory and Python's
# semaphores live there; debootstrap made the rest of /dev), runs
# `make test PG=N` in it, and unmounts whatever it mounted on the way out,
# failed, interrupted or not (after a SIGKILL, the next run does it). The
# chroot's binaries need its own glibc (newer than Debian 12's): they run
# only inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
TREE=$PWD
PG=${1:?usage: test/majors.sh MAJOR [--prepare]}
CACHE=/var/cache/baton
RECIPE=1  # raise it when the chroot's recipe changes: older chroots are rebuilt

say() { echo "baton PG=$PG: $*" >&2; }

case "$PG" in
  17) SUITE=trixie ;;
  18) SUITE=sid ;;
  *) say "no Debian suite on this machine's mirror packages PostgreSQL $PG (tested majors: 15, 17, 18)"; exit 1 ;;
esac
if [ "${CASSERT:-}" = 1 ]; then
  say "CASSERT=1 is PostgreSQL 15 only (test/cassert.sh)"; exit 1
fi
if [ "$(id -u)" != 0 ]; then
  say "needs root (debootstrap, chroot, mount): run make test PG=$PG as root"; exit 1
fi
ROOT=$CACHE/chroot-$SUITE-pg$PG

# The packages test/lib.sh lists for this major (what the chroot's make test
# checks for): computed by lib.sh itself, so that the two never differ.
PACKAGES=$(PG=$PG CASSERT= bash -c '. test/lib.sh >/dev/null && echo $BATON_PACKAGES')

# The mirror this machine's apt uses for Debian itself (not its security suite).
mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        tr ' ' '\n' | grep -v -- '-security' | grep -m1 '^http' || true)
  [ -n "$uri" ] || uri=$(sed -n 's/^deb[[:space:]]\+\(http[^[:space:]]*\).*/\1/p' /etc/apt/sources.list 2>/dev/null |
                         grep -v -- '-security' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Whatever is mounted at or below the chroot, deepest first.
mounts_below() {
  awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r
}
# Processes whose root is the chroot (a server or pooler a test left behind),
# by pid: their mounts cannot go while they run.
chroot_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && echo "${p#/proc/}"
  done
  return 0
}
unmount_all() {
  local m pids
  pids=$(chroot_pids)
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null || true
    sleep 1
    pids=$(chroot_pids)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  fi
  for m in $(mounts_below); do
    umount "$m" 2>/dev/null || umount -l "$m" || say "could not unmount $m"
  done
}

in_root() {  # a command inside the chroot, with a clean environment (and not the lock)
  chroot "$ROOT" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@" 9>&-
}

mount_all() {
  mount -t proc proc "$ROOT/proc"
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"  # for apt
}

build() {
  local log=$CACHE/chroot-$SUITE-pg$PG.log url
  url=$(mirror)
  step() { "$@" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; say "failed: $*; see $log"; exit 1; }; }
  say "building a Debian $SUITE chroot with PostgreSQL $PG in $ROOT (once: about a minute and 1.6 GB)"
  : >"$log"
  [ -z "$(mounts_below)" ] || { say "something is still mounted under $ROOT"; exit 1; }
  rm -rf --one-file-system "$ROOT"
  if ! command -v debootstrap >/dev/null; then
    step apt-get update -q
    step env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
  fi
  step debootstrap --variant=minbase "$SUITE" "$ROOT" "$url"
  # sid's Release files expire within a week; a mirror frozen at a date
  # (snapshot) serves expired ones. No daemon starts inside (policy-rc.d),
  # and installing the server creates no cluster: the tests make their own.
  echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99baton"
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  mkdir -p "$ROOT/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.conf"
  mount_all
  step in_root apt-get update -q
  # shellcheck disable=SC2086
  step in_root apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold $PACKAGES
  step in_root apt-get clean
  unmount_all
  printf 'recipe %s\n%s\n' "$RECIPE" "$PACKAGES" >"$ROOT/.complete"
  say "built in $((SECONDS / 60)) min $((SECONDS % 60)) s: $(du -sh --one-file-system "$ROOT" | cut -f1); $(in_root dpkg-query -W -f='${Package} ${Version}' postgresql-$PG)"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock-chroot-$SUITE-pg$PG"
flock 9  # another run of this major may be building or using the chroot
trap unmount_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
unmount_all  # a run killed before its trap could run

[ "$(head -n1 "$ROOT/.complete" 2>/dev/null)" = "recipe $RECIPE" ] || build
[ "${2:-}" = --prepare ] && exit 0

# The Node example's packages come from the npm registry through the host:
# inside the chroot, npm does not trust this machine's certificate
# authorities. Fetched once into the tree (gitignored), copied in below.
if [ ! -d "$TREE/examples/node/node_modules" ] && [ -f "$TREE/examples/node/package-lock.json" ]; then
  command -v npm >/dev/null ||
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
  npm ci --prefix "$TREE/examples/node" --no-audit --no-fund --prefer-offline >/dev/null
fi

# The work tree as it is now, uncommitted changes included; objects built
# here for the host's PostgreSQL 15 must not reach the chroot's build. The
# clusters a failed run kept for inspection go now.
rm -rf --one-file-system "$ROOT/baton" "$ROOT"/tmp/baton-*
mkdir "$ROOT/baton"
tar -C "$TREE" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude=./output_iso --exclude=./tmp_check --exclude=./log -cf - . |
  tar -C "$ROOT/baton" -xf -
mount_all
echo "== PostgreSQL $PG: Debian $SUITE chroot $ROOT (paths below are inside it)"
# In the background and waited for, so that a signal reaches the trap at
# once (which stops what runs inside and unmounts). The run's last line is
# the tally.
status=0
(exec 9>&-; in_root make -C /baton --no-print-directory test PG="$PG") &
wait $! || status=$?
exit "$status"
