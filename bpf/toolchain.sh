# Sourced by bpf/build.sh and bpf/sched/build.sh: `die` naming the calling script, and the BPF
# toolchain's presence checked once, with the Debian package to install for each missing piece.
die() {
  echo "${BUILD_NAME:-$0}: $*" >&2
  exit 1
}

command -v clang >/dev/null || die "clang not found: install the Debian package clang"
command -v bpftool >/dev/null || die "bpftool not found: install the Debian package bpftool"
[ -f /usr/include/bpf/bpf_helpers.h ] || die "libbpf headers not found (/usr/include/bpf): install the Debian package libbpf-dev"
