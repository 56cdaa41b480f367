# shellcheck shell=sh
# Guest-side helpers (busybox sh; sourced by the guest half of each test).
#
# Disks are found by their SCSI address rather than by sdX letter: the
# kernel probes LUNs asynchronously, so sda is not reliably LUN 0.

G_FAILS=0

# One line per failed check; the host shows these lines on failure.
g_fail() {
	echo "VUS-CHECK-FAIL: $*"
	G_FAILS=$((G_FAILS + 1))
}
g_ok() { echo "ok: $*"; }
# Values the host half reads back from the serial log.
g_kv() { echo "VUS-KV: $1=$2"; }

# g_check DESCRIPTION COMMAND...: run the command, record the result.
g_check() {
	desc=$1
	shift
	if "$@"; then g_ok "$desc"; else g_fail "$desc"; fi
}

# g_expect_eq DESCRIPTION GOT WANT
g_expect_eq() {
	if [ "$2" = "$3" ]; then
		g_ok "$1 = $3"
	else
		g_fail "$1: got '$2', want '$3'"
	fi
}

# g_roundtrip LUN DESCRIPTION: write 4 MiB of random data to the LUN's disk
# with O_DIRECT, read it back and compare checksums.
g_roundtrip() {
	local sd want got
	sd=$(g_disk_of_lun "$1") || { g_fail "no disk for LUN $1"; return; }
	dd if=/dev/urandom of=/tmp/p bs=64k count=64 2>/dev/null
	dd if=/tmp/p of="$sd" bs=64k oflag=direct 2>/dev/null || g_fail "write LUN $1"
	want=$(sha256sum </tmp/p)
	got=$(dd if="$sd" bs=64k count=64 iflag=direct 2>/dev/null | sha256sum)
	g_expect_eq "$2" "$got" "$want"
}

# g_grep DESCRIPTION PATTERN FILE: extended regexp must match the file.
g_grep() {
	if grep -q -E "$2" "$3"; then
		g_ok "$1"
	else
		g_fail "$1 (no /$2/ in $3)"
		sed 's/^/    | /' "$3"
	fi
}

g_done() {
	if [ "$G_FAILS" -ne 0 ]; then
		echo "guest: $G_FAILS check(s) failed"
		exit 1
	fi
	exit 0
}

# Wait until N SCSI disks have a block device (sd probing is async).
g_wait_disks() {
	want=$1
	tries=${2:-300}
	while [ "$tries" -gt 0 ]; do
		n=0
		for d in /sys/class/scsi_disk/*; do
			[ -d "$d/device/block" ] && n=$((n + 1))
		done
		[ "$n" -ge "$want" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "disks present:"
	ls /sys/class/scsi_disk/ /sys/block/ 2>&1
	g_fail "expected $want SCSI disks, found $n"
	return 1
}

# H:C:T:L of the disk at LUN $1 (target ${2:-0}).
g_addr_of_lun() {
	for d in /sys/class/scsi_device/*; do
		a=${d##*/}
		t=${a%:*}
		t=${t##*:}
		if [ "${a##*:}" = "$1" ] && [ "$t" = "${2:-0}" ]; then
			echo "$a"
			return 0
		fi
	done
	return 1
}

# /dev/sdX of LUN $1.
g_disk_of_lun() {
	a=$(g_addr_of_lun "$@") || return 1
	b=$(ls "/sys/class/scsi_device/$a/device/block/" 2>/dev/null | head -1)
	[ -n "$b" ] || return 1
	echo "/dev/$b"
}

# /dev/sgN of LUN $1.
g_sg_of_lun() {
	a=$(g_addr_of_lun "$@") || return 1
	g=$(ls "/sys/class/scsi_device/$a/device/scsi_generic/" 2>/dev/null | head -1)
	[ -n "$g" ] || return 1
	echo "/dev/$g"
}

# Run a command, echo it and its output into the serial log, keep the output
# in $G_OUT for later greps.  Returns the command's status.
G_OUT=/tmp/g_out
g_run() {
	echo "+ $*"
	"$@" >"$G_OUT" 2>&1
	rc=$?
	sed 's/^/  /' "$G_OUT"
	[ "$rc" -eq 0 ] || echo "  (exit $rc)"
	return "$rc"
}

# Debian's busybox shell runs its own applets before searching PATH, so the
# full tools whose names collide with an applet are called by path.
blkdiscard() { /usr/sbin/blkdiscard "$@"; }
mke2fs() { /usr/sbin/mke2fs "$@"; }

# Load the on-demand modules (build-guest.sh: VFIO, NVMe), in dependency order.
g_load_modules() {
	while read -r m; do
		# /proc/modules spells vfio-pci-core.ko as vfio_pci_core.
		grep -q "^$(echo "${m%.ko*}" | tr - _) " /proc/modules && continue
		insmod "/lib/modules/$m" 2>/dev/null || echo "VUS-WARN: insmod $m failed"
	done </lib/modules/load.order.extra
}

