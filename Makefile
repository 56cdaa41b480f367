# vhost-user-scsi: a vhost-user SCSI target daemon.
#
#   make                 build build/vhost-user-scsi and build/vhost-user-scsi-ctl
#   make check-ctl       the CLI against a stub RPC server (tests/ctl), and the
#                        live-upgrade script against the daemon (tests/upgrade)
#   make check-restart   kill -9 the daemon during verified guest I/O (restart.mk)
#   make check-mgmt      the management tests: check-ctl, the VM-free
#                        test_fe_mgmt_* programs, the hotplug guest test
#   make check-migration the live-migration guest test (migration.mk)
#   make check-remote    the iSCSI backend against a real tgt, VM-free and in a
#                        guest (remote.mk)
#   make check           everything CI runs: format, unit tests (plain and
#                        ASan+UBSan), VM-free frontend tests, fuzz smoke,
#                        guest tests under TCG, the QEMU series and its qtests
#   make qemu            the patched QEMU (patches/ on QEMU 10.2.2)
#   make demo            boot a TCG guest whose disks come from the daemon
#   make bench           benchmarks -> docs/benchmarks.md (bench-quick: a smoke run)
#   make SAN=1 ...       build into build/asan with ASan+UBSan

CC      ?= cc
PKGS    := liburing jansson libiscsi
SAN     ?= 0

ifeq ($(SAN),1)
O       := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT     := -O1
else
O       := build
SANFLAGS :=
OPT     := -O2
endif

CFLAGS  := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -D_GNU_SOURCE -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SANFLAGS) -MMD -MP
# librbd/librados are not linked: the RBD backend dlopen()s them on first
# use (src/bdev/rbd_lib.h); only their headers (librbd-dev) are needed here.
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
TEST_LDLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

