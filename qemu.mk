# QEMU patch series (patches/) on a pinned QEMU 10.2.2, included by Makefile.
#
#   make qemu               build the patched qemu-system-x86_64 (cached by
#                           base + series hash); run it as
#                           build/qemu/bin/qemu-system-x86_64
#   make qemu-check         the series applies with git am, every patch is
#                           checkpatch-clean, and the vhost-user-scsi qtests
#                           pass against the real daemon (part of make check)
#   make qemu-series-check  the tree builds after each patch (slow; not in
#                           make check)
#   make qemu-guest-check   the guest tests, run with the patched QEMU
#   make qemu-export        regenerate patches/ from build/qemu/src
#
# See docs/qemu-series.md.

QEMU_SCRIPTS := scripts/qemu
QEMU_PATCHED := build/qemu/bin/qemu-system-x86_64

.PHONY: qemu qemu-check qemu-series-check qemu-guest-check qemu-export

qemu:
	$(QEMU_SCRIPTS)/build-qemu.sh

qemu-check:
	$(QEMU_SCRIPTS)/check-series.sh
	$(QEMU_SCRIPTS)/build-qemu.sh
	$(MAKE) build/vhost-user-scsi
	$(QEMU_SCRIPTS)/run-qtests.sh

qemu-series-check:
	$(QEMU_SCRIPTS)/check-series.sh
	$(QEMU_SCRIPTS)/series-build-check.sh

qemu-guest-check: qemu
	$(MAKE) build/vhost-user-scsi build/vhost-user-scsi-ctl build/tests/slowfs
	QEMU=$(CURDIR)/$(QEMU_PATCHED) tests/guest/run-all.sh

qemu-export:
	$(QEMU_SCRIPTS)/export-series.sh
