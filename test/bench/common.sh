# What test/bench.sh and test/soak.sh share: their packages, the load
# generator's build, psql, the cluster's removal, and the lines that say
# where a run ran. Source it after test/lib.sh, with LOADGEN set.

# Packages beyond lib.sh's: libpq-dev (the load generator), gnuplot-nox (the plot).
BENCH_PACKAGES="libpq-dev gnuplot-nox"

build_loadgen() {
  echo "== building the load generator"
  mkdir -p test/bin
  g++ -O2 -std=c++20 -Wall -Wextra -Werror -pthread -I"$($PG_CONFIG --includedir)" \
    -o "$LOADGEN" test/bench/loadgen.cpp -L"$($PG_CONFIG --libdir)" -lpq
}

sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
  cluster_stop
  cluster_remove
}

setting() { sql -c "SHOW $1"; }

table_of() { [ "$1" = baton ] && echo baton._jobs || echo plain.jobs; }

# The commit measured, and whether src/ or sql/ had changes on top of it.
measured_commit() {
  local commit
  commit=$(git rev-parse --short HEAD 2>/dev/null)
  git diff --quiet HEAD -- src sql 2>/dev/null || commit="$commit + uncommitted changes in src/ or sql/"
  echo "$commit"
}

# The machine, its load, the server and its settings, as list items.
machine_lines() {
  cat <<EOF
- machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(uname -sr)
- load average before the run (other work on the machine skews every figure): $(cut -d' ' -f1-3 /proc/loadavg)
- PostgreSQL: $(sql -c "SELECT version()" | cut -d, -f1)
- settings: shared_buffers $(setting shared_buffers), synchronous_commit $(setting synchronous_commit), fsync $(setting fsync), max_connections $(setting max_connections), max_wal_size $(setting max_wal_size), autovacuum $(setting autovacuum) (its defaults); everything else initdb's defaults
EOF
}
