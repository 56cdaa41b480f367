#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Each seed is a small, meaningful input in the layout the target's header
comment describes: a vhost-user handshake, a valid descriptor chain, common
CDBs.  Run it again after changing an input layout; the output is
deterministic.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


# ---------------------------------------------------------------- vu_msg
VERSION = 1
NEED_REPLY = 1 << 3
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
GET_INFLIGHT_FD, SET_INFLIGHT_FD, RESET_DEVICE, GET_MAX_MEM_SLOTS = 31, 32, 34, 36
ADD_MEM_REG, REM_MEM_REG, SET_STATUS, GET_STATUS = 37, 38, 39, 40

FEATURES = (1 << 32) | (1 << 28) | (1 << 29) | (1 << 30) | (1 << 1) | (1 << 2)
PROTO = (1 << 0) | (1 << 3) | (1 << 12) | (1 << 13) | (1 << 15) | (1 << 16)
UVA = 0x7F0000000000
MEM_SIZE = 1 << 20  # memfd size kind 0

# fd kinds byte: bits 0-1 memfd size (0: 1 MiB, 1: 64 KiB), bit 2: first fd is an eventfd
KIND_MEMFD_1M, KIND_MEMFD_64K, KIND_EVENTFD = 0, 1, 4


def msg(req, payload=b"", flags=VERSION, nfds=0, kinds=0):
    raw = struct.pack("<III", req, flags, len(payload)) + payload
    return struct.pack("<BBH", nfds, kinds, len(raw)) + raw


def u64(v):
    return struct.pack("<Q", v)


def state(idx, num):
    return struct.pack("<II", idx, num)


def region(gpa, size, uva, off):
    return struct.pack("<QQQQ", gpa, size, uva, off)


def mem_table(regions):
    return struct.pack("<II", len(regions), 0) + b"".join(regions)


def vring_addr(idx, desc, used, avail):
    return struct.pack("<IIQQQQ", idx, 0, desc, used, avail, 0)


def vring_setup(idx, num=128):
    base = 0x10000 * (idx + 1)
    return (msg(SET_VRING_NUM, state(idx, num)) + msg(SET_VRING_BASE, state(idx, 0)) +
            msg(SET_VRING_ADDR, vring_addr(idx, UVA + base, UVA + base + 0x2000,
                                           UVA + base + 0x1000)) +
            msg(SET_VRING_CALL, u64(idx), nfds=1, kinds=KIND_EVENTFD) +
            msg(SET_VRING_KICK, u64(idx), nfds=1, kinds=KIND_EVENTFD) +
            msg(SET_VRING_ENABLE, state(idx, 1), flags=VERSION | NEED_REPLY))


def negotiate():
    return (msg(GET_FEATURES) + msg(SET_FEATURES, u64(FEATURES)) + msg(GET_PROTOCOL_FEATURES) +
            msg(SET_PROTOCOL_FEATURES, u64(PROTO)) + msg(GET_QUEUE_NUM) + msg(SET_OWNER) +
            msg(GET_MAX_MEM_SLOTS))


def set_mem_table():
    return msg(SET_MEM_TABLE, mem_table([region(0, MEM_SIZE, UVA, 0)]), nfds=1,
               kinds=KIND_MEMFD_1M)


def guest_write(offset, blob, region_sel=0):
    body = struct.pack("<I", offset) + blob
    return struct.pack("<BBH", 0x80, region_sel, len(body)) + body


def post_requests(idx):
    """The guest posts two requests on ring idx (as laid out by vring_setup): a
    2-descriptor chain and an indirect one."""
    base = 0x10000 * (idx + 1)
    data = 0x80000 + 0x1000 * idx
    table = desc(data + 0x200, 16, F_NEXT, 1) + desc(data + 0x400, 96, F_WRITE, 0)
    return (guest_write(base, desc(data, 64, F_NEXT, 1) + desc(data + 0x100, 512, F_WRITE, 0) +
                        desc(data + 0x800, 32, F_INDIRECT, 0)) +
            guest_write(data + 0x800, table) +
            guest_write(base + 0x1000, struct.pack("<HHHH", 0, 2, 0, 2)))


def inflight(num_queues, queue_size, size=0):
    return struct.pack("<QQHHI", size, 0, num_queues, queue_size, 0)