# g_bind_vfio [CLASS]: bind the first PCI function whose class starts with
# $1 (default 0x0108, NVMe) to vfio-pci the way an admin would:
# driver_override, unbind from its driver, drivers_probe.  Prints the BDF
# and sets G_BDF (call it outside $(...): failures count in G_FAILS);
# returns 1 (with a VUS-CHECK-FAIL line) when there is none or binding fails.
g_bind_vfio() {
	want=${1:-0x0108}
	G_BDF=
	bdf=
	for d in /sys/bus/pci/devices/*; do
		case "$(cat "$d/class")" in "$want"*) bdf=${d##*/}; break ;; esac
	done
	if [ -z "$bdf" ]; then
		g_fail "no PCI function of class $want"
		return 1
	fi
	g_load_modules
	dev=/sys/bus/pci/devices/$bdf
	olddrv=$(basename "$(readlink "$dev/driver" 2>/dev/null)" 2>/dev/null)
	echo vfio-pci >"$dev/driver_override"
	[ -e "$dev/driver" ] && echo "$bdf" >"$dev/driver/unbind"
	echo "$bdf" >/sys/bus/pci/drivers_probe
	drv=$(basename "$(readlink "$dev/driver" 2>/dev/null)")
	grp=$(basename "$(readlink "$dev/iommu_group" 2>/dev/null)")
	if [ "$drv" != vfio-pci ] || [ ! -e "/dev/vfio/$grp" ]; then
		g_fail "binding $bdf to vfio-pci: driver '$drv', group '$grp' ($(ls /dev/vfio 2>&1 | tr '\n' ' '))"
		return 1
	fi
	G_BDF=$bdf
	echo "$bdf: was ${olddrv:-unbound}, now vfio-pci, IOMMU group $grp"
}

# g_fio_verify IODEPTH BSRANGE DISK...: fio random writes with crc32c
# verification, libaio O_DIRECT, two jobs per disk.  Each job owns a 12 MiB
# slice so verification never sees a block written by a sibling job.
g_fio_verify() {
	local depth="$1" bs="$2" d
	shift 2
	cat >/tmp/verify.fio <<-JOB
		[global]
		ioengine=libaio
		direct=1
		iodepth=$depth
		rw=randwrite
		bsrange=$bs
		size=12M
		numjobs=2
		offset_increment=12M
		verify=crc32c
		verify_fatal=1
		verify_dump=0
		group_reporting=1
	JOB
	for d in "$@"; do
		printf '[%s]\nfilename=%s\n' "${d#/dev/}" "$d" >>/tmp/verify.fio
	done
	g_run fio --output-format=normal /tmp/verify.fio || g_fail "fio exit status"
	g_grep "fio reported no errors" "err= *0" "$G_OUT"
	if grep -q -E "verify: bad|bad magic|crc32c: verify failed" "$G_OUT"; then
		g_fail "fio verification errors"
	fi
}

# g_ext4_roundtrip DEV NFILES: mkfs.ext4, an 8 MiB file and NFILES small
# ones, unmount, e2fsck -fn clean, remount read-only and compare every file.
# 1 when DEV could not be mounted (the rest is moot).
g_ext4_roundtrip() {
	g_run mkfs.ext4 -F -q -E nodiscard "$1" || g_fail "mkfs.ext4"
	mkdir -p /mnt/t
	g_run mount -t ext4 "$1" /mnt/t || { g_fail "mount"; return 1; }
	dd if=/dev/urandom of=/tmp/big bs=1M count=8 2>/dev/null
	cp /tmp/big /mnt/t/big || g_fail "write 8 MiB file"
	mkdir -p /mnt/t/dir
	i=0
	while [ $i -lt "$2" ]; do
		echo "file $i $(head -c 64 /dev/urandom | sha256sum)" >/mnt/t/dir/f$i || g_fail "write f$i"
		i=$((i + 1))
	done
	(cd /mnt/t && find . -type f | sort | xargs sha256sum) >/tmp/sums
	g_run umount /mnt/t || g_fail "umount"
	g_run e2fsck -fn "$1" || g_fail "e2fsck -fn after writing (exit $?)"
	echo 3 >/proc/sys/vm/drop_caches
	g_run mount -t ext4 -o ro "$1" /mnt/t || { g_fail "remount"; return 1; }
	(cd /mnt/t && find . -type f | sort | xargs sha256sum) >/tmp/sums2
	g_check "file contents survive remount" cmp -s /tmp/sums /tmp/sums2
	g_expect_eq "number of files" "$(wc -l </tmp/sums2)" $(($2 + 1))
	umount /mnt/t
}
