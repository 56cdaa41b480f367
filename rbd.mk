# The Ceph RBD backend against a real cluster (issue 13), included by the Makefile.
#
#   make check-remote-rbd  one single-node Ceph cluster (tests/remote/ceph-cluster.sh,
#                          build/ceph, loopback) started once for: the VM-free
#                          test_fe_rbd (plain and ASan daemon: I/O, FUA, flush,
#                          discard, write-zeroes, resize, exclusive lock, snap=,
#                          OSD stopped and restarted under I/O, timeout=, --config
#                          restart), test_fe_rbd_restart (kill -9, the
#                          restart takes the lock from its dead predecessor;
#                          a stale record breaks nobody's lock) and the
#                          TCG guest test (tests/guest/test-rbd.sh: fio verify,
#                          the OSD stopped during fio, ext4 + fsck); torn down after.
#   make check-remote      includes it.  Both tests also run in make check
#                          (check-frontend and check-guest start their own cluster).

CEPH_TEST_DIR := $(CURDIR)/build/ceph

.PHONY: check-remote check-remote-rbd

check-remote: check-remote-rbd

check-remote-rbd: deps
	$(MAKE) all frontend-tests
	$(MAKE) SAN=1 all frontend-tests
	@tests/remote/ceph-cluster.sh start $(CEPH_TEST_DIR) && { \
	    export VUS_CEPH_DIR=$(CEPH_TEST_DIR) VUS_FIO_ENGINE=; \
	    VUS_DAEMON=build/vhost-user-scsi tests/frontend/run.sh build/fe-tests/test_fe_rbd && \
	    VUS_DAEMON=build/asan/vhost-user-scsi tests/frontend/run.sh build/asan/fe-tests/test_fe_rbd && \
	    VUS_DAEMON=build/vhost-user-scsi tests/frontend/run.sh build/fe-tests/test_fe_rbd_restart && \
	    VUS_DAEMON=build/asan/vhost-user-scsi tests/frontend/run.sh build/asan/fe-tests/test_fe_rbd_restart && \
	    VUS_BACKEND=daemon tests/guest/run-all.sh rbd; \
	    rc=$$?; tests/remote/ceph-cluster.sh stop $(CEPH_TEST_DIR); exit $$rc; }
