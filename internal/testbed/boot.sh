#!/bin/sh
# boot.sh — boots a throwaway systemd as PID 1 of its own namespaces on a
# copy-on-write overlay of /. Written for, and run by, package testbed; see
# docs/testbed.md. It runs three times:
#
#   sh boot.sh outer   on the host: unshares the PID, mount, UTS, IPC and
#                      network namespaces and re-runs itself as
#   sh boot.sh join    PID 1 of the new PID namespace: joins the machine's own
#                      cgroups, unshares the cgroup namespace so they become
#                      its root, and re-runs itself as
#   sh boot.sh inner   which builds the machine's mount tree, reports
#                      "ready <host pid>" on fd 3, waits for "boot" on stdin
#                      and execs systemd in a chroot.
#
# Only the machine's init joins its cgroups; unshare stays outside them, so
# the inner systemd finds no process it cannot see in its root cgroup.
#
# Environment: LHSD_BASE (the machine's directory on the host), LHSD_NAME
# (hostname and $container), LHSD_MACHINE_ID, LHSD_LAYER_SIZE, LHSD_CONSOLE
# (the terminal to use as /dev/console).
# $LHSD_BASE/plan lists the cgroup hierarchies, one per line:
#   tmpfs <path>                                 a tmpfs to hold the hierarchies
#   cgroup <host dir> <fstype> <path> <options>  a hierarchy to join and mount
#   link <path> <target>                         a symlink such as cpu -> cpu,cpuacct
#   ro <path>                                    make the tmpfs read-only again
#
# Never boot systemd on the real root and never shut it down cleanly: its
# tmpfiles pass empties /tmp and its shutdown remounts / read-only. Every
# writable path below is either the overlay, a tmpfs of this mount namespace,
# or the machine's own cgroup subtree.
set -eu

base=$LHSD_BASE
m=$base/merged
plan=$base/plan

case ${1:-} in
outer)
	# --kill-child: if unshare dies (because the test binary died), the
	# machine's init gets SIGKILL and the whole PID namespace goes with it.
	exec unshare --pid --fork --kill-child=KILL --mount --propagation private \
		--uts --ipc --net /bin/sh "$0" join
	;;
join)
	while read -r kind dir _; do
		[ "$kind" = cgroup ] || continue
		echo $$ >"$dir/cgroup.procs"
	done <"$plan"
	exec unshare --cgroup /bin/sh "$0" inner
	;;
inner) ;;
*)
	echo "usage: boot.sh outer|join|inner" >&2
	exit 2
	;;
esac

# /proc is still the host's procfs here, so /proc/self names the host PID.
read -r hostpid _ </proc/self/stat

# The layers live on a tmpfs mounted inside this namespace: nothing of the
# machine's writes can reach the host's disk or outlive the namespace.
mount -t tmpfs -o "mode=0700,size=$LHSD_LAYER_SIZE" lhsd-layers "$base/layers"
mkdir "$base/layers/upper" "$base/layers/work"
mount -t overlay -o "lowerdir=/,upperdir=$base/layers/upper,workdir=$base/layers/work" lhsd-root "$m"

mount -t proc -o nosuid,nodev,noexec proc "$m/proc"
# Read-only, as in systemd-nspawn: the machine must not set the host kernel's
# sysctls (systemd-sysctl) nor poke sysrq.
for p in sys sysrq-trigger; do
	[ -e "$m/proc/$p" ] || continue
	mount --bind "$m/proc/$p" "$m/proc/$p"
	mount -o remount,bind,ro,nosuid,nodev,noexec "$m/proc/$p"
done

# A fresh read-only sysfs: no udev in the machine, no writes to host devices.
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$m/sys"
while read -r kind a b c d; do
	case $kind in
	tmpfs) mount -t tmpfs -o nosuid,nodev,noexec,mode=0755,size=1m lhsd-cgroup "$m$a" ;;
	cgroup)
		# Mounted inside the cgroup namespace, each hierarchy's root is the
		# machine's own cgroup, so the inner systemd cannot see or touch
		# anything above it.
		mkdir -p "$m$c"
		if [ "$b" = cgroup2 ]; then
			mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$m$c"
		else
			mount -t cgroup -o "nosuid,nodev,noexec,$d" cgroup "$m$c"
		fi
		;;
	link) ln -s "$b" "$m$a" ;;
	ro) mount -o remount,ro,nosuid,nodev,noexec lhsd-cgroup "$m$a" ;;
	esac
done <"$plan"

# A private /dev, as in systemd-nspawn: the host's console and ttys stay out
# of a getty's reach and its /dev/kmsg out of journald's.
mount -t tmpfs -o nosuid,mode=0755,size=1m lhsd-dev "$m/dev"
for n in null zero full random urandom tty; do
	: >"$m/dev/$n"
	mount --bind "/dev/$n" "$m/dev/$n"
done
mkdir "$m/dev/pts" "$m/dev/shm"
ttygid=$(getent group tty | cut -d: -f3) || ttygid=5
mount -t devpts -o "newinstance,ptmxmode=0666,mode=0620,gid=${ttygid:-5},nosuid,noexec" devpts "$m/dev/pts"
ln -s pts/ptmx "$m/dev/ptmx"
mount -t tmpfs -o nosuid,nodev,mode=1777 lhsd-shm "$m/dev/shm"
# The console is a terminal the harness copies into boot.log. No getty on it.
: >"$m/dev/console"
mount --bind "$LHSD_CONSOLE" "$m/dev/console"
ln -sf /dev/null "$m/etc/systemd/system/console-getty.service"
ln -s /proc/self/fd "$m/dev/fd"
ln -s /proc/self/fd/0 "$m/dev/stdin"
ln -s /proc/self/fd/1 "$m/dev/stdout"
ln -s /proc/self/fd/2 "$m/dev/stderr"

# systemd's boot-time tmpfiles pass empties these: they must never be the
# host's directories.
mount -t tmpfs -o nosuid,nodev,mode=0755 lhsd-run "$m/run"
mount -t tmpfs -o nosuid,nodev,mode=1777 lhsd-tmp "$m/tmp"
mount -t tmpfs -o nosuid,nodev,mode=1777 lhsd-var-tmp "$m/var/tmp"

hostname "$LHSD_NAME"
printf '%s\n' "$LHSD_NAME" >"$m/etc/hostname"
printf '%s\n' "$LHSD_MACHINE_ID" >"$m/etc/machine-id"

echo "ready $hostpid" >&3
exec 3>&-
read -r go
[ "$go" = boot ] || exit 1
exec </dev/null

# The bounding set loses what only the host's own init should use: kernel
# modules, the clock, raw I/O, the kernel log, process accounting.
exec /usr/bin/env -i container="$LHSD_NAME" \
	/usr/bin/setpriv --bounding-set=-sys_module,-sys_time,-sys_rawio,-syslog,-sys_pacct,-sys_tty_config,-wake_alarm,-block_suspend,-mac_admin,-mac_override \
	/usr/sbin/chroot "$m" /lib/systemd/systemd --show-status=yes