def gen_vu_msg():
    q = bytes([3])  # max_queues 4
    write("vu_msg", "handshake", q + negotiate() + set_mem_table() +
          b"".join(vring_setup(i) for i in range(3)) + msg(SET_STATUS, u64(0xf)) +
          msg(GET_STATUS))
    write("vu_msg", "handshake_requests", q + negotiate() + set_mem_table() +
          b"".join(vring_setup(i) for i in range(3)) + post_requests(0) + post_requests(2) +
          msg(GET_VRING_BASE, state(2, 0)))
    write("vu_msg", "handshake_get_inflight", q + negotiate() + set_mem_table() +
          msg(GET_INFLIGHT_FD, inflight(3, 128)) + b"".join(vring_setup(i) for i in range(3)))
    # 64 KiB memfd, as much as 3 queues of 128 entries need.
    write("vu_msg", "handshake_set_inflight", q + negotiate() + set_mem_table() +
          msg(SET_INFLIGHT_FD, inflight(3, 128, 0x10000), nfds=1, kinds=KIND_MEMFD_64K) +
          b"".join(vring_setup(i) for i in range(3)) + post_requests(1))
    write("vu_msg", "mem_slots", q + negotiate() +
          msg(ADD_MEM_REG, u64(0) + region(0, MEM_SIZE, UVA, 0), nfds=1, kinds=KIND_MEMFD_1M) +
          vring_setup(0) +
          msg(REM_MEM_REG, u64(0) + region(0, MEM_SIZE, UVA, 0), nfds=1, kinds=KIND_MEMFD_1M) +
          msg(GET_VRING_BASE, state(0, 0)))
    write("vu_msg", "stop_and_reset", q + negotiate() + set_mem_table() + vring_setup(2) +
          msg(GET_VRING_BASE, state(2, 0)) + msg(RESET_DEVICE) + vring_setup(2, 256) +
          msg(RESET_OWNER))
    # Two regions, the rings in the second; then a table whose second of three regions overlaps
    # the first.
    two = mem_table([region(0, MEM_SIZE, UVA, 0), region(0x100000000, MEM_SIZE, UVA + 0x40000000, 0)])
    bad = mem_table([region(0, MEM_SIZE, UVA, 0), region(0x80000, MEM_SIZE, UVA + 0x40000000, 0),
                     region(0x200000000, MEM_SIZE, UVA + 0x80000000, 0)])
    write("vu_msg", "two_regions", q + negotiate() + msg(SET_MEM_TABLE, two, nfds=2) +
          msg(SET_VRING_NUM, state(0, 64)) +
          msg(SET_VRING_ADDR, vring_addr(0, UVA + 0x40000000, UVA + 0x40002000, UVA + 0x40001000)) +
          msg(SET_VRING_KICK, u64(0), nfds=1, kinds=KIND_EVENTFD) +
          msg(SET_VRING_ENABLE, state(0, 1)) + msg(SET_MEM_TABLE, bad, nfds=3))
    write("vu_msg", "no_protocol_features", bytes([1]) + msg(GET_FEATURES) +
          msg(SET_FEATURES, u64(1 << 32)) + set_mem_table() + vring_setup(0, 8) +
          msg(SET_VRING_ERR, u64(0x100)))


# ---------------------------------------------------------------- inflight
# Opcodes and argument encodings: see the header comment of fuzz/fuzz_inflight.c.
(I_NUM, I_ADDR, I_BASE, I_KICK, I_CALL, I_ENABLE, I_GET_BASE, I_GET_INFLIGHT, I_SET_INFLIGHT,
 I_FE_EDIT, I_AVAIL, I_DESC, I_STORE, I_WORKER, I_COMPLETE, I_RECOVER, I_RESTART, I_FEATURES,
 I_RESET, I_MEM) = range(20)
I_EVENT_IDX, I_INDIRECT, I_NO_PROTOCOL = 1, 2, 4


def i_head(max_queues, bits):
    return bytes([max_queues - 1, bits])


def i_size(log2=None, raw=None):
    """A queue size argument: 1 << log2 (log2 < 11), or a raw le16."""
    return bytes([log2]) if raw is None else bytes([0x80]) + struct.pack("<H", raw)


def i_nq(n):
    """num_queues 1..max_queues (as 1 + n mod max_queues; n < max_queues here)."""
    return bytes([n - 1])


def i_ring(q, log2=7, base=0, enable=True):
    """A ring as QEMU starts it: NUM, BASE, ADDR (canonical layout at (q + 1) * 32 KiB), CALL,
    KICK, ENABLE."""
    ops = (bytes([I_NUM, q]) + i_size(log2) + bytes([I_BASE, q]) + struct.pack("<H", base) +
           bytes([I_ADDR, q, q + 1, I_CALL, q, 0, I_KICK, q, 0]))
    return ops + (bytes([I_ENABLE, q, 1]) if enable else b"")


