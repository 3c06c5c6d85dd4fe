#!/bin/busybox sh
# PID 1 of the test guest. Mounts the host's root read-only, the checkout and the exchange directory
# writable at their host paths, a fresh cgroup2 tree, then runs $xfer/cmd chrooted into the host root
# and writes its stdout, stderr and exit code back through the exchange share. Then powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    agentcg.xfer=*) xfer=${arg#*=} ;;
    agentcg.work=*) work=${arg#*=} ;;
    agentcg.engines=1) engines=1 ;;
  esac
done

fail() { echo "guest init: $*"; echo "guest init: $*" > /dev/ttyS0; reboot -f; sleep 5; }

for m in $(cat /mods/order); do insmod "/mods/$m" || fail "insmod $m"; done

r=/mnt/root
# cache=loose: the guest keeps what it read in its page cache. With the default (none) every exec read its
# binary anew through 9p under emulation: node -e 0 took 8 s, the 104 MB single binary 15-21 s, python3
# 7 s; loose, 1 s, 2 s and 1 s. Nothing on the host changes these shares while the guest runs (the
# checkout is not rebuilt under a guest), and stage2 syncs the guest's writes before power-off. The
# exchange share stays uncached: the host watches the results appear there while the guest runs.
p9='trans=virtio,version=9p2000.L,msize=262144'
mount -t 9p -o "$p9,ro,cache=loose" hostroot $r || fail "cannot mount the host root share"
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $r/sys/fs/cgroup || fail "cannot mount cgroup2"
mount -t bpf bpf $r/sys/fs/bpf 2>/dev/null
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null
mkdir -p /dev/shm /dev/pts
mount -o bind /dev $r/dev
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts 2>/dev/null
mount -t tmpfs tmpfs $r/dev/shm
for d in /tmp /run /var/tmp /var/lib/containers /var/cache /root; do
  [ -d "$r$d" ] && mount -t tmpfs -o mode=0755 tmpfs "$r$d"
done
chmod 1777 $r/tmp $r/var/tmp
# The host root has no /lib/modules for this kernel and is read-only: the module tree lives under /run,
# and tests load modules with `modprobe -d $AGENTCGROUP_VM_MODROOT NAME`.
modroot=/run/agentcgroup-vm
mkdir -p "$r$modroot/lib/modules"
mount -t 9p -o "$p9,ro,cache=loose" modules "$r$modroot/lib/modules" || fail "cannot mount the module share"
# Another suite's engines (prepare.sh, engines.sh) replace the host's inside this guest only: their /usr
# tree lies over the host's, so every standard path (/usr/bin/crun, /usr/sbin/dockerd) is theirs.
if [ "${engines:-0}" = 1 ]; then
  mkdir -p "$r$modroot/engines"
  mount -t 9p -o "$p9,ro,cache=loose" engines "$r$modroot/engines" || fail "cannot mount the engines share"
  mount -t overlay -o "lowerdir=$r$modroot/engines/usr:$r/usr" overlay "$r/usr" || fail "cannot lay the engines over /usr"
fi
# The checkout may sit under a directory replaced by tmpfs above (/tmp, /root): recreate its path.
mkdir -p "$r$work"
mount -t 9p -o "$p9,cache=loose" work "$r$work" || fail "cannot mount the work share at $work"
mkdir -p "$r$xfer"
mount -t 9p -o "$p9" xfer "$r$xfer" || fail "cannot mount the exchange share at $xfer"

# switch_root, not chroot: the host root must become the root of the mount namespace, or container
# runtimes' pivot_root lands their containers in this initramfs instead of their own rootfs.
cp /bin/busybox "$r$modroot/busybox"
cat > "$r$modroot/stage2" <<EOF
cd "$work" || exit 1
/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
  HOME=/root TMPDIR=/tmp AGENTCGROUP_IN_GUEST=1 AGENTCGROUP_VM_MODROOT=$modroot \\
  /bin/sh "$xfer/cmd" >"$xfer/stdout" 2>"$xfer/stderr"
echo \$? > "$xfer/rc"
sync
echo b > /proc/sysrq-trigger
EOF
echo "guest init: running" > /dev/ttyS0
exec switch_root $r $modroot/busybox sh $modroot/stage2
