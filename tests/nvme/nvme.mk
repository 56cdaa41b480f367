# The NVMe-over-VFIO rig (issue 9), included by the Makefile.
#
#   make nvme-tools   $(O)/nvme/vfio_smoke (src/vfio against a real NVMe
#                     function) and $(O)/nvme/vus_pattern (a known pattern
#                     written through the daemon, regenerated on the host)
#   make check-nvme   the NVMe guest test: a q35 TCG guest with an emulated
#                     NVMe behind intel-iommu, bound to vfio-pci inside, the
#                     plain and the ASan daemon in turn (tests/guest/test-nvme.sh;
#                     make check runs it too)

NVME_TOOLS := $(O)/nvme/vfio_smoke $(O)/nvme/vus_pattern

.PHONY: nvme-tools check-nvme

nvme-tools: $(NVME_TOOLS)

$(O)/nvme/vfio_smoke: $(O)/obj/tests/nvme/vfio_smoke.o $(O)/libvus.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(O)/nvme/vus_pattern: $(O)/fe-obj/tests/nvme/vus_pattern.o $(FE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(FE_CFLAGS) -o $@ $^ -lpthread

# The guest image carries the daemon (plain, and ASan when built), the fio
# engine and the tools above; build-guest.sh picks up whatever changed.
# The test runs both daemons in one boot, as make check does.
check-nvme: deps
	$(MAKE) all nvme-tools fio-engine
	$(MAKE) SAN=1 all
	tests/guest/run-all.sh nvme

-include $(O)/obj/tests/nvme/vfio_smoke.d $(O)/fe-obj/tests/nvme/vus_pattern.d
