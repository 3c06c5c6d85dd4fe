#!/usr/bin/env bash
# Prepares, once, the test guest: Debian's kernel image package (the one behind the linux-image-amd64
# metapackage), its payload decompressed so qemu boots it in ~3 s instead of ~7 s, its full module tree
# (mounted over /lib/modules inside the guest, so modprobe works there), and a busybox initramfs.
# Everything lands in a cache directory outside the checkout; a second run is a no-op.
set -euo pipefail

cache=${AGENTCGROUP_VM_CACHE:-/var/cache/agentcgroup-vm}
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "vm prepare: $*" >&2; exit 1; }

for tool in apt-cache apt-get dpkg-deb depmod cpio gzip xz qemu-system-x86_64; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install qemu-system-x86 busybox-static cpio kmod xz-utils)"
done
[ -x /bin/busybox ] && file_is_static=$(ldd /bin/busybox 2>&1 | grep -c 'not a dynamic' || true)
[ "${file_is_static:-0}" = 1 ] || die "/bin/busybox is not the static build (apt-get install busybox-static)"

image_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
pkg=$(image_pkg)
if [ -z "$pkg" ]; then apt-get update -q >/dev/null; pkg=$(image_pkg); fi
[ -n "$pkg" ] || die "apt-cache cannot resolve linux-image-amd64 to an image package"

# The stamp covers the package and this script with the init it writes: change either and the guest is rebuilt.
stamp="$pkg $(cat "$0" "$here/init.sh" | sha256sum | cut -c1-16)"
if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$stamp" ]; then
  echo "vm prepare: cached in $cache ($pkg)"; exit 0
fi

work=$(mktemp -d /var/tmp/agentcgroup-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "vm prepare: fetching $pkg"
# apt's _apt user cannot write into a root-only mktemp dir; the download itself is verified by apt.
chmod 755 "$work"
apt-get download -q "$pkg" >/dev/null 2>apt.err || { cat apt.err >&2; die "apt-get download $pkg failed"; }
dpkg-deb -x ./*.deb root
ver=$(ls root/lib/modules)
[ -n "$ver" ] && [ -f "root/boot/vmlinuz-$ver" ] || die "unexpected layout in $pkg"
depmod -b root "$ver"

# bzImage wraps an xz stream: find its magic and decompress it once, so the guest skips ~4 s of emulated xz.
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "root/boot/vmlinuz-$ver" | head -1 | cut -d: -f1)
[ -n "$off" ] || die "no xz payload in vmlinuz-$ver"
tail -c +$((off + 1)) "root/boot/vmlinuz-$ver" | xz -dc --single-stream > vmlinux 2>/dev/null || true
head -c 4 vmlinux | grep -q 'ELF' || die "decompressed payload is not an ELF vmlinux"

# Modules needed before the root share is mounted, in load order (dependencies first).
moddir="root/lib/modules/$ver"
declare -A seen=()
order=()
add() {
  local m=$1 d
  [ -n "${seen[$m]:-}" ] && return
  seen[$m]=1
  for d in $(awk -v m="$m:" '$1 == m { for (i = NF; i > 1; i--) print $i }' "$moddir/modules.dep"); do add "$d"; done
  order+=("$m")
}
for m in kernel/drivers/virtio/virtio_pci.ko kernel/net/9p/9pnet_virtio.ko kernel/fs/9p/9p.ko; do
  grep -q "^$m:" "$moddir/modules.dep" || die "module $m not in $pkg"
  add "$m"
done

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/mnt/root initrd/mods
cp /bin/busybox initrd/bin/busybox
: > initrd/mods/order
for m in "${order[@]}"; do
  cp "$moddir/$m" initrd/mods/
  basename "$m" >> initrd/mods/order
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
