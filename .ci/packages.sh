# The Debian packages .ci/run installs, and which of them this machine lacks. Sourced by .ci/run, and
# by test/unit/ci.test.ts with a stand-in dpkg-query on PATH.
#
# qemu + busybox + cpio + kmod + xz + zstd build and boot the test guests; crun, runc and podman are the
# engines tested in the 6.1 guest (it runs the host's binaries; the 7.2 guest gets sid's engines laid
# over them, patchelf pointing their C programs at sid's libraries); containerd checks the config
# install.sh --containerd writes; clang, bpftool and libbpf build and load the tracker.
ci_packages=(qemu-system-x86 busybox-static cpio kmod xz-utils zstd patchelf crun runc podman containerd clang llvm bpftool libbpf-dev libbpf1 tini catatonit dumb-init tmux ripgrep git python3)

ci_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# The packages to apt-get install, one a line. Docker CE's containerd.io carries containerd and runc of
# its own and conflicts with Debian's containerd and runc: installing those would remove it, and Docker
# with it. Where it is (or docker-ce, which needs it), its containerd and runc are used instead, and
# one line on stderr says so.
ci_missing() {
  local p skip=""
  if ci_installed containerd.io || ci_installed docker-ce; then
    skip=" containerd runc "
    echo ".ci/run: Docker CE is installed (containerd.io): using its containerd and runc, not Debian's, which would remove it" >&2
  fi
  for p in "${ci_packages[@]}"; do
    case "$skip" in *" $p "*) continue ;; esac
    ci_installed "$p" || echo "$p"
  done
}