LIB_SRCS := $(filter-out src/daemon/main.c,$(wildcard src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS    := $(TEST_SRCS:tests/unit/%.c=$(O)/tests/%)
DAEMON   := $(O)/vhost-user-scsi
# The CLI links jansson only: it is a client, and needs nothing of the daemon.
CTL_SRCS := $(wildcard tools/ctl/*.c)
CTL_OBJS := $(CTL_SRCS:%.c=$(O)/obj/%.o)
CTL      := $(O)/vhost-user-scsi-ctl
CTL_STUB := $(O)/tests/ctl/stub_server

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src tests -name '*.[ch]')

.PHONY: all deps unit check-ctl check check-unit check-frontend check-fuzz check-guest check-qemu format format-check demo clean install

PREFIX  ?= /usr/local
DESTDIR ?=

all: $(DAEMON) $(CTL) $(TESTS)

deps:
	@scripts/install-deps.sh

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(O)/libvus.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(DAEMON): $(O)/obj/src/daemon/main.o $(O)/libvus.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(CTL): $(CTL_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(shell pkg-config --libs jansson 2>/dev/null) -lm

# A stand-in daemon built on the real RPC server library.
$(CTL_STUB): $(O)/obj/tests/ctl/stub_server.o $(O)/libvus.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The CLI's commands, output and exit codes against the stub (tests/ctl/run.sh).
check-ctl: $(CTL) $(CTL_STUB) $(DAEMON)
	tests/ctl/run.sh $(CTL) $(CTL_STUB)
	tests/upgrade/test-upgrade.sh $(DAEMON) $(CTL)

$(O)/tests/%: $(O)/obj/tests/unit/%.o $(O)/libvus.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

# Unit tests: each tests/unit/test_*.c is one cmocka program.
unit: $(TESTS)
	@scripts/run-unit-tests.sh $(TESTS)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "format-check: ok"

check-unit: deps format-check
	$(MAKE) unit
	$(MAKE) SAN=1 unit
	$(MAKE) bench-test

# The nvme test also needs the fio engine and the NVMe tools in the guest
# image, and runs the ASan daemon there after the plain one.
check-guest: deps
	$(MAKE) all nvme-tools fio-engine build/tests/slowfs
	$(MAKE) SAN=1 all
	VUS_BACKEND=daemon tests/guest/run-all.sh

# VM-free tests through our own vhost-user frontend (frontend.mk), plain and
# sanitized daemon, plus a fio run through the external engine.
check-frontend: deps
	$(MAKE) all fio-engine frontend-tests
	$(MAKE) frontend-check
	$(MAKE) SAN=1 all frontend-tests
	$(MAKE) SAN=1 frontend-check

# libFuzzer smoke: each target replays its regressions and fuzzes ~15 s (fuzz.mk).
check-fuzz: deps
	$(MAKE) fuzz-smoke

# The QEMU series (qemu.mk): applies, checkpatch-clean, qtests against the
# real daemon; then the guest tests again on the patched QEMU 10.2.2.
check-qemu: deps
	$(MAKE) qemu-check
	VUS_BACKEND=daemon $(MAKE) qemu-guest-check

# One single-node Ceph cluster (rbd.mk) serves every RBD test of the run:
# started once (~11 s), found by the tests through VUS_CEPH_DIR, stopped at
# the end whatever happened.
check: deps
	@tests/remote/ceph-cluster.sh start $(CEPH_TEST_DIR) >/dev/null && { \
	    export VUS_CEPH_DIR=$(CEPH_TEST_DIR); \
	    $(MAKE) check-unit check-ctl check-frontend check-fuzz check-guest check-qemu; \
	    rc=$$?; tests/remote/ceph-cluster.sh stop $(CEPH_TEST_DIR) >/dev/null; exit $$rc; }

demo: deps
	$(MAKE) all
	scripts/demo.sh

# The binaries (daemon, CLI, live-upgrade script), man pages, systemd units,
# and the vhost-user backend description QEMU's tools look for (docs/interop/vhost-user.rst).
install: $(DAEMON) $(CTL)
	install -D -m 0755 $(DAEMON) $(DESTDIR)$(PREFIX)/bin/vhost-user-scsi
	install -D -m 0755 $(CTL) $(DESTDIR)$(PREFIX)/bin/vhost-user-scsi-ctl
	install -D -m 0755 contrib/upgrade/vhost-user-scsi-upgrade $(DESTDIR)$(PREFIX)/bin/vhost-user-scsi-upgrade
	install -D -m 0644 docs/man/vhost-user-scsi.8 $(DESTDIR)$(PREFIX)/share/man/man8/vhost-user-scsi.8
	install -D -m 0644 docs/man/vhost-user-scsi-ctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/vhost-user-scsi-ctl.8
	sed 's|/usr/local/bin|$(PREFIX)/bin|' contrib/systemd/vhost-user-scsi@.service | \
		install -D -m 0644 /dev/stdin $(DESTDIR)/etc/systemd/system/vhost-user-scsi@.service
	install -D -m 0644 contrib/systemd/vhost-user-scsi@.socket $(DESTDIR)/etc/systemd/system/vhost-user-scsi@.socket
	sed 's|/usr/local/bin|$(PREFIX)/bin|' contrib/qemu/50-vhost-user-scsi.json | \
		install -D -m 0644 /dev/stdin $(DESTDIR)$(PREFIX)/share/qemu/vhost-user/50-vhost-user-scsi.json

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CTL_OBJS:.o=.d) $(O)/obj/tests/ctl/stub_server.d $(O)/obj/src/daemon/main.d $(TEST_SRCS:tests/unit/%.c=$(O)/obj/tests/unit/%.d)

# Fragments with their own targets; they use O and CFLAGS defined above.
include frontend.mk
include fuzz.mk
include qemu.mk
include bench.mk
include mgmt.mk
include restart.mk
include remote.mk
include migration.mk
include tests/nvme/nvme.mk
include rbd.mk
