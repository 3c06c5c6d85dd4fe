#!/usr/bin/env bash
# agentcgroup installer. Idempotent; every path it writes is under --root (default /), so tests run it
# against a throwaway directory.
#
#   bash install.sh [--root DIR] [--binary PATH]   install the binary (and its agentcgroup-runtime link),
#                                                  the in-container exec client and the native hook front
#                                                  it carries (agentcgroup-hook), hooks.d JSON, policy,
#                                                  systemd unit
#     --always       the hooks.d JSON for every container, not only those annotated io.agentcgroup.enable=true
#     --docker       also register the runtime shim in /etc/docker/daemon.json ("runtimes": "agentcgroup")
#     --containerd   also add the shim as CRI runtime "agentcgroup" where this node's containerd reads it:
#                    config.toml, a conf.d drop-in, k3s/RKE2's template, k0s's drop-in (the node shapes
#                    of deploy/kubernetes/README.md), and say what to restart
#     --containerd-config FILE   the same in FILE instead (a path on the host, under --root): another
#                    containerd's config.toml, or a k3s/RKE2 template *.tmpl (made if missing)
#   bash install.sh --uninstall [--root DIR] [--containerd-config FILE]   remove what install put there,
#                                                  in every containerd config too (a modified policy stays)
#   bash install.sh --demo                         set up a build here and run `agentcgroup demo`, in the
#                                                  test guest when this host's cgroups cannot run it
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=/
binary=""
mode=install
always=0
docker=0
containerd=0
containerd_config=""

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --uninstall) mode=uninstall; shift ;;
    --demo) mode=demo; shift ;;
    --always) always=1; shift ;;
    --docker) docker=1; shift ;;
    --containerd) containerd=auto; shift ;;
    --containerd-config) containerd=file; containerd_config=${2:?--containerd-config needs a file}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

