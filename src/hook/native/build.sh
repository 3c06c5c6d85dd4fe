#!/usr/bin/env bash
# Builds the native fronts, static (they run on any host the single binary runs on, with nothing to
# load), carried inside the single binary (src/sea/sea-config.json) and written out by install.sh
# beside it: dist/agentcgroup-hook (src/hook/native/, the hook's) and dist/agentcgroup-runtime
# (src/runtime/native/, the runtime shim's). OUTDIR, the one argument, builds them elsewhere (tests).
set -euo pipefail
out=$(realpath -m "${1:-$(dirname "$0")/../../../dist}")
cd "$(dirname "$0")/../../.."

cc=${CC:-$(command -v cc || command -v clang || true)}
[ -n "$cc" ] || { echo "src/hook/native/build.sh: no C compiler: install the Debian package gcc or clang" >&2; exit 1; }

mkdir -p "$out"
for src in src/hook/native/agentcgroup-hook.c src/runtime/native/agentcgroup-runtime.c; do
  name=$(basename "$src" .c)
  # Built beside the target and renamed over it: a running front cannot be written (ETXTBSY).
  "$cc" -static -s -O2 -Wall -Wextra -Wformat=2 -Wshadow -Wconversion -Wno-sign-conversion -Werror \
    -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
    -o "$out/$name.tmp" "$src"
  mv -f "$out/$name.tmp" "$out/$name"
done
