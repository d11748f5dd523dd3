#!/usr/bin/env bash
# The release files agree on the version: baton.control's default_version,
# META.json (both version fields), the newest CHANGELOG.md entry, and an
# upgrade script that leads to it from the released 0.1.0.
set -u
cd "$(dirname "$0")/../.."
. test/stress/lib/checks.sh
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" baton.control)
check "META.json's version is the control file's" "$version $version" \
      "$(/usr/bin/python3 -c 'import json; m = json.load(open("META.json")); print(m["version"], m["provides"]["baton"]["version"])')"
check "CHANGELOG.md's newest entry is the control file's version" "$version" \
      "$(sed -n 's/^## \([0-9.]*\).*/\1/p' CHANGELOG.md | head -1)"
check "an upgrade script leads from 0.1.0 to it" "yes" \
      "$([ "$version" = 0.1.0 ] || ls sql/baton--*--"$version".sql >/dev/null 2>&1 && echo yes)"
check "LICENSE is there" "yes" "$([ -s LICENSE ] && echo yes)"
((fails == 0))
