# libFuzzer targets (fuzz/); included from the Makefile.
#
#   make fuzz-build           build build/fuzz/fuzz_{vu_msg,inflight,virtq,virtq_packed,scsi,nvme_prp,rpc} (clang, ASan+UBSan)
#   make fuzz                 fuzz each target FUZZ_SECONDS seconds (default 60)
#   make fuzz-smoke           replay fuzz/regressions/, then fuzz each target
#                             FUZZ_SMOKE_SECONDS (default 15): what `make check` runs
#
# Each run works on a copy of fuzz/corpus/TARGET; crashes land in
# build/fuzz/artifacts/TARGET/.  The sources are compiled here with the
# fuzzer's instrumentation rather than taken from libvus.a, so only what a
# target needs is linked and a half-written file elsewhere cannot break it.

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_DIR           := build/fuzz
FUZZ_TARGETS       := vu_msg inflight virtq virtq_packed scsi nvme_prp rpc

FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Wno-unused-parameter -D_GNU_SOURCE -Isrc \
               -fsanitize=fuzzer-no-link $(FUZZ_SAN) -MMD -MP

FUZZ_SRCS_vu_msg := src/vhost/vu_msg.c src/vhost/vu_dev.c src/vhost/vu_mem.c src/vhost/vu_fault.c \
                    src/vhost/vu_eventfd.c src/vhost/vu_inflight.c src/vhost/vu_log.c src/virtq/virtq.c \
                    src/virtq/virtq_recover.c src/util/log.c src/util/dma_registry.c src/virtq/virtq_packed.c
FUZZ_SRCS_inflight := fuzz/inflight_fz.c $(FUZZ_SRCS_vu_msg)
FUZZ_SRCS_virtq  := fuzz/fuzz_guest_mem.c src/virtq/virtq.c src/virtq/virtq_recover.c src/vhost/vu_mem.c src/vhost/vu_fault.c \
                    src/vhost/vu_inflight.c src/vhost/vu_log.c src/vhost/vu_eventfd.c src/util/log.c \
                    src/util/dma_registry.c src/virtq/virtq_packed.c
FUZZ_SRCS_virtq_packed := $(FUZZ_SRCS_virtq)
FUZZ_SRCS_scsi   := $(wildcard src/scsi/*.c) $(wildcard src/bdev/*.c) src/io/io_loop.c \
                    src/util/iov.c src/util/copy_nt.c src/util/log.c $(wildcard src/nvme/*.c) \
                    $(wildcard src/vfio/*.c) \
                    src/util/dma_registry.c src/util/atomic_file.c src/stats/lun_stats.c
FUZZ_LIBS_scsi   := -luring -ljansson -liscsi
FUZZ_SRCS_nvme_prp := src/nvme/nvme_prp.c
FUZZ_SRCS_rpc    := src/rpc/rpc_dispatch.c src/rpc/rpc_params.c src/util/log.c
FUZZ_LIBS_rpc    := -ljansson

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_OBJS := $(sort $(foreach t,$(FUZZ_TARGETS),$(FUZZ_DIR)/obj/fuzz/fuzz_$(t).o \
                 $(FUZZ_SRCS_$(t):%.c=$(FUZZ_DIR)/obj/%.o)))

.PHONY: fuzz-build fuzz fuzz-smoke

fuzz-build: $(FUZZ_BINS)

# The targets themselves are ours to keep warning-free; src/ is held to that by the main build.
$(FUZZ_DIR)/obj/fuzz/%.o: FUZZ_WERROR := -Werror

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WERROR) -c -o $@ $<

define FUZZ_LINK_RULE
$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_DIR)/obj/fuzz/fuzz_$(1).o $(FUZZ_SRCS_$(1):%.c=$(FUZZ_DIR)/obj/%.o)
	$$(FUZZ_CC) -fsanitize=fuzzer $$(FUZZ_SAN) -o $$@ $$^ $(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK_RULE,$(t))))

fuzz: fuzz-build
	@FUZZ_DIR=$(FUZZ_DIR) sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_DIR=$(FUZZ_DIR) sh fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

-include $(FUZZ_OBJS:.o=.d)
