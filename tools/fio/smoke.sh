#!/bin/sh
# A few seconds of fio through the external engine against a fresh daemon:
# verified random read/write on two queues (threads), the same with two
# processes, trims, flushes with FUA and indirect descriptors, QD = ring size,
# packed rings.
# Then the same verified runs against a daemon that withholds what SPDK and
# other simple backends do not offer (CONFIGURE_MEM_SLOTS, EVENT_IDX,
# REPLY_ACK, INFLIGHT_SHMFD, STATUS).
# Last, when bench/contrib.sh has built QEMU's contrib/vhost-user-scsi
# ($VUS_CONTRIB) and tgt is installed: a verified run against that sample, a
# backend that is not ours, on an iSCSI LUN of a throwaway tgt.
# Prints its results the way cmocka does, so tests/frontend/run.sh counts them.
#   tools/fio/smoke.sh ENGINE.so     (daemon: $VUS_DAEMON)
set -u
engine=$1
daemon=${VUS_DAEMON:-build/vhost-user-scsi}
dir=$(mktemp -d /tmp/vusfio.XXXXXX)
sock=$dir/vus.sock
"$daemon" --socket-path "$sock" --lun type=ram,size=64M --threads 2 >"$dir/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
pass=0
fail=0
failed=""
# run_jobfile NAME FIO-ARGS...: one fio run, counted; it fails on a non-zero
# exit or any error line in its output.
run_jobfile() {
    name=$1
    shift
    echo "[ RUN      ] fio_$name"
    if timeout 60 fio --output-format=terse "$@" >"$dir/$name.out" 2>&1 &&
        ! grep -q "error\|fio: " "$dir/$name.out"; then
        echo "[       OK ] fio_$name"
        pass=$((pass + 1))
    else
        cat "$dir/$name.out"
        echo "[  FAILED  ] fio_$name"
        fail=$((fail + 1))
        failed="$failed fio_$name"
    fi
}
# run NAME FIO-ARGS...: a job through our engine against $sock, LUN 0.
run() {
    name=$1
    shift
    # verify_state_save=0: fio would otherwise leave *-verify.state files in the cwd.
    run_jobfile "$name" --name="$name" --verify_state_save=0 --ioengine=external:"$engine" \
        --socket="$sock" --lun=0 "$@"
}
run randrw_verify_threads --thread --numjobs=2 --size=16M --offset_increment=16M --rw=randrw --bs=4k --iodepth=32 \
    --verify=crc32c --do_verify=1
run randrw_processes --numjobs=2 --size=8M --offset_increment=8M --rw=randwrite --bs=16k --iodepth=8 \
    --verify=md5 --do_verify=1
run trim --thread --rw=randtrim --bs=64k --iodepth=8 --size=16M
run fua_fsync_indirect --thread --rw=randwrite --bs=4k --iodepth=4 --fsync=8 --fua=1 \
    --indirect=1 --size=4M
run qd_ring_size --thread --rw=randread --bs=4k --iodepth=128 --queue_size=128 --size=16M \
    --iodepth_batch_submit=128 --iodepth_batch_complete_min=1
# Packed rings (issue 14): verified, and a full ring of indirect requests.
run packed_randrw_verify_threads --thread --numjobs=2 --size=16M --offset_increment=16M --rw=randrw \
    --bs=4k --iodepth=32 --verify=crc32c --do_verify=1 --packed=1
run packed_qd_ring_size_indirect --thread --rw=randwrite --bs=4k --iodepth=128 --queue_size=128 \
    --size=16M --iodepth_batch_submit=128 --iodepth_batch_complete_min=1 --indirect=1 --packed=1 \
    --verify=crc32c --do_verify=1
stop_daemon() {
    kill "$1" 2>/dev/null
    wait "$1"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$2"
        echo "[  FAILED  ] fio_daemon_exit (status $rc)"
        fail=$((fail + 1))
    fi
}
stop_daemon "$pid" "$dir/daemon.log"

sock=$dir/minimal.sock
"$daemon" --socket-path "$sock" --lun type=ram,size=64M --threads 2 --mask-features 0x20000000 \
    --mask-protocol-features 0x19008 >"$dir/minimal.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
run minimal_randrw_verify_threads --thread --numjobs=3 --size=16M --offset_increment=16M --rw=randrw \
    --bs=4k --iodepth=32 --verify=crc32c --do_verify=1
run minimal_packed_verify --thread --numjobs=2 --size=8M --offset_increment=8M --rw=randrw --bs=4k \
    --iodepth=16 --verify=crc32c --do_verify=1 --packed=1
run minimal_processes --numjobs=2 --size=8M --offset_increment=8M --rw=randwrite --bs=16k --iodepth=8 \
    --verify=md5 --do_verify=1
run minimal_fua_fsync_indirect --thread --rw=randwrite --bs=64k --iodepth=4 --fsync=8 --fua=1 \
    --indirect=1 --size=4M
# More jobs than the library has memory regions, each with its slice of one table.
run minimal_many_jobs --thread --numjobs=10 --size=4M --offset_increment=4M --rw=randrw --bs=4k \
    --iodepth=8 --verify=crc32c --do_verify=1
# Jobs of different sizes in one run: the memory is sized for every job, not the first.
cat >"$dir/mixed.fio" <<EOF
[global]
ioengine=external:$engine
socket=$sock
lun=0
verify_state_save=0
rw=randwrite
verify=crc32c
do_verify=1
[small]
bs=4k
iodepth=4
size=4M
[big]
offset=16M
bs=512k
iodepth=64
size=32M
EOF
run_jobfile minimal_mixed_jobs --thread "$dir/mixed.fio"
run_jobfile minimal_mixed_jobs_processes "$dir/mixed.fio"
stop_daemon "$pid" "$dir/minimal.log"
contrib=${VUS_CONTRIB:-build/bench/contrib/vhost-user-scsi}
if [ -x "$contrib" ] && command -v tgtd >/dev/null && command -v tgtadm >/dev/null; then
    # tgt.sh wants 1024..32767; the pid keeps concurrent smokes apart.
    port=$((20000 + $$ % 10000))
    if tests/remote/tgt.sh start "$dir/tgt" "$port" 64 >"$dir/tgt.out" 2>&1; then
        port=$(cat "$dir/tgt/port") # tgt.sh moves on when the port is taken
        sock=$dir/contrib.sock
        # The sample serves one connection and exits when it closes.
        "$contrib" -s "$sock" -i "iscsi://127.0.0.1:$port/iqn.2024-01.org.vhost-user-scsi:remote-test/1" \
            >"$dir/contrib.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
        run contrib_randrw_verify --thread --numjobs=2 --size=8M --offset_increment=16M --rw=randrw \
            --bs=4k --iodepth=8 --verify=crc32c --do_verify=1
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    else
        cat "$dir/tgt.out"
        echo "[  FAILED  ] fio_contrib_tgt_start"
        fail=$((fail + 1))
        failed="$failed fio_contrib_tgt_start"
    fi
    tests/remote/tgt.sh stop "$dir/tgt" >>"$dir/tgt.out" 2>&1 || cat "$dir/tgt.out"
else
    echo "contrib/vhost-user-scsi or tgt missing: fio_contrib skipped (bench/contrib.sh)"
fi
rm -rf "$dir"
echo "[  PASSED  ] $pass test(s)."
[ "$fail" -eq 0 ] || echo "[  FAILED  ] $fail test(s), listed below:$failed"
[ "$fail" -eq 0 ]
