# Remote block backends (issue 13), included by the Makefile.
#
#   make check-remote    the iSCSI backend against a real tgt on 127.0.0.1
#                        (tests/remote/tgt.sh starts and kills it): the
#                        VM-free test_fe_iscsi (plain and ASan daemon; I/O,
#                        FUA, flush, UNMAP, tgt killed and restarted under
#                        I/O) and the TCG guest test (tests/guest/test-iscsi.sh:
#                        fio verify, ext4 + fsck, tgt restarted during fio).
#                        Both also run in make check (check-frontend and
#                        check-guest).

.PHONY: check-remote

check-remote: deps
	$(MAKE) all frontend-tests
	$(MAKE) SAN=1 all frontend-tests
	VUS_DAEMON=build/vhost-user-scsi VUS_FIO_ENGINE= tests/frontend/run.sh build/fe-tests/test_fe_iscsi
	VUS_DAEMON=build/asan/vhost-user-scsi VUS_FIO_ENGINE= tests/frontend/run.sh build/asan/fe-tests/test_fe_iscsi
	VUS_BACKEND=daemon tests/guest/run-all.sh iscsi
