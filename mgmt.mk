# The management plane's tests (issue 10), included by the Makefile.
#
#   make check-mgmt   the CLI against the stub server (check-ctl), the
#                     VM-free management tests (tests/frontend/test_fe_mgmt_*.c,
#                     against the plain and the ASan daemon), and the hotplug
#                     guest test (tests/guest/test-hotplug.sh: plain, then
#                     ASan daemon)

MGMT_FE_TESTS := $(patsubst tests/frontend/%.c,%,$(wildcard tests/frontend/test_fe_mgmt_*.c))

.PHONY: check-mgmt

check-mgmt: deps
	$(MAKE) all frontend-tests
	$(MAKE) SAN=1 all frontend-tests
	$(MAKE) check-ctl
ifeq ($(MGMT_FE_TESTS),)
	@echo "check-mgmt: no tests/frontend/test_fe_mgmt_*.c yet"
else
	VUS_DAEMON=build/vhost-user-scsi VUS_FIO_ENGINE= tests/frontend/run.sh $(MGMT_FE_TESTS:%=build/fe-tests/%)
	VUS_DAEMON=build/asan/vhost-user-scsi VUS_FIO_ENGINE= tests/frontend/run.sh $(MGMT_FE_TESTS:%=build/asan/fe-tests/%)
endif
	VUS_BACKEND=daemon tests/guest/run-all.sh hotplug
