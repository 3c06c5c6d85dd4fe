#!/usr/bin/env bash
# Builds the eBPF tracker: dist/tracker.bpf.o (CO-RE, so one object loads on any kernel with BTF) and
# build/bpf/layout.json, the host compiler's view of struct event and the ring's size, which a unit
# test holds the TypeScript decoder to.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_NAME=bpf/build.sh
. bpf/toolchain.sh
hostcc=$(command -v cc || command -v clang)

mkdir -p build/bpf dist

# Any kernel's BTF will do: libbpf relocates field accesses against the target kernel's BTF at load.
if [ ! -s build/bpf/vmlinux.h ]; then
  [ -r /sys/kernel/btf/vmlinux ] || die "/sys/kernel/btf/vmlinux missing: build on a kernel with CONFIG_DEBUG_INFO_BTF=y"
  bpftool btf dump file /sys/kernel/btf/vmlinux format c >build/bpf/vmlinux.h.tmp
  mv build/bpf/vmlinux.h.tmp build/bpf/vmlinux.h
fi

clang -g -O2 -Wall -target bpf -D__TARGET_ARCH_x86 -I build/bpf -c bpf/tracker.bpf.c -o dist/tracker.bpf.o
# Test only: the unit tests hold libbpf's ring buffer reader to what src/bpf/batch.ts expects of it.
clang -g -O2 -Wall -target bpf -D__TARGET_ARCH_x86 -I build/bpf -c test/fixtures/ringfill.bpf.c -o build/bpf/ringfill.bpf.o

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
