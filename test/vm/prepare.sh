#!/usr/bin/env bash
# Prepares, once, a test guest: a Debian kernel (the one behind the linux-image-amd64 metapackage), its
# payload decompressed so qemu boots it in ~3 s instead of ~7 s, its full module tree (mounted over
# /lib/modules inside the guest, so modprobe works there), and a busybox initramfs.
# Everything lands in a cache directory outside the checkout; a second run is a no-op.
#
# AGENTCGROUP_VM_KERNEL picks the kernel:
#   unset or "host"  the kernel of the host's own apt sources (6.1 on Debian 12), cached in
#                    /var/cache/agentcgroup-vm;
#   a Debian suite   ("sid": 7.2 as of late 2026) from the same mirror through apt directories of its own
#                    under the cache (the host's apt setup is not touched), cached in
#                    /var/cache/agentcgroup-vm-SUITE.
# AGENTCGROUP_VM_CACHE moves the cache directory (a suite's is that path with -SUITE appended);
# test/vm/guest.ts finds it by the same rule.
set -euo pipefail

kernel=${AGENTCGROUP_VM_KERNEL:-host}
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "vm prepare: $*" >&2; exit 1; }

case "$kernel" in
  host) cache=${AGENTCGROUP_VM_CACHE:-/var/cache/agentcgroup-vm} ;;
  [a-z]*) [[ "$kernel" =~ ^[a-z][a-z0-9-]*$ ]] || die "AGENTCGROUP_VM_KERNEL=$kernel is neither host nor a suite name"
    cache=${AGENTCGROUP_VM_CACHE:-/var/cache/agentcgroup-vm}-$kernel ;;
  *) die "AGENTCGROUP_VM_KERNEL=$kernel is neither host nor a suite name" ;;
esac

for tool in apt-cache apt-get dpkg-deb depmod cpio gzip xz qemu-system-x86_64; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install qemu-system-x86 busybox-static cpio kmod xz-utils zstd)"
done
[ -x /bin/busybox ] && file_is_static=$(ldd /bin/busybox 2>&1 | grep -c 'not a dynamic' || true)
[ "${file_is_static:-0}" = 1 ] || die "/bin/busybox is not the static build (apt-get install busybox-static)"

# apt for the chosen suite: the host's own, or one that reads only a sources file and lists of its own.
apt_opts=()
if [ "$kernel" != host ]; then
  aptdir=$cache/apt
  apt_opts=(-o "Dir::Etc::SourceList=$aptdir/$kernel.sources" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache")
  if [ ! -f "$aptdir/$kernel.sources" ]; then
    # The same Debian mirror the host uses (its main suite, not -security or -updates).
    mirror=${AGENTCGROUP_VM_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null |
      awk '$2 !~ /-/ && $3 == "main" { print $1; exit }')}
    [ -n "$mirror" ] || die "no Debian mirror among the host's apt sources (run apt-get update, or set AGENTCGROUP_VM_MIRROR)"
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$kernel" > "$aptdir/$kernel.sources"
  fi
fi
apt_update() { apt-get "${apt_opts[@]}" update -q >/dev/null || die "apt-get update for $kernel failed"; }

