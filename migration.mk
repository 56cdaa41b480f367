# The live-migration guest test (issue 11), included by the Makefile.
#
#   make check-migration   tests/guest/test-migration.sh through run-all.sh:
#                          a guest under fio verify migrated between two
#                          QEMUs, each served by its own daemon on the same
#                          backing files; plain daemon, then ASan+UBSan;
#                          on the patched QEMU 10.2.2, then on Debian's 7.2
#                          (both ends the same binary; the second runs even
#                          when the first failed).  SKIP (not a pass)
#                          while the daemon lacks VHOST_F_LOG_ALL/LOG_SHMFD.
#
# make check runs the same test through run-all.sh's default list, in
# check-guest (Debian's QEMU) and check-qemu (the patched one).

.PHONY: check-migration

check-migration: deps
	$(MAKE) all
	$(MAKE) SAN=1 all
	$(MAKE) qemu
	rc=0; \
	VUS_BACKEND=daemon QEMU=$(CURDIR)/$(QEMU_PATCHED) tests/guest/run-all.sh migration || rc=1; \
	VUS_BACKEND=daemon tests/guest/run-all.sh migration || rc=1; \
	exit $$rc
