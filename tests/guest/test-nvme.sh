#!/bin/bash
# The NVMe backend over VFIO (issue 9), all inside one q35 TCG guest: QEMU
# emulates an NVMe behind intel-iommu (aw-bits=48: IOVA = the daemon's user
# addresses), backed by build/guest/nvme0.img; the guest binds it to
# vfio-pci and
#   1. vfio_smoke brings it up by hand through src/vfio (BAR0, admin and I/O
#      queues in DMA memory, MSI-X through eventfds, I/O into a memfd region)
#      and checks the serial the host gave;
#   2. the daemon serves it as `--lun type=nvme,pci=BDF` and fio drives it
#      through our engine (no VM-in-VM): verified random writes on two
#      queues, FUA + flushes, trims; then a seeded 16 MiB pattern; the
#      daemon's exit log must say it copied 0 bytes on the NVMe path;
#   3. after power-off the host recomputes the pattern's sha256 from the
#      backing file.
# Part 2 needs a daemon with type=nvme: without one it FAILS, it does not skip.
#
# Host-side knobs: VUS_NVME_ASAN=1 runs the ASan+UBSan daemon in the guest;
# VUS_VM_TIMEOUT (default 900 s), VUS_MEM (default 1G).

# What the daemon prints at exit about copies on the NVMe data path (the
# integration prints e.g. "nvme: 0 bytes copied" or "... copied=0"); the
# zero-copy check greps the daemon's log for this extended regexp.
NVME_COPIED_RE='(^|[^0-9])0 bytes copied|copied[ =:]+0([^0-9]|$)'
# The gate: the daemon's --help must list the LUN type.
NVME_HELP_RE='type=[a-z|]*nvme'

if [ "$1" = guest ]; then
	. /tests/lib-guest.sh
	SERIAL=$2 POFF=$3 PLEN=$4 SEED=$5 FLAVOUR=${6:-plain}
	DAEMON=/opt/vus/vhost-user-scsi
	[ "$FLAVOUR" = asan ] && DAEMON=/opt/vus/asan/vhost-user-scsi
	ENGINE=/opt/vus/fio-vhost-user-scsi.so
	up() { read -r u _ </proc/uptime && echo "$u"; }

	# The kernel's driver first: shows the device is there and sane.
	g_load_modules
	for _ in $(seq 100); do [ -e /sys/block/nvme0n1 ] && break; sleep 0.1; done
	g_check "kernel nvme driver found nvme0n1 ($(cat /sys/block/nvme0n1/size 2>/dev/null) sectors)" \
		test -e /sys/block/nvme0n1
	grep -q 'intel_iommu=on' /proc/cmdline && dmesg | grep -q -i 'DMAR.*IOMMU enabled\|DMAR-IR: Enabled' &&
		g_ok "intel-iommu on"

	g_bind_vfio 0x0108 || g_done
	g_kv bdf "$G_BDF"

	echo "--- part 1: vfio_smoke"
	t0=$(up)
	if g_run /opt/vus/nvme/vfio_smoke "$G_BDF" "$SERIAL" && grep -q 'vfio_smoke: PASS' "$G_OUT"; then
		g_ok "vfio_smoke"
		g_kv smoke pass
	else
		g_fail "vfio_smoke"
		g_kv smoke fail
	fi
	g_kv smoke_seconds "$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')"

	echo "--- part 2: the daemon with an NVMe LUN"
	if [ ! -x "$DAEMON" ]; then
		g_fail "no $DAEMON in the initramfs (make all; scripts/guest/build-guest.sh)"
		g_done
	fi
	if ! "$DAEMON" --help 2>&1 | grep -q -E "$NVME_HELP_RE"; then
		g_fail "daemon lacks type=nvme ($DAEMON --help has no /$NVME_HELP_RE/)"
		g_kv daemon lacks-type-nvme
		g_done
	fi
	[ -f "$ENGINE" ] || { g_fail "no fio engine $ENGINE (make fio-engine)"; g_done; }
	t0=$(up)
	DLOG=/tmp/daemon.log
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		"$DAEMON" --socket-path /tmp/vus.sock --lun "type=nvme,pci=$G_BDF" --threads 2 \
		>"$DLOG" 2>&1 &
	dpid=$!
	for _ in $(seq 200); do
		[ -S /tmp/vus.sock ] && break
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -S /tmp/vus.sock ]; then
		g_fail "daemon did not start"
		sed 's/^/    | /' "$DLOG"
		g_done
	fi
	FIO="fio --ioengine=external:$ENGINE --socket=/tmp/vus.sock --lun=0 --verify_state_save=0
		--output-format=normal --group_reporting=1"
	fio_ok() {
		desc=$1
		shift
		# shellcheck disable=SC2086
		if g_run timeout 300 $FIO "$@" && ! grep -q -E 'verify: bad|bad magic|crc32c: verify failed|err= *[1-9]' "$G_OUT"; then
			g_ok "fio $desc"
		else
			g_fail "fio $desc"
		fi
	}
	# Two jobs, each on its own request queue (engine: one per job) and
	# its own 24 MiB slice so verification never sees a sibling's block.
	fio_ok "randwrite+verify crc32c, bs 4k-128k, QD 32, 2 queues" --name=verify --thread \
		--numjobs=2 --size=24M --offset_increment=24M --rw=randwrite --bsrange=4k-128k \
		--iodepth=32 --verify=crc32c --verify_fatal=1 --do_verify=1
	fio_ok "FUA writes + flushes, verified" --name=fua --thread --offset=64M --size=16M \
		--rw=randwrite --bsrange=4k-64k --iodepth=8 --fua=1 --fsync=16 --verify=crc32c \
		--verify_fatal=1
	fio_ok "trim" --name=trim --thread --offset=96M --size=16M --rw=randtrim --bs=64k --iodepth=8
	# Write zeroes: the engine sends no WRITE SAME, so nothing drives it here.
	echo "note: WRITE SAME / write zeroes not driven (the fio engine has no such command)"
	if g_run /opt/vus/nvme/vus_pattern write /tmp/vus.sock 0 "$POFF" "$PLEN" "$SEED"; then
		g_ok "pattern written through the daemon and read back"
		g_kv pattern_sha256 "$(/opt/vus/nvme/vus_pattern gen "$SEED" "$PLEN" | sha256sum | cut -d' ' -f1)"
	else
		g_fail "pattern write"
	fi
	kill -TERM "$dpid"
	wait "$dpid"
	drc=$?
	g_kv daemon_seconds "$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')"
	echo "--- daemon log"
	sed 's/^/    | /' "$DLOG"
	g_expect_eq "daemon exit status after SIGTERM" "$drc" 0
	g_grep "zero copy: the daemon copied 0 bytes on the NVMe path" "$NVME_COPIED_RE" "$DLOG"
	if grep -q -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$DLOG"; then
		g_fail "sanitizer report in the daemon log"
	fi
	g_done