case "$root" in /*) ;; *) die "--root must be an absolute path, got $root" ;; esac
case "$containerd_config" in /* | "") ;; *) die "--containerd-config must be an absolute path, got $containerd_config" ;; esac
root=${root%/}

bin="$root/usr/local/bin/agentcgroup"
# The native hook front (src/hook/native/): hooks.d runs it in place of the binary; it asks the daemon,
# else execs the binary. The runtime shim and the daemon find it beside the binary.
front="$root/usr/local/bin/agentcgroup-hook"
hooks_dir="$root/usr/share/containers/oci/hooks.d"
hook="$hooks_dir/agentcgroup.json"
policy="$root/etc/agentcgroup/policy.yaml"
unit="$root/etc/systemd/system/agentcgroup.service"
# containerd's BinaryName takes no arguments: this name makes the binary behave as `agentcgroup runtime`.
shim_link="$root/usr/local/bin/agentcgroup-runtime"
# The in-container exec client (policy paths.exec_client): bind-mounted read-only into containers.
exec_client="$root/usr/local/lib/agentcgroup/agentcgroup-exec"
daemon_json="$root/etc/docker/daemon.json"
containerd_toml="$root$containerd_config"
# Where install-config containerd register may write (src/runtime/nodeshape.ts PLACES; a unit test
# keeps the two in step): looked into on uninstall without the binary, which may be gone.
containerd_dirs=(etc/containerd etc/containerd/conf.d etc/k0s etc/k0s/containerd.d var/lib/rancher/k3s/agent/etc/containerd var/lib/rancher/rke2/agent/etc/containerd)
shipped_policy="$here/config/policy.yaml"

# Build prerequisites for this checkout: what .ci/run installs, minus the test guest's.
setup_build() {
  local pkgs=(busybox-static crun clang llvm bpftool libbpf-dev libbpf1 qemu-system-x86 cpio kmod xz-utils) missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
  (cd "$here" && npm ci --no-audit --no-fund && npm run -s build:binary)
}

# The daemon's eBPF tracker loads libbpf.so.1 at run time (Debian's libbpf1); the binary carries the rest.
# Only for the real root: a --root install is a test or an image being assembled elsewhere.
install_runtime_library() {
  [ "$root" = "" ] || return 0
  if ldconfig -p 2>/dev/null | grep -q 'libbpf\.so\.1 '; then return 0; fi
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libbpf1 >/dev/null || die "apt-get install libbpf1 failed (the daemon's tracker needs libbpf.so.1)"
    echo "installed libbpf1 (libbpf.so.1, for the daemon's eBPF tracker)"
  else
    echo "warning: libbpf.so.1 is not installed: the daemon runs without its eBPF tracker until it is (Debian: libbpf1)" >&2
  fi
}

# put MODE SRC DEST: DEST replaced by rename from a fresh temporary file beside it, so a reader (CRI-O
# watches hooks.d and reads a file as it appears) sees the old file or the new one whole, never one
# being written, and a running daemon keeps its old binary. The temporary name is not *.json: CRI-O
# reads only those. Missing directories are made 0755 (as install -D did); existing ones keep their mode.
put() {
  local mode=$1 src=$2 dest=$3 dir tmp
  dir=$(dirname "$dest")
  [ -d "$dir" ] || install -d -m 0755 "$dir"
  tmp=$(mktemp "$dir/.$(basename "$dest").XXXXXXXX")
  if install -m "$mode" "$src" "$tmp" && mv -fT "$tmp" "$dest"; then return 0; fi
  rm -f "$tmp"
  die "cannot install $dest"
}

# The front the binary carries, written out and put beside it; false when the binary has none (an
# older build, or one that cannot run here).
install_front() {
  local tmp ok=1
  tmp=$(mktemp -d)
  if "$binary" hook-front "$tmp/agentcgroup-hook" >/dev/null 2>&1 && [ -s "$tmp/agentcgroup-hook" ]; then
    put 0755 "$tmp/agentcgroup-hook" "$front"
    ok=0
  fi
  rm -rf "$tmp"
  return $ok
}

install_files() {
  if [ -z "$binary" ]; then
    binary="$here/dist/agentcgroup"
    [ -x "$binary" ] || die "no binary at $binary: build it with npm run build:binary (or pass --binary PATH)"
  fi
  [ -x "$binary" ] || die "--binary $binary is not an executable file"
  install_runtime_library
  put 0755 "$binary" "$bin"
  # containerd's BinaryName (the runtime install-config registers) runs this name; it takes no arguments.
  ln -sfn agentcgroup "$shim_link"
  # Written by the binary, which carries it (0755, by rename: a container that has the old one mounted
  # keeps it). One that cannot (a build without it) only leaves containers without the client.
  local out
  if ! out=$("$bin" install-exec-client "$exec_client" 2>&1) || [ ! -f "$exec_client" ]; then
    echo "warning: the in-container exec client was not installed (${out:-the binary wrote nothing}): containers get no /run/agentcgroup/agentcgroup-exec" >&2
  fi
  local src="$here/hooks/agentcgroup.json" with_front=1
  [ "$always" = 1 ] && src="$here/hooks/always/agentcgroup.json"
  if install_front; then
    put 0644 "$src" "$hook"
  else
    # No front: hooks.d runs the binary itself (the front is taken away only once nothing names it).
    with_front=0
    local json
    json=$(mktemp)
    sed 's#"/usr/local/bin/agentcgroup-hook"#"/usr/local/bin/agentcgroup"#' "$src" >"$json"
    put 0644 "$json" "$hook"
    rm -f "$json" "$front"
  fi
  put 0644 "$here/config/systemd/agentcgroup.service" "$unit"
  # The operator's policy is theirs: installed once, never overwritten.
  if [ ! -e "$policy" ]; then put 0644 "$shipped_policy" "$policy"; fi
  if [ "$root" = "" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl daemon-reload && systemctl enable --now agentcgroup.service
  fi
  echo "installed: $bin, $exec_client, $([ "$with_front" = 1 ] && echo "$front (the native hook front), ")$hook ($([ "$always" = 1 ] && echo 'every container' || echo 'containers annotated io.agentcgroup.enable=true')), $unit, $policy"
  # The JSON and TOML edits are the binary's (tested TypeScript): a host needs neither node nor jq.
  if [ "$docker" = 1 ]; then
    "$bin" install-config docker add "$daemon_json"
    echo "docker: reload dockerd to pick it up (systemctl reload docker), then docker run --runtime agentcgroup ..."
  fi
  if [ "$containerd" = auto ]; then
    "$bin" install-config containerd register "${root:-/}"
  elif [ "$containerd" = file ]; then
    "$bin" install-config containerd add "$containerd_toml"
    case "$containerd_toml" in
      *.tmpl) echo "containerd: restart k3s or RKE2 to render it into config.toml (systemctl restart k3s, k3s-agent, rke2-server or rke2-agent), then use RuntimeClass agentcgroup (deploy/kubernetes/runtimeclass.yaml)" ;;
      *) echo "containerd: restart it to pick it up (systemctl restart containerd; running containers keep running), then use RuntimeClass agentcgroup (deploy/kubernetes/runtimeclass.yaml)" ;;
    esac
  fi
}

# Whether a file install-config containerd register may have written holds our block.
containerd_marked() {
  local d
  for d in "${containerd_dirs[@]}"; do
    if grep -qs '^# BEGIN agentcgroup' "$root/$d"/*.toml "$root/$d"/*.tmpl; then return 0; fi
  done
  return 1
}

# Engine configs name the shim; each edit needs the binary, so they are undone before it goes.
unregister_engines() {
  local need=()
  if [ -f "$daemon_json" ] && grep -q '"agentcgroup"' "$daemon_json"; then need+=(docker); fi
  if [ -n "$containerd_config" ] && [ -f "$containerd_toml" ] && grep -q '^# BEGIN agentcgroup' "$containerd_toml"; then need+=(containerd-config); fi
  if containerd_marked; then need+=(containerd); fi
  [ ${#need[@]} -gt 0 ] || return 0
  [ -x "$bin" ] || die "$bin is gone, so the agentcgroup runtime cannot be taken out of ${need[*]}'s config: reinstall, then uninstall"
  for engine in "${need[@]}"; do
    case "$engine" in
      docker) "$bin" install-config docker remove "$daemon_json" ;;
      containerd-config) "$bin" install-config containerd remove "$containerd_toml" ;;
      containerd) "$bin" install-config containerd unregister "${root:-/}" ;;
    esac
  done
}

uninstall_files() {
  if [ "$root" = "" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now agentcgroup.service 2>/dev/null || true
  fi
  unregister_engines
  if [ -L "$shim_link" ]; then rm -f "$shim_link"; fi
  rm -f "$hook" "$front" "$bin" "$unit" "$exec_client"
  rmdir "$(dirname "$exec_client")" 2>/dev/null || true
  if [ -e "$policy" ] && ! cmp -s "$policy" "$shipped_policy"; then
    echo "kept $policy: it differs from the shipped policy"
  else
    rm -f "$policy"
    rmdir "$(dirname "$policy")" 2>/dev/null || true
  fi
  echo "uninstalled from ${root:-/}"
}

run_demo() {
  setup_build
  local cli="$here/dist/agentcgroup"
  if "$cli" doctor >/dev/null 2>&1; then
    exec "$cli" demo
  fi
  echo "this host cannot run agentcgroup ($("$cli" doctor | sed -n 's/^verdict: //p')): running the demo in the test guest (Debian's 6.1 kernel under qemu)"
  (cd "$here" && bash test/vm/prepare.sh && AGENTCGROUP_VM_TIMEOUT=900 npm run -s vm -- 'node dist/agentcgroup.cjs demo')
}

case "$mode" in
  install) install_files ;;
  uninstall) uninstall_files ;;
  demo) run_demo ;;
esac
