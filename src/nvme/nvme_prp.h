/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PRP construction: the zero-copy step that turns a request's data iovecs
 * (guest buffers, already DMA-mapped) into the PRP1/PRP2 pair and PRP list
 * of an NVMe command.
 *
 * The iovecs come from the guest, so every function here treats them as
 * hostile: any base, any length, any count.  Pure functions, no allocation,
 * callable from any thread.
 */
#ifndef VUS_NVME_NVME_PRP_H
#define VUS_NVME_NVME_PRP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * Translate [vaddr, vaddr + len) to the address the device uses.  Returns
 * false when the range does not lie inside one DMA-mapped region.
 */
typedef bool (*nvme_iova_fn)(void *opaque, const void *vaddr, size_t len, uint64_t *iova);

/*
 * Build PRP1/PRP2 for the byte range [0, len) of iov (iov may hold more).
 * When more than two memory pages are involved, PRP2 is list_iova and the
 * entries go to list[], which the device sees at list_iova (qword aligned;
 * it may start inside a page).  The last qword of every list page points to
 * the next one when more entries follow, so list[] is used contiguously and
 * may span several device pages.
 *
 * page_size is the controller's memory page size (CC.MPS), a power of two
 * from 4 KiB.  Zero-length elements are skipped.  len == 0 gives
 * prp1 = prp2 = 0.
 *
 * Returns 0; -EINVAL when PRPs cannot express the vector (an element other
 * than the first starting off a page boundary, an element other than the
 * last ending off one, a first address not dword aligned, iov shorter than
 * len, a bad page_size or list_iova); -EFAULT when tr says some element is
 * not mapped; -E2BIG when list[] (list_max entries) is too small.  Errors
 * are found in element order; an element is translated, then checked, then
 * its pages are listed.  Never reads or writes outside iov[0..iovcnt) and
 * list[0..list_max); on error list[] and the PRPs may hold garbage.
 */
int nvme_prp_build(const struct iovec *iov, unsigned iovcnt, size_t len, size_t page_size,
                   nvme_iova_fn tr, void *opaque, uint64_t *prp1, uint64_t *prp2, uint64_t *list,
                   uint64_t list_iova, unsigned list_max);

/*
 * Whether nvme_prp_build could express the geometry of [0, len) of iov,
 * judging alignment on the virtual addresses: true when IOVA and virtual
 * address agree modulo page_size (regions mapped page-aligned), which is how
 * the daemon maps guest memory.  Says nothing about mappings or list room.
 * Lets a caller pick the copy fallback before building anything.
 */
bool nvme_prp_expressible(const struct iovec *iov, unsigned iovcnt, size_t len, size_t page_size);

/*
 * List entries nvme_prp_build needs for a transfer of len bytes starting at
 * offset off in a page (chain pointers included, list starting page-aligned):
 * what to size per-command PRP lists with.
 */
unsigned nvme_prp_list_entries(size_t off, size_t len, size_t page_size);

#endif