fi

. "$(dirname "$0")/lib.sh"
vus_setup "${VUS_TEST_NAME:-nvme}"
IMG=$VUS_OUT/nvme0.img
SERIAL=VUSNVME0001
SEED=20261201
POFF=$((160 << 20))
PLEN=$((16 << 20))
PATTERN=$VUS_ROOT/build/nvme/vus_pattern
FLAVOUR=plain
[ "${VUS_NVME_ASAN:-0}" = 1 ] && FLAVOUR=asan

# A fresh 256 MiB backing file per run: stale data must not pass the check.
rm -f "$IMG"
truncate -s 256M "$IMG"
# q35 for intel-iommu; caching-mode so VFIO in the guest can track mappings
# (interrupt remapping for MSI-X); aw-bits=48 so user-space IOVAs fit.
# No kernel-irqchip=split: this is TCG.
VUS_DEV_ARGS=(
	-device intel-iommu,intremap=on,caching-mode=on,aw-bits=48
	-drive "if=none,id=n0,file=$IMG,format=raw"
	-device "nvme,serial=$SERIAL,drive=n0"
)
export VUS_MACHINE=q35
export VUS_MEM=${VUS_MEM:-1G}
export VUS_KCMDLINE="intel_iommu=on ${VUS_KCMDLINE:-}"
export VUS_VM_TIMEOUT=${VUS_VM_TIMEOUT:-900}
vus_run_guest test-nvme "$SERIAL,$POFF,$PLEN,$SEED,$FLAVOUR"

smoke=$(vus_guest_kv smoke)
vus_log "part 1, vfio_smoke: ${smoke:-did not run} ($(vus_guest_kv smoke_seconds)s in the guest)"
case "$(vus_guest_kv daemon)" in
lacks-type-nvme) vus_log "part 2: FAIL: daemon lacks type=nvme" ;;
esac
want=$(vus_guest_kv pattern_sha256)
if [ -n "$want" ]; then
	# The VM is gone: whatever the file holds is what reached the device.
	got=$(dd if="$IMG" bs=1M skip=$((POFF >> 20)) count=$((PLEN >> 20)) 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || vus_fail "backing file at $POFF+$PLEN: sha256 $got, the guest wrote $want"
	if [ -x "$PATTERN" ]; then
		gen=$("$PATTERN" gen "$SEED" "$PLEN" | sha256sum | cut -d' ' -f1)
		[ "$gen" = "$got" ] || vus_fail "backing file does not hold the seeded pattern (host's $gen)"
	fi
	[ "$got" = "$want" ] && vus_log "backing file holds the pattern (sha256 $got)"
fi
vus_finish