# linux-image-amd64 -> linux-image-ABI. Up to Debian 12 that package holds the kernel and its modules;
# later ones split it into linux-base-ABI (modules.builtin, config), linux-binary-ABI (the kernel; we
# take the unsigned build) and linux-modules-ABI.
image_pkg() { apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
resolve() {
  pkg=$(image_pkg)
  [ -n "$pkg" ] || return 1
  abi=${pkg#linux-image-}
  if apt-cache "${apt_opts[@]}" depends "$pkg" 2>/dev/null | awk '$1 == "Depends:" { print $2 }' | tr -d '<>' |
    grep -Fqx "linux-binary-$abi"; then
    pkgs=("linux-base-$abi" "linux-binary-unsigned-$abi" "linux-modules-$abi")
  else
    pkgs=("$pkg")
  fi
}
resolve || { apt_update; resolve; } || die "apt-cache cannot resolve linux-image-amd64 in $kernel to an image package"

# The stamp covers the packages and this script with the init it writes: change either and the guest is rebuilt.
stamp="${pkgs[*]} $(cat "$0" "$here/init.sh" | sha256sum | cut -c1-16)"
# Another suite's guest also gets that suite's engines (engines.sh), kept under a stamp of their own.
if [ "$kernel" != host ]; then . "$here/engines.sh"; fi
finish() { if [ "$kernel" != host ]; then prepare_engines; fi; exit 0; }
if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$stamp" ]; then
  echo "vm prepare: cached in $cache (${pkgs[*]})"; finish
fi

work=$(mktemp -d /var/tmp/agentcgroup-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "vm prepare: fetching ${pkgs[*]}"
# apt's _apt user cannot write into a root-only mktemp dir; the download itself is verified by apt.
chmod 755 "$work"
download() { apt-get "${apt_opts[@]}" download -q "${pkgs[@]}" >/dev/null 2>apt.err; }
if ! download; then
  # Lists older than the mirror name packages it no longer has: refresh them once and resolve again.
  apt_update
  resolve || die "apt-cache cannot resolve linux-image-amd64 in $kernel to an image package"
  download || { cat apt.err >&2; die "apt-get download ${pkgs[*]} failed"; }
  stamp="${pkgs[*]} ${stamp##* }"
fi
for deb in ./*.deb; do dpkg-deb -x "$deb" root; done

# Debian 12 packages use /lib/modules and /boot, later ones /usr/lib/modules with the kernel inside.
# The tree goes to tree/lib/modules/VER, where depmod -b (kmod 30) and the guest's modprobe -d look.
for d in root/lib/modules root/usr/lib/modules; do [ -d "$d" ] && ver=$(ls "$d") && src="$d/$ver" && break; done
[ -n "${ver:-}" ] || die "no module tree in ${pkgs[*]}"
mkdir -p tree/lib/modules
mv "$src" "tree/lib/modules/$ver"
moddir="tree/lib/modules/$ver"
image=
for f in "root/boot/vmlinuz-$ver" "$moddir/vmlinuz" "$moddir/vmlinuz.unsigned"; do [ -f "$f" ] && image=$f && break; done
[ -n "$image" ] || die "no kernel image in ${pkgs[*]}"
mv "$image" vmlinuz
[ -f "root/boot/config-$ver" ] && cp "root/boot/config-$ver" "$moddir/config"
depmod -b tree "$ver"

# A bzImage carries its compressed payload where its header says (boot protocol 2.08+: payload_offset
# at 0x248 and payload_length at 0x24c, counted from the protected-mode code after the setup sectors);
# the payload ends with the decompressed size (4 bytes, little endian). Decompress it once here, so the
# guest skips ~4 s of emulated xz, and boot the ELF vmlinux it holds (qemu enters it through PVH).
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
[ "$(od -An -c -j $((0x202)) -N4 vmlinuz | tr -d ' ')" = HdrS ] || die "vmlinuz-$ver is not a bzImage"
setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 vmlinuz | tr -d ' ')
[ "$setup_sects" = 0 ] && setup_sects=4
start=$(( (setup_sects + 1) * 512 + $(u32 vmlinuz $((0x248))) ))
len=$(u32 vmlinuz $((0x24c)))
case "$(od -An -tx1 -j "$start" -N4 vmlinuz | tr -d ' ')" in
  fd377a58) decompress=(xz -dc --single-stream) ;;
  28b52ffd) decompress=(zstd -dcq); command -v zstd >/dev/null || die "missing zstd (apt-get install zstd)" ;;
  *) die "vmlinuz-$ver has a payload this script does not decompress (only xz and zstd)" ;;
esac
dd if=vmlinuz bs=1M iflag=skip_bytes,count_bytes skip="$start" count=$((len - 4)) status=none | "${decompress[@]}" > vmlinux || die "cannot decompress vmlinuz-$ver"
[ "$(stat -c %s vmlinux)" = "$(u32 vmlinuz $((start + len - 4)))" ] || die "decompressed payload of vmlinuz-$ver has the wrong size"
head -c 4 vmlinux | grep -q 'ELF' || die "decompressed payload is not an ELF vmlinux"

# Modules needed before the root share is mounted, in load order (dependencies first), unless built in.
declare -A seen=()
order=()
add() {
  local m=$1 d
  [ -n "${seen[$m]:-}" ] && return
  seen[$m]=1
  for d in $(awk -v m="$m:" '$1 == m { for (i = NF; i > 1; i--) print $i }' "$moddir/modules.dep"); do add "$d"; done
  order+=("$m")
}
# overlay: the engines of another suite are laid over /usr before the root is switched (init.sh).
for name in virtio_pci 9pnet_virtio 9p overlay; do
  grep -Eq "/$name\.ko\$" "$moddir/modules.builtin" && continue
  m=$(grep -Eo "^[^:]*/$name\.ko(\.(xz|zst|gz))?:" "$moddir/modules.dep" | head -1 | tr -d :)
  [ -n "$m" ] || die "module $name neither built in nor in ${pkgs[*]}"
  add "$m"
done

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/mnt/root initrd/mods
cp /bin/busybox initrd/bin/busybox
: > initrd/mods/order
# busybox insmod takes plain .ko files: compressed ones are unpacked into the initramfs.
for m in "${order[@]}"; do
  ko=$(basename "$m"); ko=${ko%.ko*}.ko
  case "$m" in
    *.ko) cp "$moddir/$m" "initrd/mods/$ko" ;;
    *.xz) xz -dc "$moddir/$m" > "initrd/mods/$ko" ;;
    *.zst) zstd -dcq "$moddir/$m" > "initrd/mods/$ko" ;;
    *.gz) gzip -dc "$moddir/$m" > "initrd/mods/$ko" ;;
  esac
  echo "$ko" >> initrd/mods/order
done
cp "$here/init.sh" initrd/init
chmod 755 initrd/init
(cd initrd && find . | cpio -o -H newc --quiet | gzip -1) > initrd.gz

mkdir -p "$cache"
rm -rf "$cache/modules" "$cache/vmlinux" "$cache/initrd.gz"
mv vmlinux initrd.gz "$cache/"
mkdir -p "$cache/modules"
mv "$moddir" "$cache/modules/$ver"
echo "$ver" > "$cache/kernel-version"
echo "$stamp" > "$cache/stamp"
echo "vm prepare: ready in $cache (kernel $ver)"
finish
