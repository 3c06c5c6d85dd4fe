#!/usr/bin/env bash
# Builds the native hook front: dist/agentcgroup-hook, static (it runs on any host the single binary
# runs on, with nothing to load), carried inside the single binary (src/sea/sea-config.json) and
# written out by install.sh beside it.
set -euo pipefail
cd "$(dirname "$0")/../../.."

cc=${CC:-$(command -v cc || command -v clang || true)}
[ -n "$cc" ] || { echo "src/hook/native/build.sh: no C compiler: install the Debian package gcc or clang" >&2; exit 1; }

mkdir -p dist
"$cc" -static -s -O2 -Wall -Wextra -Wformat=2 -Wshadow -Wconversion -Wno-sign-conversion -Werror \
  -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
  -o dist/agentcgroup-hook.tmp src/hook/native/agentcgroup-hook.c
mv dist/agentcgroup-hook.tmp dist/agentcgroup-hook
