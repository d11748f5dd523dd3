#!/usr/bin/env bash
# Prints the prefix of a PostgreSQL 15 built from Debian's source package with
# --enable-cassert --enable-debug, building it first if it is not there yet.
# test/lib.sh calls it when CASSERT=1. Builds are cached outside any clone,
# in /var/cache/baton/postgresql-15-cassert-VERSION, and count only once
# .complete exists: an interrupted build is redone. VERSION is the newest
# source apt knows of that can be downloaded. Progress goes to stderr, the
# prefix alone to stdout.
set -euo pipefail
# Called from `make test`: PostgreSQL's build makes its generated headers
# (utils/errcodes.h...) only when it is the top-level make.
unset MAKELEVEL MAKEFLAGS MFLAGS MAKEOVERRIDES
CACHE=/var/cache/baton
DEB_SRC=/etc/apt/sources.list.d/baton-src.sources
BUILD_PACKAGES="dpkg-dev gcc make bison flex zlib1g-dev libicu-dev pkg-config postgresql-15-pgtap"
CONTRIB="hstore citext"
RECIPE=3  # raise it when the build changes: cached builds of older recipes are redone

say() { echo "baton cassert: $*" >&2; }

source_versions() {  # newest first
  apt-cache showsrc postgresql-15 2>/dev/null | sed -n 's/^Version: //p' | sort -rVu
}

build() {  # build VERSION into PREFIX; the source is already in the current directory
  local log=$PWD/build.log missing=() p
  step() { "$@" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; say "failed: $*; see $log"; exit 1; }; }
  say "building PostgreSQL $1 with assertions into $PREFIX (once: about 3 minutes and 400 MB of build tree on 2 cores)"
  for p in $BUILD_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) || step env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  step dpkg-source -x postgresql-15_*.dsc src
  cd src
  step ./configure --prefix="$PREFIX" --enable-cassert --enable-debug --with-icu --without-readline
  step nice make -j2
  step make install
  step make -C src/test/isolation install  # pg_isolation_regress, isolationtester
  for m in $CONTRIB; do step make -C "contrib/$m" install; done  # types the tests use
  # pgTAP is plain SQL: Debian's files serve any 15.
  cp /usr/share/postgresql/15/extension/pgtap* "$("$PREFIX/bin/pg_config" --sharedir)/extension/"
  chmod -R a+rX "$CACHE"  # the server runs as postgres
  touch "$PREFIX/.complete"
  cd ..
  say "built in $((SECONDS / 60)) min $((SECONDS % 60)) s: $(du -sh "$PREFIX" | cut -f1) installed, build tree of $(du -sh . | cut -f1) removed"
}

versions=$(source_versions)
if [ -z "$versions" ] && [ "$(id -u)" = 0 ]; then  # add deb-src: Debian's mirrors and suites
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$DEB_SRC"
  apt-get update -qq >/dev/null
  versions=$(source_versions)
fi

for version in $versions; do
  # "postgres" in the prefix keeps every directory under it: without it,
  # Debian's 50-per-version-dirs patch installs libraries into Debian's own
  # /usr/lib/postgresql/15/lib.
  PREFIX=$CACHE/postgresql-15-cassert-$version-r$RECIPE
  if [ ! -f "$PREFIX/.complete" ]; then
    [ "$(id -u)" = 0 ] || continue
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9  # another run may be building right now
  fi
  if [ ! -f "$PREFIX/.complete" ]; then
    rm -rf "$PREFIX" "$CACHE/build"
    mkdir "$CACHE/build"
    cd "$CACHE/build"
    if ! apt-get source -qq --download-only "postgresql-15=$version" >/dev/null 2>&1; then
      say "the source of PostgreSQL $version cannot be downloaded; trying an older one"
      continue
    fi
    build "$version"
    cd / && rm -rf "$CACHE/build"
  fi
  echo "$PREFIX"
  exit 0
done
say "no PostgreSQL 15 with assertions is built yet, and it takes root to build one (make test CASSERT=1 as root)"
exit 1
