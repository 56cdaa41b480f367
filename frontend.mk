# The vhost-user-scsi frontend library, its VM-free tests and the fio engine.
# Included from the main Makefile, which provides CC, CFLAGS, O, LDLIBS.
#
#   make frontend         library, test programs, fio engine
#   make frontend-check   VM-free functional + malicious-frontend tests against
#                         $(O)/vhost-user-scsi, plus a fio smoke run when the
#                         engine is built; last line "N passed, N failed"
#   make frontend-check-mgmt  only the management-plane programs (test_fe_mgmt_*)
#   make fio-engine       build/fio-vhost-user-scsi.so (fetches fio's source once)

# Recursive: the including Makefile may define CFLAGS after including us.
FE_CFLAGS    = $(CFLAGS) -I.
FE_SRCS     := $(wildcard frontend/*.c)
FE_OBJS     := $(FE_SRCS:%.c=$(O)/fe-obj/%.o)
FE_LIB      := $(O)/libvusfe.a
FE_TEST_SRCS := $(wildcard tests/frontend/test_*.c)
FE_TESTS    := $(FE_TEST_SRCS:tests/frontend/%.c=$(O)/fe-tests/%)
# libfuse3 serves the held-I/O fixture (tests/frontend/fuse_gate.h): test
# programs only, so the library, the fio engine and the daemon stay free of it.
FE_FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FE_TEST_LIBS := $(shell pkg-config --libs cmocka fuse3 liburing jansson 2>/dev/null) -lpthread
FIO_ENGINE  := build/fio-vhost-user-scsi.so
FIO_SRC_CACHE := build/fio-src

.PHONY: frontend frontend-lib frontend-tests frontend-check frontend-check-mgmt fio-engine

frontend: frontend-lib frontend-tests fio-engine

frontend-lib: $(FE_LIB)

frontend-tests: $(FE_TESTS)

$(O)/fe-obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(FE_CFLAGS) -c -o $@ $<

$(O)/fe-obj/tests/frontend/%.o: FE_CFLAGS += $(FE_FUSE_CFLAGS)

$(FE_LIB): $(FE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(O)/fe-tests/%: $(O)/fe-obj/tests/frontend/%.o $(FE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(FE_CFLAGS) -o $@ $^ $(FE_TEST_LIBS)

# The management-plane tests (test_fe_mgmt_*) also run the CLI next to the daemon.
frontend-check: $(FE_TESTS) $(O)/vhost-user-scsi $(O)/vhost-user-scsi-ctl
	@VUS_DAEMON=$${VUS_DAEMON:-$(O)/vhost-user-scsi} VUS_FIO_ENGINE=$(wildcard $(FIO_ENGINE)) \
	    tests/frontend/run.sh $(FE_TESTS)

# Only the management-plane programs (issue #10): many controllers, every RPC, restart.
FE_MGMT_TESTS := $(filter $(O)/fe-tests/test_fe_mgmt_%,$(FE_TESTS))
frontend-check-mgmt: $(FE_MGMT_TESTS) $(O)/vhost-user-scsi $(O)/vhost-user-scsi-ctl
	@VUS_DAEMON=$${VUS_DAEMON:-$(O)/vhost-user-scsi} tests/frontend/run.sh $(FE_MGMT_TESTS)

# The engine is built without sanitizers: fio itself is not instrumented.
fio-engine: $(FIO_ENGINE)

# fio itself is a prerequisite: an upgraded fio needs an engine built against its own headers.
$(FIO_ENGINE): tools/fio/fio_vus_engine.c $(FE_SRCS) $(wildcard frontend/*.h) $(wildcard /usr/bin/fio)
	@src=$$(tools/fio/fetch-fio-src.sh $(FIO_SRC_CACHE)) && \
	echo "fio source: $$src" && \
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	    -D_GNU_SOURCE -shared -fPIC -I. -Isrc -include "$$src/config-host.h" -I"$$src" \
	    -o $@ tools/fio/fio_vus_engine.c $(FE_SRCS) -lpthread

-include $(FE_OBJS:.o=.d) $(FE_TEST_SRCS:tests/frontend/%.c=$(O)/fe-obj/tests/frontend/%.d)
