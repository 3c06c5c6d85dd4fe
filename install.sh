#!/usr/bin/env bash
# agentcgroup installer. Idempotent; every path it writes is under --root (default /), so tests run it
# against a throwaway directory.
#
#   bash install.sh [--root DIR] [--binary PATH]   install the binary, the in-container exec client and
#                                                  the native fronts it carries (agentcgroup-hook, and
#                                                  agentcgroup-runtime, the shim engines run), hooks.d
#                                                  JSON, policy, systemd unit
#     --dry-run      print what would be written, replaced or removed (engine configs as a diff) and change nothing
#     --always       the hooks.d JSON for every container, not only those annotated io.agentcgroup.enable=true
#     --hooks-dir DIR   the hooks.d JSON in DIR (a path on the host, under --root); by default
#                    /usr/share/containers/oci/hooks.d, or /etc/containers/oci/hooks.d (oci-hooks(5)'s
#                    admin directory) where /usr is read-only (Fedora CoreOS, RHCOS, Flatcar, Talos)
#     --docker       also register the runtime shim in /etc/docker/daemon.json ("runtimes": "agentcgroup")
#     --docker-config FILE   the same in FILE instead (a path on the host, under --root)
#     --containerd   also add the shim as CRI runtime "agentcgroup" where this node's containerd reads it:
#                    config.toml, a conf.d drop-in, k3s/RKE2's template, k0s's drop-in (the node shapes
#                    of deploy/kubernetes/README.md), and say what to restart
#     --containerd-config FILE   the same in FILE instead (a path on the host, under --root): another
#                    containerd's config.toml, or a k3s/RKE2 template *.tmpl (made if missing)
#     --config FILE  --docker-config FILE for *.json, --containerd-config FILE for *.toml and *.tmpl
#   bash install.sh --uninstall [--root DIR] [--dry-run] [--config FILE ...] [--hooks-dir DIR]
#                                                  remove what install put there, in every engine config
#                                                  too (a modified policy stays)
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

docker_config=""
hooks_dir_opt=""
dry=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --uninstall) mode=uninstall; shift ;;
    --demo) mode=demo; shift ;;
    --always) always=1; shift ;;
    --dry-run) dry=1; shift ;;
    --hooks-dir) hooks_dir_opt=${2:?--hooks-dir needs a directory}; shift 2 ;;
    --docker) docker=1; shift ;;
    --docker-config) docker=1; docker_config=${2:?--docker-config needs a file}; shift 2 ;;
    --containerd) containerd=auto; shift ;;
    --containerd-config) containerd=file; containerd_config=${2:?--containerd-config needs a file}; shift 2 ;;
    --config)
      case "${2:?--config needs a file}" in
        *.json) docker=1; docker_config=$2 ;;
        *.toml | *.tmpl) containerd=file; containerd_config=$2 ;;
        *) die "--config $2: a docker daemon.json (*.json) or a containerd config.toml or k3s/RKE2 template (*.toml, *.tmpl); for another name use --docker-config or --containerd-config" ;;
      esac
      shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

