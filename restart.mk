# Surviving our own restart (issue 11), included by the Makefile.
#
#   make check-restart   the VM-free recovery tests (test_fe_suspend, plain
#                        and ASan daemon) and the kill -9 guest test
#                        (tests/guest/test-restart.sh: 20 kills during a
#                        verified fio run, plain then ASan daemon) on the
#                        patched QEMU 10.2.2, whose vhost-user-scsi
#                        reconnects (Debian's 7.2 does not); and the
#                        live-upgrade script against the daemon, no VM
#                        (tests/upgrade/test-upgrade.sh, also in check-ctl)

.PHONY: check-restart

check-restart: deps
	$(MAKE) all frontend-tests
	$(MAKE) SAN=1 all frontend-tests
	$(MAKE) qemu
	VUS_DAEMON=build/vhost-user-scsi VUS_FIO_ENGINE= tests/frontend/run.sh build/fe-tests/test_fe_suspend
	VUS_DAEMON=build/asan/vhost-user-scsi VUS_FIO_ENGINE= tests/frontend/run.sh build/asan/fe-tests/test_fe_suspend
	tests/upgrade/test-upgrade.sh build/vhost-user-scsi build/vhost-user-scsi-ctl
	QEMU=$(CURDIR)/$(QEMU_PATCHED) VUS_BACKEND=daemon tests/guest/run-all.sh restart
