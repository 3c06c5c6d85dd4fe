#!/usr/bin/env bash
# Builds the sched_ext agent scheduler (issue 21, prototype): build/sched/agentsched.bpf.o.
# Its vmlinux.h must come from a kernel with sched_ext (struct sched_ext_ops): Debian sid's kernel
# kept by the test VM (/var/cache/agentcgroup-vm-sid/vmlinux, or AGENTCGROUP_SCHED_VMLINUX), else the
# running kernel's BTF if it has sched_ext. Without either it says so in one line and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

BUILD_NAME=bpf/sched/build.sh
. bpf/toolchain.sh

out=build/sched
mkdir -p "$out"

btf=${AGENTCGROUP_SCHED_VMLINUX:-/var/cache/agentcgroup-vm-sid/vmlinux}
if [ ! -r "$btf" ]; then
  btf=/sys/kernel/btf/vmlinux
  if [ ! -r "$btf" ] || ! bpftool btf dump file "$btf" | grep -q "STRUCT 'sched_ext_ops'"; then
    echo "bpf/sched/build.sh: no BTF with sched_ext (no sid vmlinux, and the running kernel has no sched_ext): agent scheduler not built"
    exit 0
  fi
fi

# Remade when the BTF source is newer than it (a new sid kernel brings new sched_ext types).
if [ ! -s "$out/vmlinux.h" ] || [ "$btf" -nt "$out/vmlinux.h" ]; then
  bpftool btf dump file "$btf" format c >"$out/vmlinux.h.tmp"
  grep -q '^struct sched_ext_ops {' "$out/vmlinux.h.tmp" || { rm -f "$out/vmlinux.h.tmp"; die "$btf has no struct sched_ext_ops"; }
  mv "$out/vmlinux.h.tmp" "$out/vmlinux.h"
fi

# 7.x kernels embed tagged structs as anonymous members (built with -fms-extensions), which bpftool
# prints as `struct ns_tree;` inside a struct: only -fms-extensions lays those out as the kernel does.
clang -g -O2 -Wall -fms-extensions -Wno-microsoft-anon-tag -target bpf -D__TARGET_ARCH_x86 -I "$out" -I bpf/sched -c bpf/sched/agentsched.bpf.c -o "$out/agentsched.bpf.o"
