# The live-migration guest test (issue 11), included by the Makefile.
#
#   make check-migration   tests/guest/test-migration.sh through run-all.sh:
#                          a guest under fio verify migrated between two
#                          QEMUs, each served by its own daemon on the same
#                          backing files; plain daemon, then ASan+UBSan;
#                          on the patched QEMU 10.2.2, then on Debian's 7.2
#                          (both ends the same binary; the second runs even
#                          when the first failed).  Two scenarios: drain,
#                          and inflight (inflight-migration=on, requests in
#                          flight at the switch on slowfs LUNs; patched QEMU
#                          only, skipped on 7.2).  SKIP (not a pass)
#                          while the daemon lacks VHOST_F_LOG_ALL/LOG_SHMFD.
#
# make check runs the same test through run-all.sh's default list, in
# check-guest (Debian's QEMU) and check-qemu (the patched one).

# slowfs (tests/tools/slowfs.c): a FUSE file whose every I/O is slow, for
# the inflight scenario's LUNs.  Not under $(O): one build serves both daemons.
SLOWFS := build/tests/slowfs

$(SLOWFS): tests/tools/slowfs.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE $(shell pkg-config --cflags fuse3) \
		-o $@ $< $(shell pkg-config --libs fuse3)

.PHONY: check-migration

check-migration: deps
	$(MAKE) all $(SLOWFS)
	$(MAKE) SAN=1 all
	$(MAKE) qemu
	rc=0; \
	VUS_BACKEND=daemon QEMU=$(CURDIR)/$(QEMU_PATCHED) tests/guest/run-all.sh migration || rc=1; \
	VUS_BACKEND=daemon tests/guest/run-all.sh migration || rc=1; \
	exit $$rc
