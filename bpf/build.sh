#!/usr/bin/env bash
# Builds the eBPF objects, CO-RE (one object loads on any kernel with BTF): dist/tracker.bpf.o, the
# daemon's tracker; dist/agentsched.bpf.o, the sched_ext agent scheduler (it loads only on a kernel
# with sched_ext, but builds anywhere: its kernel types are bpf/sched/kernel.h, not a vmlinux.h); and
# build/bpf/layout.json, the host compiler's view of struct event and the ring's size, which a unit
# test holds the TypeScript decoder to.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "bpf/build.sh: $*" >&2
  exit 1
}
# Each missing piece of the toolchain, with the Debian package to install.
command -v clang >/dev/null || die "clang not found: install the Debian package clang"
command -v bpftool >/dev/null || die "bpftool not found: install the Debian package bpftool"
[ -f /usr/include/bpf/bpf_helpers.h ] || die "libbpf headers not found (/usr/include/bpf): install the Debian package libbpf-dev"
hostcc=$(command -v cc || command -v clang)

mkdir -p build/bpf dist

# Any kernel's BTF will do: libbpf relocates field accesses against the target kernel's BTF at load.
if [ ! -s build/bpf/vmlinux.h ]; then
  [ -r /sys/kernel/btf/vmlinux ] || die "/sys/kernel/btf/vmlinux missing: build on a kernel with CONFIG_DEBUG_INFO_BTF=y"
  bpftool btf dump file /sys/kernel/btf/vmlinux format c >build/bpf/vmlinux.h.tmp
  mv build/bpf/vmlinux.h.tmp build/bpf/vmlinux.h
fi

bpfcc=(clang -g -O2 -Wall -target bpf -D__TARGET_ARCH_x86)
"${bpfcc[@]}" -I build/bpf -c bpf/tracker.bpf.c -o dist/tracker.bpf.o
"${bpfcc[@]}" -I bpf/sched -c bpf/sched/agentsched.bpf.c -o dist/agentsched.bpf.o
# Test only: the unit tests hold libbpf's ring buffer reader to what src/bpf/batch.ts expects of it.
"${bpfcc[@]}" -I build/bpf -c test/fixtures/ringfill.bpf.c -o build/bpf/ringfill.bpf.o

cat >build/bpf/layout.c <<'EOF'
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "tracker.h"

#define FIELD(f, sep) \
	printf("    \"" #f "\": { \"offset\": %zu, \"size\": %zu }" sep "\n", \
	       offsetof(struct event, f), sizeof(((struct event *)0)->f))

int main(void)
{
	printf("{\n  \"size\": %zu,\n  \"fields\": {\n", sizeof(struct event));
	FIELD(ts_ns, ",");
	FIELD(cgroup_id, ",");
	FIELD(watch_id, ",");
	FIELD(type, ",");
	FIELD(pid, ",");
	FIELD(tgid, ",");
	FIELD(ppid, ",");
	FIELD(exit_code, ",");
	FIELD(comm, ",");
	FIELD(filename, ",");
	FIELD(flags, "");
	printf("  },\n  \"types\": { \"fork\": %d, \"exec\": %d, \"exit\": %d },\n  \"flags\": { \"held\": %d },\n", EVENT_FORK, EVENT_EXEC, EVENT_EXIT, FLAG_HELD);
	printf("  \"ringBytes\": %d\n}\n", RING_BYTES);
	return 0;
}
EOF
"$hostcc" -Wall -I bpf -o build/bpf/layout build/bpf/layout.c
build/bpf/layout >build/bpf/layout.json
