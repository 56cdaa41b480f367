# Benchmarks (included from the Makefile).
#
#   make bench         full run: 30 s per point, 2 alternated runs, then
#                      docs/benchmarks.md + docs/benchmarks.png
#   make bench-quick   the same pipeline with 3 s points and one run: a smoke
#                      test of the whole thing, not numbers to quote
#   make bench-test    cmocka test of the malloc counter the benchmark relies on
#   make bench-nvme    the NVMe backend in a TCG guest: VFIO vs the kernel's
#                      nvme driver under our daemon vs fio on the kernel alone
#                      -> docs/benchmarks-nvme.md (bench/nvme-guest.sh, ~4 min;
#                      BENCH_NVME_* variables pass through)
#   make bench-remote  iSCSI (tgt) and Ceph RBD (single-node cluster) LUNs in a
#                      TCG guest: our daemon vs qemu-storage-daemon's own
#                      iscsi/rbd drivers (vhost-user-blk export), same run
#                      -> docs/benchmarks-remote.md (bench/remote.sh, ~20 min;
#                      BENCH_REMOTE_* variables pass through)
#
# Needs a quiet machine for numbers that mean anything: the backend runs on
# CPU 0 and fio on CPU 1 (BENCH_PIN), nothing else should. Variables of
# bench/run.sh (BENCH_*) pass through.

BENCH_MCOUNT := build/bench/malloc_count.so

BENCH_TEST := build/bench/test_malloc_count
BENCH_COPY_FLOOR := build/bench/copy_floor

.PHONY: bench bench-quick bench-deps bench-contrib bench-test bench-nvme bench-remote bench-remote-deps

$(BENCH_MCOUNT): bench/malloc_count.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -D_GNU_SOURCE -shared -fPIC -o $@ $<

$(BENCH_COPY_FLOOR): bench/copy_floor.c src/util/copy_nt.c src/util/copy_nt.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -D_GNU_SOURCE -Isrc -o $@ bench/copy_floor.c src/util/copy_nt.c

$(BENCH_TEST): bench/test_malloc_count.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -D_GNU_SOURCE -o $@ $< \
		$(shell pkg-config --libs cmocka 2>/dev/null)

bench-test: $(BENCH_MCOUNT) $(BENCH_TEST)
	$(BENCH_TEST) $(BENCH_MCOUNT)

bench-contrib:
	bench/contrib.sh

# Plain prerequisites, no recursive make: works whether or not the Makefile
# includes this file yet (make -f Makefile -f bench.mk bench-quick).
bench-deps: deps build/vhost-user-scsi build/vhost-user-scsi-ctl fio-engine bench-test bench-contrib $(BENCH_COPY_FLOOR)

bench: bench-deps
	bench/run.sh

bench-quick: bench-deps
	BENCH_RUNTIME=$${BENCH_RUNTIME:-3} BENCH_RUNS=$${BENCH_RUNS:-1} BENCH_LUN_SIZE=$${BENCH_LUN_SIZE:-256M} \
		BENCH_GUEST_RUNTIME=$${BENCH_GUEST_RUNTIME:-5} BENCH_LABEL=$${BENCH_LABEL:-quick} bench/run.sh

# Plain prerequisites, as bench-deps: the guest image picks up the daemon and
# the engine (scripts/guest/build-guest.sh, run by the script).
bench-nvme: deps build/vhost-user-scsi fio-engine
	bench/nvme-guest.sh

# Not in deps: qemu-block-extra is for this benchmark only.
bench-remote-deps:
	@scripts/install-deps.sh bench

bench-remote: deps bench-remote-deps build/vhost-user-scsi
	bench/remote.sh