case "$root" in /*) ;; *) die "--root must be an absolute path, got $root" ;; esac
for opt in "--containerd-config:$containerd_config" "--docker-config:$docker_config" "--hooks-dir:$hooks_dir_opt"; do
  case "${opt#*:}" in /* | "") ;; *) die "${opt%%:*} must be an absolute path, got ${opt#*:}" ;; esac
done
root=${root%/}

bin="$root/usr/local/bin/agentcgroup"
# The native hook front (src/hook/native/): hooks.d runs it in place of the binary; it asks the daemon,
# else execs the binary. The runtime shim and the daemon find it beside the binary.
front="$root/usr/local/bin/agentcgroup-hook"
# oci-hooks(5): the packaged directory, and the admin's, which podman always reads and CRI-O reads
# where its hooks_dir lists it (its default names only the packaged one). The admin's where /usr cannot be written.
usr_hooks_dir="$root/usr/share/containers/oci/hooks.d"
etc_hooks_dir="$root/etc/containers/oci/hooks.d"
policy="$root/etc/agentcgroup/policy.yaml"
unit="$root/etc/systemd/system/agentcgroup.service"
# The runtime shim as engines run it (Docker's runtime path, containerd's BinaryName: no arguments):
# the native runtime front, or a link by whose name the binary behaves as `agentcgroup runtime`.
shim_link="$root/usr/local/bin/agentcgroup-runtime"
# The in-container exec client (policy paths.exec_client): bind-mounted read-only into containers.
exec_client="$root/usr/local/lib/agentcgroup/agentcgroup-exec"
daemon_json="$root${docker_config:-/etc/docker/daemon.json}"
containerd_toml="$root$containerd_config"
# Where install-config containerd register may write (src/runtime/nodeshape.ts PLACES; a unit test
# keeps the two in step): looked into on uninstall without the binary, which may be gone.
containerd_dirs=(etc/containerd etc/containerd/conf.d etc/k0s etc/k0s/containerd.d var/lib/rancher/k3s/agent/etc/containerd var/lib/rancher/rke2/agent/etc/containerd)
shipped_policy="$here/config/policy.yaml"

# Whether DIR could be made or written: its nearest existing directory is writable. access(2) says no
# on a read-only mount even to root (EROFS), as on an image-based host's /usr.
can_write() {
  local d=$1
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  [ -d "$d" ] && [ -w "$d" ]
}

if [ -n "$hooks_dir_opt" ]; then
  hooks_dir="$root$hooks_dir_opt"
elif can_write "$usr_hooks_dir"; then
  hooks_dir=$usr_hooks_dir
else
  hooks_dir=$etc_hooks_dir
fi
hook="$hooks_dir/agentcgroup.json"

# --dry-run: each change said as "would ...", none made.
say_or() {
  local what=$1; shift
  if [ "$dry" = 1 ]; then echo "would $what"; else "$@"; fi
}
# What a file put() would write does to DEST, for --dry-run.
put_effect() {
  if [ ! -e "$2" ]; then echo "write $2 (new, mode $1)"
  elif cmp -s "$3" "$2"; then echo "leave $2 (unchanged)"
  else echo "replace $2 (mode $1)"; fi
}

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
  if [ "$dry" = 1 ]; then echo "would apt-get install libbpf1 (libbpf.so.1, for the daemon's eBPF tracker)"; return 0; fi
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
  if [ "$dry" = 1 ]; then echo "would $(put_effect "$mode" "$dest" "$src")"; return 0; fi
  dir=$(dirname "$dest")
  [ -d "$dir" ] || install -d -m 0755 "$dir"
  tmp=$(mktemp "$dir/.$(basename "$dest").XXXXXXXX")
  if install -m "$mode" "$src" "$tmp" && mv -fT "$tmp" "$dest"; then return 0; fi
  rm -f "$tmp"
  die "cannot install $dest"
}

# A front the binary carries (COMMAND: hook-front, runtime-front), written out and put at DEST; false
# when the binary has none (an older build, or one that cannot run here).
install_front() {
  local command=$1 dest=$2 tmp ok=1
  tmp=$(mktemp -d)
  if "$binary" "$command" "$tmp/front" >/dev/null 2>&1 && [ -s "$tmp/front" ]; then
    put 0755 "$tmp/front" "$dest"
    ok=0
  fi
  rm -rf "$tmp"
  return $ok
}

# Where the hooks.d JSON went, when that is not the packaged directory, and what would shadow it.
hooks_dir_notes() {
  local rel=${hooks_dir#"$root"} f
  if [ "$hooks_dir" = "$etc_hooks_dir" ] && [ -z "$hooks_dir_opt" ]; then
    echo "hooks.d: ${usr_hooks_dir#"$root"} cannot be written here (read-only /usr): the hook goes to the admin directory $rel"
  fi
  # oci-hooks(5): a file of the same name in the admin directory overrides the packaged one.
  if [ "$hooks_dir" != "$etc_hooks_dir" ] && [ -e "$etc_hooks_dir/agentcgroup.json" ]; then
    echo "warning: $etc_hooks_dir/agentcgroup.json is there too and overrides $hook (oci-hooks(5)): remove it, or install with --hooks-dir ${etc_hooks_dir#"$root"}" >&2
  fi
  # CRI-O reads only the directories its hooks_dir names (by default the packaged one).
  if [ "$hooks_dir" != "$usr_hooks_dir" ] && [ -d "$root/etc/crio" ]; then
    for f in "$root/etc/crio/crio.conf" "$root/etc/crio/crio.conf.d"/*; do
      if grep -qs -- "$rel" "$f"; then return 0; fi
    done
    echo "warning: CRI-O reads hooks from its hooks_dir only (by default /usr/share/containers/oci/hooks.d): add $rel to hooks_dir in /etc/crio/crio.conf.d to have CRI-O run the hook" >&2
  fi
  return 0
}

install_files() {
  if [ -z "$binary" ]; then
    binary="$here/dist/agentcgroup"
    [ -x "$binary" ] || die "no binary at $binary: build it with npm run build:binary (or pass --binary PATH)"
  fi
  [ -x "$binary" ] || die "--binary $binary is not an executable file"
  install_runtime_library
  put 0755 "$binary" "$bin"
  # Docker's runtime path and containerd's BinaryName (install-config registers both) run this name,
  # without arguments: the native runtime front (src/runtime/native/), which runs the real runtime
  # itself for every verb but create and run; without one, a link by which the binary is the shim.
  if ! install_front runtime-front "$shim_link"; then
    say_or "link $shim_link -> agentcgroup" ln -sfn agentcgroup "$shim_link"
  fi
  # Written by the binary, which carries it (0755, by rename: a container that has the old one mounted
  # keeps it). One that cannot (a build without it) only leaves containers without the client.
  local out
  if [ "$dry" = 1 ]; then
    echo "would write $exec_client (the in-container exec client, from the binary)"
  elif ! out=$("$bin" install-exec-client "$exec_client" 2>&1) || [ ! -f "$exec_client" ]; then
    echo "warning: the in-container exec client was not installed (${out:-the binary wrote nothing}): containers get no /run/agentcgroup/agentcgroup-exec" >&2
  fi
  local src="$here/hooks/agentcgroup.json" with_front=1
  [ "$always" = 1 ] && src="$here/hooks/always/agentcgroup.json"
  if install_front hook-front "$front"; then
    put 0644 "$src" "$hook"
  else
    # No front: hooks.d runs the binary itself (the front is taken away only once nothing names it).
    with_front=0
    local json
    json=$(mktemp)
    sed 's#"/usr/local/bin/agentcgroup-hook"#"/usr/local/bin/agentcgroup"#' "$src" >"$json"
    put 0644 "$json" "$hook"
    rm -f "$json"
    remove "$front"
  fi
  hooks_dir_notes
  put 0644 "$here/config/systemd/agentcgroup.service" "$unit"
  # The operator's policy is theirs: installed once, never overwritten.
  if [ ! -e "$policy" ]; then put 0644 "$shipped_policy" "$policy"; elif [ "$dry" = 1 ]; then echo "would leave $policy (the operator's)"; fi
  if [ "$root" = "" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    say_or "systemctl daemon-reload && systemctl enable --now agentcgroup.service" systemctl daemon-reload
    [ "$dry" = 1 ] || systemctl enable --now agentcgroup.service
  fi
  [ "$dry" = 1 ] || echo "installed: $bin, $shim_link, $exec_client, $([ "$with_front" = 1 ] && echo "$front (the native hook front), ")$hook ($([ "$always" = 1 ] && echo 'every container' || echo 'containers annotated io.agentcgroup.enable=true')), $unit, $policy"
  # The JSON and TOML edits are the binary's (tested TypeScript): a host needs neither node nor jq.
  # A dry run asks the binary to be installed, which says what it would change without changing it.
  local tool=$bin dry_flag=()
  if [ "$dry" = 1 ]; then tool=$binary; dry_flag=(--dry-run); fi
  if [ "$docker" = 1 ]; then
    "$tool" install-config docker add "$daemon_json" "${dry_flag[@]}"
    echo "docker: reload dockerd to pick it up (systemctl reload docker), then docker run --runtime agentcgroup ..."
  fi
  if [ "$containerd" = auto ]; then
    "$tool" install-config containerd register "${root:-/}" "${dry_flag[@]}"
  elif [ "$containerd" = file ]; then
    "$tool" install-config containerd add "$containerd_toml" "${dry_flag[@]}"
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
  local dry_flag=()
  [ "$dry" = 1 ] && dry_flag=(--dry-run)
  for engine in "${need[@]}"; do
    case "$engine" in
      docker) "$bin" install-config docker remove "$daemon_json" "${dry_flag[@]}" ;;
      containerd-config) "$bin" install-config containerd remove "$containerd_toml" "${dry_flag[@]}" ;;
      containerd) "$bin" install-config containerd unregister "${root:-/}" "${dry_flag[@]}" ;;
    esac
  done
}

# Removes each FILE that is there (nothing is asked of a read-only /usr that holds none of ours).
remove() {
  local f
  for f; do
    if [ -e "$f" ] || [ -L "$f" ]; then say_or "remove $f" rm -f "$f"; fi
  done
}

uninstall_files() {
  if [ "$root" = "" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    say_or "systemctl disable --now agentcgroup.service" systemctl disable --now agentcgroup.service 2>/dev/null || true
  fi
  unregister_engines
  # The hook wherever an install may have put it: either oci-hooks(5) directory, or --hooks-dir.
  remove "$bin" "$shim_link" "$front" "$usr_hooks_dir/agentcgroup.json" "$etc_hooks_dir/agentcgroup.json" "$hook" "$unit" "$exec_client"
  [ "$dry" = 1 ] || rmdir "$(dirname "$exec_client")" 2>/dev/null || true
  if [ -e "$policy" ] && ! cmp -s "$policy" "$shipped_policy"; then
    echo "kept $policy: it differs from the shipped policy"
  else
    remove "$policy"
    [ "$dry" = 1 ] || rmdir "$(dirname "$policy")" 2>/dev/null || true
  fi
  if [ "$dry" = 1 ]; then echo "dry run: nothing changed"; else echo "uninstalled from ${root:-/}"; fi
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
  install) install_files; if [ "$dry" = 1 ]; then echo "dry run: nothing changed"; fi ;;
  uninstall) uninstall_files ;;
  demo) run_demo ;;
esac
