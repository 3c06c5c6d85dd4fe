#!/usr/bin/env bash
# Builds the in-container exec client: dist/agentcgroup-exec (or OUT, the one argument: the unit tests
# build their own), static (no library in the container to depend on), stripped. The runtime shim and
# the daemon bind-mount the installed copy read-only at /run/agentcgroup/agentcgroup-exec; the single
# executable carries it (src/sea/sea-config.json).
set -euo pipefail
out=$(realpath -m "${1:-$(dirname "$0")/../../../dist/agentcgroup-exec}")
cd "$(dirname "$0")/../../.."

die() {
  echo "src/exec/native/build.sh: $*" >&2
  exit 1
}

command -v clang >/dev/null || die "clang not found: install the Debian package clang"
mkdir -p "$(dirname "$out")"
# Built beside the target and renamed over it: a running client cannot be written (ETXTBSY).
clang -static -O2 -s -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
  -o "$out.tmp" src/exec/native/agentcgroup-exec.c ||
  die "cannot build $out (the static link needs libc.a: the Debian package libc6-dev)"
mv -f "$out.tmp" "$out"