def i_desc(q, i, gpa, length, flags=0, nxt=0):
    return bytes([I_DESC, q]) + struct.pack("<HHHBH", i, gpa // 32, length, flags, nxt)


def i_avail(q, heads):
    return bytes([I_AVAIL, q, len(heads) - 1]) + b"".join(struct.pack("<H", h) for h in heads)


def i_requests(q, n):
    """n one-descriptor requests (heads 0..n-1, writable buffers at 1 MiB) made available."""
    return (b"".join(i_desc(q, i, 0x100000 + 0x1000 * i, 512, F_WRITE) for i in range(n)) +
            i_avail(q, list(range(n))))


def i_store(offset, blob):
    """The guest stores blob at offset of its memory."""
    return bytes([I_STORE]) + struct.pack("<HBB", offset & 0xFFFF, offset >> 16, len(blob)) + blob


def i_worker(q, budget, hold=0):
    return bytes([I_WORKER, q, budget - 1, hold])


def i_set_inflight(nq, log2, file_kb=64, mode=1, reuse=False, headers=None, slots=(),
                   off_pages=0):
    """SET_INFLIGHT_FD; headers = (desc_num log2, last_batch_head, used_idx) written into
    every queue first, slots = [(queue, head, inflight, counter)]."""
    src = (1 if reuse else 0) | (2 if headers else 0)
    out = bytes([I_SET_INFLIGHT, src])
    if not reuse:
        out += bytes([file_kb * 2])
    out += bytes([mode, off_pages]) + i_nq(nq) + i_size(log2)
    if headers:
        out += i_size(headers[0]) + struct.pack("<HH", headers[1], headers[2])
    out += bytes([len(slots)])
    for k, head, flag, counter in slots:
        out += bytes([k]) + struct.pack("<H", head) + bytes([flag]) + struct.pack("<H", counter)
    return out


def gen_inflight():
    ev = I_EVENT_IDX | I_INDIRECT
    # QEMU's first start: GET_INFLIGHT_FD, three rings, requests popped, some held (inflight),
    # then the backend restarts, gets its region back and recovers/resubmits ring 0.
    write("inflight", "get_restart_recover",
          i_head(4, ev) + bytes([I_GET_INFLIGHT]) + i_nq(3) + i_size(7) +
          b"".join(i_ring(q) for q in range(3)) + i_requests(0, 4) + i_requests(2, 2) +
          i_worker(0, 4, hold=0b0101) + i_worker(2, 2) + bytes([I_COMPLETE, 0, 0]) +
          bytes([I_RESTART, 0]) + i_ring(0, base=4) + bytes([I_RECOVER, 0, 1]) +
          i_worker(0, 4))
    # A restarted backend handed a frontend-written region whose headers match the rings,
    # with two requests inflight on queue 0 (counters 1, 2) and one on queue 1.
    write("inflight", "set_prewritten_recover",
          i_head(4, ev) +
          i_set_inflight(3, 7, headers=(7, 0, 0),
                         slots=[(0, 5, 1, 2), (0, 3, 1, 1), (1, 0, 1, 7)]) +
          b"".join(i_ring(q, base=2) for q in range(3)) +
          # The guest had made 2 requests available on each ring before the restart.
          b"".join(i_store(0x8000 * (q + 1) + 16 * 128 + 2, struct.pack("<H", 2))
                   for q in range(3)) + bytes([I_RECOVER, 0, 1]) +
          bytes([I_RECOVER, 1, 0]) + i_requests(1, 3) + i_worker(1, 3, hold=0b10) +
          bytes([I_COMPLETE, 1, 0xff]))
    # GET, then the frontend hands the same file back with another layout (offset 0, size of
    # the file): what a confused or hostile frontend may do after a restart.
    write("inflight", "get_then_set_same_file",
          i_head(2, ev) + bytes([I_GET_INFLIGHT]) + i_nq(2) + i_size(6) + i_ring(0, 6) +
          i_ring(1, 6) + i_requests(0, 3) + i_worker(0, 3, hold=0b111) +
          i_set_inflight(2, 6, mode=0, reuse=True) + bytes([I_RECOVER, 0, 1]) +
          i_set_inflight(1, 5, mode=0, reuse=True) + i_ring(0, 5) + i_requests(0, 2) +
          i_worker(0, 2))
    # The frontend edits its region between steps: a slot marked inflight, a used_idx that
    # disagrees with the ring, a header that claims another ring size, then the ring is resized.
    write("inflight", "frontend_edits",
          i_head(2, ev) + i_set_inflight(2, 7, headers=(7, 0, 0)) + i_ring(0) + i_ring(1) +
          i_requests(0, 2) + i_worker(0, 2, hold=0b1) +
          bytes([I_FE_EDIT, 2, 0]) + struct.pack("<HBH", 9, 1, 40) +
          bytes([I_FE_EDIT, 1, 0, 3]) + struct.pack("<H", 77) + bytes([I_RECOVER, 0, 1]) +
          bytes([I_FE_EDIT, 3, 1]) + i_size(8) + bytes([I_NUM, 1]) + i_size(8) +
          bytes([I_FE_EDIT, 0]) + struct.pack("<HB", 0x10, 0) + bytes([3]) + b"\x01\x00\x40\x00" +
          i_requests(1, 2) + i_worker(1, 2))
    # No protocol features: rings enable themselves on kick; the region comes at an offset.
    write("inflight", "no_protocol_features_offset",
          i_head(1, I_NO_PROTOCOL) + i_set_inflight(1, 4, file_kb=16, mode=0, off_pages=2) +
          i_ring(0, 4, enable=False) + i_requests(0, 3) + i_worker(0, 3, hold=0b10) +
          bytes([I_RECOVER, 0, 1]))
    # The memory table shrinks under a running ring and comes back; a reset in between.
    write("inflight", "mem_table_and_reset",
          i_head(2, ev) + bytes([I_GET_INFLIGHT]) + i_nq(2) + i_size(7) + i_ring(0) +
          i_requests(0, 3) + i_worker(0, 1, hold=1) + bytes([I_MEM, 1]) + i_worker(0, 2) +
          bytes([I_COMPLETE, 0, 0xff, I_MEM, 0]) + i_worker(0, 2) + bytes([I_RESET, 0]) +
          i_ring(0, 8) + bytes([I_GET_BASE, 0, I_RESTART, 1]) +
          i_set_inflight(2, 7, mode=0, reuse=True) + i_ring(0) + bytes([I_RECOVER, 0, 1]))


# ---------------------------------------------------------------- virtq
VQ_MEM = 0x4000


def virtq_input(flags, log2num, d, a, u, descs, heads, script=b"", base=0, iov_max=1023,
                extra=()):
    img = bytearray(VQ_MEM)
    for i, dd in enumerate(descs):
        img[d + 16 * i:d + 16 * i + 16] = dd
    struct.pack_into("<HH", img, a, 0, base + len(heads))
    for i, h in enumerate(heads):
        struct.pack_into("<H", img, a + 4 + 2 * ((base + i) % (1 << log2num)), h)
    for off, blob in extra:
        img[off:off + len(blob)] = blob
    # Trailing zeroes are what the target assumes anyway: keep the seeds short.
    img = bytes(img).rstrip(b"\0")
    hdr = struct.pack("<BBHHHHHB3x", flags, log2num, d, a, u, base, iov_max, len(script))
    return hdr + script + img


def gen_virtq():
    # Rings of 8 at 0x0 / 0x200 / 0x400; data in A at 0x800, and 0x1000 (still A).
    two = [desc(0x800, 16, F_NEXT, 1), desc(0x1000, 512, F_WRITE, 0)]
    write("virtq", "chain2", virtq_input(0, 3, 0, 0x200, 0x400, two, [0]))
    write("virtq", "chain2_event_idx_inflight", virtq_input(2 | 8, 3, 0, 0x200, 0x400, two, [0],
                                                            base=0xfffe))
    # Indirect: one ring descriptor pointing at a 3-entry table at 0x600.
    table = desc(0x800, 16, F_NEXT, 1) + desc(0x900, 8, F_NEXT, 2) + desc(0x1000, 512, F_WRITE, 0)
    write("virtq", "indirect", virtq_input(4, 3, 0, 0x200, 0x400,
                                           [desc(0x600, 48, F_INDIRECT, 0)], [0],
                                           extra=[(0x600, table)]))
    # A buffer across the A/B boundary (adjacent layout) and one in B after a hole.
    write("virtq", "across_regions", virtq_input(0, 3, 0, 0x200, 0x400,
                                                 [desc(0x1f00, 0x200, F_NEXT, 1),
                                                  desc(0x2100, 64, F_WRITE, 0)], [0]))
    write("virtq", "hole_layout", virtq_input(1, 3, 0, 0x200, 0x400,
                                              [desc(0x100000 + 0x100, 64, F_WRITE, 0)], [0]))
    # Two requests: pop both and hold them, guest store to avail->idx, then complete out of order.
    script = bytes([1, 1, 3, 0x02, 0x02, 0x03, 0x00, 2, 1, 0x10, 0x00, 2, 0, 0x20, 0x00, 5, 4, 0])
    write("virtq", "script_hold", virtq_input(2, 3, 0, 0x200, 0x400,
                                              two + [desc(0x1800, 32, F_WRITE, 0)], [0, 2],
                                              script=script))
    # A loop (desc 0 -> 1 -> 0) and a ring with a bad head: both must end cleanly.
    write("virtq", "loop", virtq_input(0, 3, 0, 0x200, 0x400,
                                       [desc(0x800, 16, F_NEXT, 1), desc(0x900, 16, F_NEXT, 0)],
                                       [0, 9]))


# ---------------------------------------------------------------- virtq_packed
P_AVAIL, P_USED = 1 << 7, 1 << 15
PACKED_BASE = (1 << 15) | (1 << 31)  # both positions 0, both wrap counters 1


def pdesc(addr, length, buf_id, flags, wrap=True):
    """A packed descriptor the driver made available in the lap of wrap."""
    return struct.pack("<QIHH", addr, length, buf_id, flags | (P_AVAIL if wrap else P_USED))


def virtq_packed_input(flags, num, d, drv, dev, descs, script=b"", base=PACKED_BASE,
                       iov_max=1023, extra=()):
    img = bytearray(VQ_MEM)
    for i, dd in enumerate(descs):
        img[d + 16 * i:d + 16 * i + 16] = dd
    for off, blob in extra:
        img[off:off + len(blob)] = blob
    img = bytes(img).rstrip(b"\0")
    hdr = struct.pack("<BHHHHIHB", flags, num - 1, d, drv, dev, base, iov_max, len(script))
    return hdr + script + img


def gen_virtq_packed():
    # Rings of 8 at 0x0, driver area 0x200, device area 0x210; data from 0x800.
    two = [pdesc(0x800, 16, 0, F_NEXT), pdesc(0x1000, 512, 3, F_WRITE)]
    write("virtq_packed", "chain2", virtq_packed_input(0, 8, 0, 0x200, 0x210, two))
    # Event index on, the driver asking for an interrupt at position 2 (DESC).
    write("virtq_packed", "chain2_event_idx",
          virtq_packed_input(2, 8, 0, 0x200, 0x210, two + [pdesc(0x1800, 8, 4, F_WRITE)],
                             extra=[(0x200, struct.pack("<HH", 2 | (1 << 15), 2))]))
    table = (struct.pack("<QIHH", 0x800, 16, 0, 0) + struct.pack("<QIHH", 0x900, 8, 0, 0) +
             struct.pack("<QIHH", 0x1000, 512, 0, F_WRITE))
    write("virtq_packed", "indirect",
          virtq_packed_input(4, 8, 0, 0x200, 0x210, [pdesc(0x600, 48, 1, F_INDIRECT)],
                             extra=[(0x600, table)]))
    # A ring of 5 resumed at position 3 with both wrap counters at 0: a chain of
    # three runs over the ring's end into the next lap (wrap counter 1 again).
    lap = [pdesc(0x8c0, 8, 2, F_WRITE, wrap=True), b"\0" * 16, b"\0" * 16,
           pdesc(0x800, 8, 0, F_NEXT, wrap=False), pdesc(0x880, 8, 0, F_NEXT, wrap=False)]
    write("virtq_packed", "wrap5", virtq_packed_input(0, 5, 0, 0x200, 0x210, lap,
                                                      base=3 | (3 << 16)))
    # Hold two, a guest store, complete out of order, map a held one, hand one back.
    script = bytes([1, 1, 3, 0x00, 0x02, 0x01, 0x00, 7, 1, 0, 2, 1, 0x10, 0x00, 1, 8, 5, 4, 2, 0,
                    0, 0])
    write("virtq_packed", "script_hold",
          virtq_packed_input(2, 8, 0, 0x200, 0x210,
                             two + [pdesc(0x1800, 32, 5, F_WRITE), pdesc(0x1900, 8, 6, F_WRITE)],
                             script=script))
    # A chain that runs into a slot that is not available, and an ID past the ring.
    write("virtq_packed", "runaway",
          virtq_packed_input(0, 8, 0, 0x200, 0x210, [pdesc(0x800, 16, 0, F_NEXT)]))
    write("virtq_packed", "bad_id",
          virtq_packed_input(0, 8, 0, 0x200, 0x210, [pdesc(0x800, 16, 8, 0)]))


# ---------------------------------------------------------------- scsi
DIR_NONE, DIR_TO_DEV, DIR_FROM_DEV = 0, 1, 2


def scsi_input(lun_sel, direction, cdb, buf_len, niov=1, seed=0, ua=0, fault=0, data=b"",
               d_sense=0, wce_off=0):
    large = 0
    if buf_len > 0xFFFF:
        large, buf_len = 1, buf_len >> 4
    hdr = struct.pack("<BBBHBHB", lun_sel,
                      direction | (ua << 2) | (large << 5) | (d_sense << 6) | (wce_off << 7),
                      len(cdb), buf_len, niov - 1, seed, fault)
    return hdr + cdb.ljust(32, b"\0") + data


def gen_scsi():
    inq = bytes([0x12, 0, 0, 0, 96, 0])
    write("scsi", "inquiry", scsi_input(0, DIR_FROM_DEV, inq, 96))
    write("scsi", "inquiry_standin", scsi_input(5, DIR_FROM_DEV, inq, 96))
    for page in (0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2):
        write("scsi", "inquiry_vpd_%02x" % page,
              scsi_input(0, DIR_FROM_DEV, bytes([0x12, 1, page, 0, 255, 0]), 255, niov=3, seed=7))
    write("scsi", "test_unit_ready_ua", scsi_input(0, DIR_NONE, bytes(6), 0, ua=1))
    write("scsi", "request_sense", scsi_input(0, DIR_FROM_DEV, bytes([3, 0, 0, 0, 18, 0]), 18))
    write("scsi", "report_luns", scsi_input(5, DIR_FROM_DEV,
                                            bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]), 256))
    write("scsi", "read_capacity16", scsi_input(2, DIR_FROM_DEV,
                                                bytes([0x9E, 0x10]) + bytes(8) +
                                                struct.pack(">I", 32) + bytes(2), 32))
    write("scsi", "read10", scsi_input(0, DIR_FROM_DEV,
                                       bytes([0x28, 0]) + struct.pack(">IBHB", 8, 0, 4, 0),
                                       2048, niov=5, seed=3))
    write("scsi", "read10_fault", scsi_input(0, DIR_FROM_DEV,
                                             bytes([0x28, 0]) + struct.pack(">IBHB", 8, 0, 4, 0),
                                             2048, fault=1 << 3))
    write("scsi", "write16", scsi_input(3, DIR_TO_DEV,
                                        bytes([0x8A, 0x08]) + struct.pack(">QIBB", 0, 1, 0, 0),
                                        4096, niov=9, seed=11, data=bytes(range(256)) * 2))
    write("scsi", "write16_null_high_lba",
          scsi_input(2, DIR_TO_DEV, bytes([0x8A, 0]) + struct.pack(">QIBB", (1 << 31) - 8, 8,
                                                                   0, 0), 4096))
    unmap_params = struct.pack(">HH4x", 22, 16) + struct.pack(">QI4x", 8, 16)
    write("scsi", "unmap", scsi_input(0, DIR_TO_DEV, bytes([0x42, 0, 0, 0, 0, 0, 0]) +
                                      struct.pack(">HB", len(unmap_params), 0), 24,
                                      data=unmap_params))
    write("scsi", "write_same16_unmap",
          scsi_input(0, DIR_TO_DEV, bytes([0x93, 0x08]) + struct.pack(">QIBB", 0, 64, 0, 0), 512))
    write("scsi", "mode_sense10_all", scsi_input(0, DIR_FROM_DEV,
                                                 bytes([0x5A, 0, 0x3F, 0, 0, 0, 0, 1, 0, 0]),
                                                 256))
    write("scsi", "sync_cache10", scsi_input(0, DIR_NONE, bytes([0x35, 0]) + bytes(8), 0))
    write("scsi", "compare_and_write",
          scsi_input(0, DIR_TO_DEV, bytes([0x89, 0]) + struct.pack(">Q3xB2x", 4, 1), 1024))
    write("scsi", "compare_and_write_miscompare",
          scsi_input(0, DIR_TO_DEV, bytes([0x89, 0x08]) + struct.pack(">Q3xB2x", 4, 9),
                     18 * 512, niov=7, seed=5, data=bytes(700) + b"\x01"))
    write("scsi", "write_verify10_bytchk",
          scsi_input(0, DIR_TO_DEV, bytes([0x2E, 0x02]) + struct.pack(">IBHB", 8, 0, 9, 0),
                     9 * 512, niov=4, seed=9, data=bytes(range(256)) * 4))
    write("scsi", "write_verify16", scsi_input(1, DIR_TO_DEV,
                                               bytes([0x8E, 0]) + struct.pack(">QIBB", 2, 1, 0,
                                                                              0), 4096))
    write("scsi", "orwrite16", scsi_input(0, DIR_TO_DEV,
                                          bytes([0x8B, 0x08]) + struct.pack(">QIBB", 6, 9, 0, 0),
                                          9 * 512, niov=3, seed=2, data=b"\x11" * 900))
    write("scsi", "prefetch16", scsi_input(0, DIR_NONE,
                                           bytes([0x90, 0x02]) + struct.pack(">QIBB", 0, 8, 0, 0),
                                           0))
    write("scsi", "read_defect_data12",
          scsi_input(0, DIR_FROM_DEV, bytes([0xB7, 0x1D, 0, 0, 0, 0]) + struct.pack(">I", 8) +
                     bytes(2), 8))
    write("scsi", "report_opcodes", scsi_input(0, DIR_FROM_DEV,
                                               bytes([0xA3, 0x0C, 0, 0, 0, 0]) +
                                               struct.pack(">I", 4096) + bytes(2), 4096))
    write("scsi", "verify16_bytchk", scsi_input(1, DIR_TO_DEV,
                                                bytes([0x8F, 0x02]) + struct.pack(">QIBB", 1, 1,
                                                                                  0, 0), 4096))
    # SANITIZE: OVERWRITE parameter lists (good, inverted passes, bad lengths), BLOCK ERASE
    # with IMMED (it goes on after the task), EXIT FAILURE MODE, CRYPTOGRAPHIC ERASE (refused).
    for name, b1, plist in (("sanitize_overwrite", 0x01, bytes([0x01, 0, 0x02, 0]) + b"\xaa" * 512),
                            ("sanitize_overwrite_invert", 0x81, bytes([0x83, 0, 0, 3]) + b"xyz"),
                            ("sanitize_overwrite_short", 0x01, bytes([0x01, 0, 0x01, 0]) + b"p"),
                            ("sanitize_overwrite_count0", 0x01, bytes([0x00, 0, 0, 4]) + b"abcd")):
        write("scsi", name, scsi_input(0, DIR_TO_DEV,
                                       bytes([0x48, b1, 0, 0, 0, 0, 0]) +
                                       struct.pack(">HB", len(plist), 0), len(plist), niov=3,
                                       seed=4, data=plist))
    for name, b1 in (("sanitize_block_erase_immed", 0x82), ("sanitize_exit_failure", 0x1F),
                     ("sanitize_crypto_erase", 0x03)):
        write("scsi", name, scsi_input(0, DIR_NONE, bytes([0x48, b1]) + bytes(8), 0))
    write("scsi", "sanitize_block_erase_4k", scsi_input(3, DIR_NONE, bytes([0x48, 0x02]) + bytes(8),
                                                        0, fault=1 << 3))
    write("scsi", "prevent_allow", scsi_input(0, DIR_NONE, bytes([0x1E, 0, 0, 0, 1, 0]), 0))
    write("scsi", "start_stop_eject", scsi_input(0, DIR_NONE, bytes([0x1B, 0, 0, 0, 2, 0]), 0))
    write("scsi", "get_lba_status", scsi_input(0, DIR_FROM_DEV,
                                               bytes([0x9E, 0x12]) + struct.pack(">QI", 8, 520) +
                                               bytes(2), 520))
    # MODE SELECT: header (+ block descriptor) + caching page (WCE) + control page (D_SENSE).
    caching = bytes([0x08, 0x12, 0x00]) + bytes(17)
    control = bytes([0x0A, 0x0A, 0x04, 0x10]) + bytes(8)
    ms6 = bytes(4) + caching + control
    write("scsi", "mode_select6_pages", scsi_input(0, DIR_TO_DEV,
                                                   bytes([0x15, 0x10, 0, 0, len(ms6), 0]),
                                                   len(ms6), niov=3, seed=5, data=ms6))
    ms10 = bytes([0, 0, 0, 0, 1, 0, 0, 16]) + struct.pack(">Q4xI", 128, 512) + control
    write("scsi", "mode_select10_longlba", scsi_input(0, DIR_TO_DEV,
                                                      bytes([0x55, 0x10]) + bytes(5) +
                                                      struct.pack(">HB", len(ms10), 0),
                                                      len(ms10), data=ms10))
    bad = bytes([0, 0, 0, 8]) + struct.pack(">I", 0) + bytes([0, 0, 0x10, 0]) + caching
    write("scsi", "mode_select6_bad_block_size", scsi_input(0, DIR_TO_DEV,
                                                            bytes([0x15, 0x10, 0, 0, len(bad), 0]),
                                                            len(bad), data=bad))
    write("scsi", "mode_select6_wce_on", scsi_input(0, DIR_TO_DEV,
                                                    bytes([0x15, 0x10, 0, 0, 24, 0]), 24,
                                                    data=bytes(4) + bytes([0x08, 0x12, 0x04]) +
                                                    bytes(17), wce_off=1))
    write("scsi", "write10_write_through", scsi_input(0, DIR_TO_DEV,
                                                      bytes([0x2A, 0]) +
                                                      struct.pack(">IBHB", 8, 0, 2, 0), 1024,
                                                      wce_off=1, d_sense=1))
    write("scsi", "read10_beyond_desc_sense", scsi_input(2, DIR_FROM_DEV,
                                                         bytes([0x28, 0]) +
                                                         struct.pack(">IBHB", 0xFFFFFFFF, 0, 1, 0),
                                                         512, d_sense=1))
    # Reservations: PR OUT parameter lists (basic, REGISTER AND MOVE with a SAS
    # TransportID), PR IN of every service action, RESERVE/RELEASE(6/10).
    def prout(sa, scope_type, data):
        return bytes([0x5F, sa, scope_type, 0, 0]) + struct.pack(">IB", len(data), 0)

    basic = struct.pack(">QQ4xBBH", 0, 0xA, 0x05, 0, 0)
    write("scsi", "prout_register", scsi_input(0, DIR_TO_DEV, prout(0, 0, basic), 24, data=basic))
    basic = struct.pack(">QQ4xBBH", 0xA, 0, 0, 0, 0)
    write("scsi", "prout_reserve_we", scsi_input(0, DIR_TO_DEV, prout(1, 1, basic), 24,
                                                 data=basic))
    write("scsi", "prout_preempt_ea", scsi_input(0, DIR_TO_DEV, prout(5, 3, basic), 24,
                                                 niov=3, seed=4, data=basic))
    tid = bytes([0x06, 0, 0, 0]) + struct.pack(">Q", 0x5025653000000BBB) + bytes(12)
    move = struct.pack(">QQxBHI", 0xA, 0xB, 0x02, 1, len(tid)) + tid
    write("scsi", "prout_register_and_move", scsi_input(0, DIR_TO_DEV, prout(7, 1, move),
                                                        len(move), data=move))
    for sa in range(4):
        write("scsi", "prin_sa%d" % sa, scsi_input(0, DIR_FROM_DEV,
                                                   bytes([0x5E, sa]) + bytes(5) +
                                                   struct.pack(">HB", 512, 0), 512))
    write("scsi", "reserve6", scsi_input(0, DIR_NONE, bytes([0x16]) + bytes(5), 0))
    write("scsi", "release10", scsi_input(0, DIR_NONE, bytes([0x57]) + bytes(9), 0))
    # Completions after submit returns (fault byte bit 5), for the multi-step commands.
    deferred = 1 << 5
    write("scsi", "deferred_read10", scsi_input(0, DIR_FROM_DEV,
                                                bytes([0x28, 0]) + struct.pack(">IBHB", 8, 0, 4, 0),
                                                2048, fault=deferred))
    write("scsi", "deferred_write_same16",
          scsi_input(0, DIR_TO_DEV, bytes([0x93, 0]) + struct.pack(">QIBB", 0, 64, 0, 0), 512,
                     fault=deferred, data=b"\xa5" * 512))
    write("scsi", "deferred_unmap", scsi_input(0, DIR_TO_DEV, bytes([0x42, 0, 0, 0, 0, 0, 0]) +
                                               struct.pack(">HB", len(unmap_params), 0), 24,
                                               fault=deferred, data=unmap_params))
    write("scsi", "deferred_write_verify12_bytchk",
          scsi_input(0, DIR_TO_DEV, bytes([0xAE, 0x02]) + struct.pack(">IIBB", 8, 9, 0, 0),
                     9 * 512, fault=deferred, data=b"\x5a" * 600))
    write("scsi", "deferred_compare_and_write",
          scsi_input(0, DIR_TO_DEV, bytes([0x89, 0]) + struct.pack(">Q3xB2x", 4, 1), 1024,
                     fault=deferred | (1 << 3) | 1))

    # WRITE ATOMIC(16): LUN 0 takes up to 64 blocks, 1:5 (selector 4) in 4-block granules.
    write("scsi", "write_atomic16", scsi_input(0, DIR_TO_DEV,
                                               bytes([0x9C, 0x08]) + struct.pack(">QHHBB", 8, 0, 8,
                                                                                 0, 0),
                                               8 * 512, niov=3, seed=4, data=b"\x3c" * 900))
    write("scsi", "write_atomic16_granule", scsi_input(4, DIR_TO_DEV,
                                                       bytes([0x9C, 0]) +
                                                       struct.pack(">QHHBB", 2, 0, 4, 0, 0),
                                                       4 * 512))
    write("scsi", "write_atomic16_unsupported", scsi_input(1, DIR_TO_DEV,
                                                           bytes([0x9C, 0]) +
                                                           struct.pack(">QHHBB", 0, 0, 1, 0, 0),
                                                           4096))
    write("scsi", "deferred_write_atomic16",
          scsi_input(0, DIR_TO_DEV, bytes([0x9C, 0]) + struct.pack(">QHHBB", 0, 0, 4, 0, 0),
                     4 * 512, fault=deferred))
    # EXTENDED COPY(LID1): CSCDs name the harness's fixed NAAs (LUN index i: 0x50256530...0i).
    def cscd(i, bs=512):
        return (bytes([0xE4, 0, 0, 0, 0x01, 0x03, 0, 8]) + struct.pack(">Q", 0x5025653000000000 + i)
                + bytes(12) + bytes([0]) + struct.pack(">I", bs)[1:])

    def b2b(si, di, n, src, dst, cat=0):
        return bytes([0x02, cat, 0, 0x18]) + struct.pack(">HH2xHQQ", si, di, n, src, dst)

    def xcopy(lun_sel, cscds, segs, list_id=1, usage=0, fault=0, niov=1, extra=b""):
        tl, sl = b"".join(cscds), b"".join(segs)
        params = bytes([list_id, usage << 3]) + struct.pack(">H4xII", len(tl), len(sl), 0)
        params += tl + sl + extra
        return scsi_input(lun_sel, DIR_TO_DEV, bytes([0x83, 0]) + bytes(8) +
                          struct.pack(">I", len(params)) + bytes(2), len(params), niov=niov,
                          seed=3, fault=fault, data=params)
    write("scsi", "xcopy_within_lun", xcopy(0, [cscd(0)], [b2b(0, 0, 16, 0, 40)], niov=3))
    write("scsi", "xcopy_between_luns", xcopy(4, [cscd(0), cscd(4)],
                                              [b2b(0, 1, 8, 0, 50), b2b(1, 0, 4, 60, 2)]))
    write("scsi", "xcopy_overlap", xcopy(0, [cscd(0)], [b2b(0, 0, 100, 0, 10)], usage=2))
    write("scsi", "xcopy_readonly_dst", xcopy(0, [cscd(0), cscd(1, 4096)], [b2b(0, 1, 1, 0, 0)]))
    write("scsi", "xcopy_block_size_mismatch", xcopy(0, [cscd(1, 4096), cscd(0)],
                                                     [b2b(0, 1, 1, 0, 0)]))
    write("scsi", "xcopy_unknown_naa", xcopy(0, [cscd(9)], [b2b(0, 0, 1, 0, 0)]))
    write("scsi", "xcopy_bad_types", xcopy(0, [b"\xE0" + cscd(0)[1:]],
                                           [bytes([0x03, 0, 0, 0x10]) + bytes(16)]))
    write("scsi", "xcopy_bad_index_beyond_eol", xcopy(0, [cscd(0)],
                                                      [b2b(0, 0, 8, 0, 125), b2b(0, 3, 1, 0, 0)]))
    write("scsi", "xcopy_too_many", xcopy(0, [cscd(0)] * 9, [b2b(0, 0, 1, 0, 0)] * 17))
    write("scsi", "xcopy_truncated", xcopy(0, [cscd(0)], [b2b(0, 0, 1, 0, 0)[:20]]))
    write("scsi", "xcopy_null_lun_large", xcopy(2, [cscd(2)], [b2b(0, 0, 0xFFFF, 0, 1 << 30)]))
    write("scsi", "deferred_xcopy", xcopy(0, [cscd(0), cscd(4)], [b2b(0, 1, 8, 0, 8)],
                                          fault=deferred))
    write("scsi", "deferred_xcopy_fault", xcopy(0, [cscd(0)], [b2b(0, 0, 8, 0, 8)],
                                                fault=deferred | (1 << 3)))
    for sa, lid in ((0, 1), (3, 0)):
        write("scsi", "receive_copy_results_%02x" % sa,
              scsi_input(0, DIR_FROM_DEV, bytes([0x84, sa, lid]) + bytes(7) +
                         struct.pack(">I", 64) + bytes(2), 64))


def main():
    gen_vu_msg()
    gen_inflight()
    gen_virtq()
    gen_virtq_packed()
    gen_scsi()
    return 0


if __name__ == "__main__":
    sys.exit(main())
