/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: inflight I/O tracking (GET_INFLIGHT_FD / SET_INFLIGHT_FD)
 * together with the rings that write into the region.
 *
 * The input is a script played by a hostile frontend, its guest and the
 * daemon's worker against the real vu_dev_handle_msg(): well-formed
 * messages are built directly (as tests/unit/test_vu_dev.c does, so that
 * no execution is spent on framing, which fuzz_vu_msg covers), replies come
 * back over a socketpair.  The frontend keeps its own mapping of every
 * inflight fd it hands over or gets back and may rewrite any byte of it
 * between any two steps; the guest writes descriptors and avail entries into
 * a memfd-backed memory table; the worker pops and completes (or holds)
 * requests; a restart drops the connection and reconnects with the
 * frontend's region, then recovery collects and resubmits what is inflight.
 *
 * Input layout (missing bytes read as zero):
 *   [0]  max_queues - 1 (mod 8)
 *   [1]  bit 0 EVENT_IDX, 1 INDIRECT_DESC, 2 no VHOST_USER_F_PROTOCOL_FEATURES
 *        (rings enable themselves on kick), 3 no memory table at connect,
 *        4 do not offer INFLIGHT_SHMFD
 *   then operations, [opcode mod 20][arguments]:
 *     0 SET_VRING_NUM   [q][size]            5 SET_VRING_ENABLE [q][v mod 3]
 *     1 SET_VRING_ADDR  [q][place]           6 GET_VRING_BASE   [q]
 *     2 SET_VRING_BASE  [q][le16]            7 GET_INFLIGHT_FD  [nq][size]
 *     3 SET_VRING_KICK  [q][bit 0: no fd]    8 SET_INFLIGHT_FD  see op_set_inflight()
 *     4 SET_VRING_CALL  [q][bit 0: no fd]    9 frontend edit    see op_fe_edit()
 *    10 guest avail     [q][n mod 8 + 1][le16 head]*n
 *    11 guest desc      [q][le16 i][le16 addr/32][le16 len][flags][le16 next]
 *    12 guest store     [le24 offset][n mod 16][bytes]*n
 *    13 worker          [q][budget mod 16 + 1][hold mask]
 *    14 complete held   [q][k] (k >= 0xf0: all)
 *    15 recover         [q][bit 0: resubmit]
 *    16 restart         [bit 0: no SET_INFLIGHT_FD on reconnect]
 *    17 SET_FEATURES    [bits as in [1], bit 3: a feature not offered]
 *    18 reset           [bit 0: RESET_OWNER, else RESET_DEVICE]
 *    19 memory table    [mod 4: full, half, ADD_MEM_REG, REM_MEM_REG]
 *   q: < 0xf8 a queue mod max_queues, else max_queues + (q & 7) (refused).
 *   size: bit 7 clear 1 << (size mod 11), set: a raw le16 follows.
 *   nq: < 0xf0 1 + nq mod max_queues, else nq - 0xf0 (0 and too many included).
 *   gen_corpus.py writes the seeds in this layout.
 *
 * Oracles, besides ASan/UBSan and the PROT_NONE guard page behind every
 * inflight mapping (a write past it is a SEGV):
 *  - every attached queue's part [i*qlen, i*qlen + size(num)) lies in the
 *    mapping and within its own qlen slot;
 *  - a shadow copy of the frontend's view of the region, kept up to date with
 *    the frontend's own writes: after each message no byte outside the
 *    attached queues' parts changed, after each pop/push/recover on queue i
 *    (each worker operation, for regions over 64 KiB) none outside queue i's;
 *  - a pop marks its head inflight with the next counter, a push clears it
 *    and records last_batch_head and used_idx; recover leaves used_idx equal
 *    to the ring's and the last completed head cleared; collect returns
 *    heads < queue size in counter order, and none once all are resubmitted;
 *  - replies describe the region the daemon mapped; refused GET/SET leave
 *    the old region; a restarted backend takes back what it took before;
 *  - pause/resume alternate, queue_stop only while paused; the disconnect
 *    leaves no fd, ring or mapping; the set of open fds is the same after
 *    the input as before it.
 *
 * FUZZ_INFLIGHT_TRACE=1 in the environment prints each operation and the
 * attached queues: for reading a crash input.
 */
#include "inflight_fz.h"

/* ----------------------------------------------------------- vring ops */

/* Where the ring parts of queue i live in guest memory (offsets), per what was sent. */
static bool ring_offsets(unsigned i, uint64_t *d, uint64_t *a, uint64_t *u)
{
    const struct vu_vring *vr = &dev.vrings[i];
    unsigned num = vr->vq.num;

    if (i >= max_q || !num || !vr->addr_set)
        return false;
    *d = vr->desc_uva - GMEM_UVA;
    *a = vr->avail_uva - GMEM_UVA;
    *u = vr->used_uva - GMEM_UVA;
    return *d <= GMEM_SIZE - vring_desc_size(num) && *a <= GMEM_SIZE - vring_avail_size(num) &&
           *u <= GMEM_SIZE - vring_used_size(num);
}

/*
 * Queue idx's used ring, as big as it is now, is about to be written by the
 * daemon (completions, flags, avail_event): memory to clear for the next input.
 */
static void used_dirty(unsigned idx)
{
    const struct vu_vring *vr = &dev.vrings[idx];

    if (idx < max_q && vr->vq.num && vr->used_uva >= GMEM_UVA)
        mark_dirty(vr->used_uva - GMEM_UVA, vring_used_size(vr->vq.num));
}

static void op_addr(struct script *s)
{
    unsigned idx = take_queue(s), place = take8(s);
    unsigned num = idx < max_q && dev.vrings[idx].vq.num ? dev.vrings[idx].vq.num : 128;
    struct vu_vring_addr a = { .index = idx };
    uint64_t d, av, u;

    if (place < 0xc0) {
        d = (uint64_t)(place % 64) * (32u << 10);
        av = d + vring_desc_size(num);
        u = (av + vring_avail_size(num) + 3) & ~3ull;
    } else {
        d = (uint64_t)take16(s) * 32;
        av = (uint64_t)take16(s) * 32 + (place & 1);
        u = (uint64_t)take16(s) * 32;
    }
    a.desc_uva = GMEM_UVA + d;
    a.avail_uva = GMEM_UVA + av;
    a.used_uva = GMEM_UVA + u;
    handle(VU_SET_VRING_ADDR, &a, sizeof(a), -1);
    after_msg();
}

static void op_vring_fd(struct script *s, uint32_t req, int efd)
{
    unsigned idx = take_queue(s), flags = take8(s);
    uint64_t v = idx & VU_VRING_IDX_MASK;

    if (flags & 1)
        v |= VU_VRING_NOFD_MASK;
    handle(req, &v, sizeof(v), flags & 1 ? -1 : dup(efd));
    after_msg();
}

static void op_get_base(struct script *s)
{
    unsigned idx = take_queue(s);
    struct vu_msg r;

    send_state(VU_GET_VRING_BASE, idx, 0);
    if (idx < max_q) {
        recv_reply(&r, VU_GET_VRING_BASE);
        vu_msg_close_fds(&r);
    }
    after_msg();
}

/* --------------------------------------------------------- inflight ops */

static void op_get_inflight(struct script *s)
{
    struct vu_inflight_msg in = { 0 };
    struct vu_msg r;

    in.num_queues = (uint16_t)take_nq(s);
    in.queue_size = (uint16_t)take_size(s);
    handle(VU_GET_INFLIGHT_FD, &in, sizeof(in), -1);
    recv_reply(&r, VU_GET_INFLIGHT_FD);
    if (dev.inflight_base == cur_base) {
        /* Refused: no fd, and the old region stays. */
        if (r.nfds || r.payload.inflight.mmap_size)
            fz_bug("refused GET_INFLIGHT_FD returned a region");
        vu_msg_close_fds(&r);
        after_msg();
        return;
    }
    if (r.nfds != 1 || r.payload.inflight.mmap_size != dev.inflight_len ||
        r.payload.inflight.mmap_offset != 0 || dev.inflight_num_queues != in.num_queues ||
        dev.inflight_queue_len != queue_len(in.queue_size) ||
        dev.inflight_len < (size_t)in.num_queues * dev.inflight_queue_len)
        fz_bug("GET_INFLIGHT_FD reply does not describe the region");
    fe_close(&cur);
    cur.fd = r.fds[0];
    r.fds[0] = -1;
    r.nfds = 0;
    cur.file_size = r.payload.inflight.mmap_size;
    cur.off = 0;
    cur.size = r.payload.inflight.mmap_size;
    cur.nq = in.num_queues;
    cur.qs = in.queue_size;
    if (!fe_map(&cur))
        fz_bug("cannot map the region GET_INFLIGHT_FD returned");
    cur_base = dev.inflight_base;
    adopt_view();
    /* A fresh region: every queue initialised, as the frontend now sees it. */
    for (unsigned i = 0; i < cur.nq; i++)
        if (vu_inflight_queue_check(
                (const struct vu_inflight_split *)(cur.map + i * dev.inflight_queue_len),
                dev.vrings[i].vq.inflight ? dev.vrings[i].vq.num : cur.qs) < 0)
            fz_bug("GET_INFLIGHT_FD region not initialised");
    snapshot(shadow, cur.map, view_len);
    check_layout();
}

/* Where the frontend puts queue k's header in the file of r, by r's declared layout. */
static uint64_t fe_queue_off(const struct fe_region *r, unsigned k)
{
    return r->off + (uint64_t)k * queue_len(r->qs);
}

static void fe_write_header(const struct fe_region *r, unsigned k, unsigned version,
                            unsigned desc_num, unsigned lbh, unsigned used_idx)
{
    uint64_t q = fe_queue_off(r, k);

    fe_write16(r, q + offsetof(struct vu_inflight_split, version), (uint16_t)version);
    fe_write16(r, q + offsetof(struct vu_inflight_split, desc_num), (uint16_t)desc_num);
    fe_write16(r, q + offsetof(struct vu_inflight_split, last_batch_head), (uint16_t)lbh);
    fe_write16(r, q + offsetof(struct vu_inflight_split, used_idx), (uint16_t)used_idx);
}

static void fe_write_slot(const struct fe_region *r, unsigned k, unsigned head, unsigned inflight,
                          uint64_t counter)
{
    uint64_t at = fe_queue_off(r, k) + sizeof(struct vu_inflight_split) +
                  (uint64_t)head * sizeof(struct vu_inflight_desc_split);
    uint8_t flag = (uint8_t)inflight;
    uint64_t le = htole64(counter);

    fe_write(r, at + offsetof(struct vu_inflight_desc_split, inflight), &flag, 1);
    fe_write(r, at + offsetof(struct vu_inflight_desc_split, counter), &le, sizeof(le));
}

/*
 * SET_INFLIGHT_FD:
 *   [src] bit 0 hand back the frontend's current file (else a new memfd),
 *         1 write every queue's header, 2 with a fuzzed version (else 1)
 *   [file size / 512] (new memfd only; 0xff: [le16 file size / 64] follows)
 *   [size mode] mod 4: the file from the offset on, nq * qlen, nq * qlen + [le16],
 *         [le16][le16] raw
 *   [offset pages] bit 7: misaligned by 2 KiB
 *   [nq][size]
 *   headers (bit 1): [desc_num size][le16 last_batch_head][le16 used_idx] ([version] if bit 2)
 *   [n mod 8] slots: [k][le16 head][inflight][le16 counter]
 * The content is laid out by what the message declares, and written before
 * it is sent, as a frontend handing back a region after a restart does.
 */
static void op_set_inflight(struct script *s)
{
    unsigned src = take8(s);
    bool reuse = (src & 1) && cur.fd >= 0;
    struct fe_region next = { .fd = -1 };
    struct vu_inflight_msg in = { 0 };
    unsigned mode, offp, nslots;
    size_t qlen;

    if (reuse) {
        /* The same file, through the frontend's one mapping of it. */
        next = cur;
        next.fd = dup(cur.fd);
        if (next.fd < 0)
            fz_bug("dup");
    } else {
        /* Mostly small (cheap, and what the queue sizes need); sometimes up to 4 MiB. */
        unsigned fsz = take8(s);
        next.file_size = fsz == 0xff ? (uint64_t)take16(s) * 64 : (uint64_t)fsz * 512;
        next.fd = memfd_create("fuzz_inflight_fe", MFD_CLOEXEC);
        if (next.fd < 0 || ftruncate(next.fd, (off_t)next.file_size) < 0)
            fz_bug("inflight memfd");
        fe_map(&next);
    }
    mode = take8(s) % 4;
    offp = take8(s);
    in.mmap_offset = (uint64_t)(offp & 0x7f) * PAGE + (offp & 0x80 ? PAGE / 2 : 0);
    in.num_queues = (uint16_t)take_nq(s);
    in.queue_size = (uint16_t)take_size(s);
    qlen = queue_len(in.queue_size);
    switch (mode) {
    case 0:
        in.mmap_size = next.file_size > in.mmap_offset ? next.file_size - in.mmap_offset : 0;
        break;
    case 1:
        in.mmap_size = (uint64_t)in.num_queues * qlen;
        break;
    case 2:
        in.mmap_size = (uint64_t)in.num_queues * qlen + take16(s);
        break;
    default:
        in.mmap_size = take16(s);
        in.mmap_size |= (uint64_t)take16(s) << 16;
        break;
    }
    next.off = in.mmap_offset;
    next.size = in.mmap_size;
    next.nq = in.num_queues;
    next.qs = in.queue_size;

    if (src & 2) {
        unsigned dn = take_size(s), lbh = take16(s), uidx = take16(s);
        unsigned version = src & 4 ? take8(s) : VU_INFLIGHT_VERSION;
        for (unsigned k = 0; k < in.num_queues && k < MAX_FQ; k++)
            fe_write_header(&next, k, version, dn, lbh, uidx);
    }
    nslots = take8(s) % 8;
    for (unsigned n = 0; n < nslots; n++) {
        unsigned k = take8(s) % (in.num_queues ? in.num_queues : 1);
        unsigned head = take16(s), flag = take8(s);
        fe_write_slot(&next, k, head, flag, take16(s));
    }
    /* What the frontend expects the daemon to find, if it takes the region. */
    if (next.map && next.off < next.map_len) {
        size_t n = page_up(next.size);
        if (n > next.map_len - next.off)
            n = next.map_len - (size_t)next.off;
        if (n > SHADOW_MAX)
            n = SHADOW_MAX;
        snapshot(shadow_next, next.map + next.off, n);
    }

    handle(VU_SET_INFLIGHT_FD, &in, sizeof(in), dup(next.fd));
    if (dev.inflight_base == cur_base) {
        /* Refused: the old region, if any, stays as it was. */
        if (!reuse && next.map)
            munmap(next.map, next.map_len);
        close(next.fd);
        after_msg();
        return;
    }
    if (!next.map || dev.inflight_len != in.mmap_size || dev.inflight_queue_len != qlen ||
        dev.inflight_num_queues != in.num_queues)
        fz_bug("accepted SET_INFLIGHT_FD does not match what was sent");
    if (reuse) {
        close(cur.fd);
        cur.fd = -1;
        cur.map = NULL; /* now next's */
    }
    fe_close(&cur);
    cur = next;
    cur_base = dev.inflight_base;
    adopt_view();
    {
        uint8_t *t = shadow;
        shadow = shadow_next;
        shadow_next = t;
    }
    /* Attaching may initialise attached queues' parts: nothing else. */
    check_region(-1);
}

/*
 * The frontend rewrites its file:
 *   [sub mod 4] 0: [le24 offset in the region][n mod 16 + 1][bytes]
 *               1: header field [k][field mod 4][le16]
 *               2: slot [k][le16 head][inflight][le16 counter]
 *               3: header claims [k][desc_num size], version 1
 */
static void op_fe_edit(struct script *s)
{
    unsigned sub = take8(s) % 4;
    unsigned nq = cur.nq ? cur.nq : 1;

    switch (sub) {
    case 0: {
        uint64_t off = take16(s);
        off |= (uint64_t)take8(s) << 16;
        unsigned n = take8(s) % 16 + 1;
        uint8_t buf[16];
        for (unsigned i = 0; i < n; i++)
            buf[i] = (uint8_t)take8(s);
        fe_write(&cur, cur.off + off, buf, n);
        break;
    }
    case 1: {
        unsigned k = take8(s) % nq, field = take8(s) % 4;
        fe_write16(&cur, fe_queue_off(&cur, k) + 8 + 2 * field, (uint16_t)take16(s));
        break;
    }
    case 2: {
        unsigned k = take8(s) % nq, head = take16(s), flag = take8(s);
        fe_write_slot(&cur, k, head, flag, take16(s));
        break;
    }
    default: {
        unsigned k = take8(s) % nq, dn = take_size(s);
        uint64_t q = fe_queue_off(&cur, k);
        fe_write16(&cur, q + offsetof(struct vu_inflight_split, desc_num), (uint16_t)dn);
        fe_write16(&cur, q + offsetof(struct vu_inflight_split, version), VU_INFLIGHT_VERSION);
        break;
    }
    }
    /* Nothing the daemon did meanwhile: the shadow still matches. */
    check_region(-1);
}

/* ------------------------------------------------------------ the guest */

static void guest_store(uint64_t off, const void *p, size_t len)
{
    if (off >= GMEM_SIZE)
        return;
    if (len > GMEM_SIZE - off)
        len = (size_t)(GMEM_SIZE - off);
    memcpy(gmem + off, p, len);
    mark_dirty(off, len);
}

static void op_guest_avail(struct script *s)
{
    unsigned idx = take_queue(s), n = take8(s) % 8 + 1;
    uint64_t d, a, u;
    bool ok = ring_offsets(idx, &d, &a, &u);
    unsigned num = ok ? dev.vrings[idx].vq.num : 1;
    uint16_t aidx = 0;

    if (ok)
        memcpy(&aidx, gmem + a + 2, 2);
    aidx = le16toh(aidx);
    for (unsigned k = 0; k < n; k++) {
        uint16_t head = htole16((uint16_t)take16(s));
        if (ok)
            guest_store(a + 4 + 2 * ((aidx + k) & (num - 1)), &head, 2);
    }
    if (ok) {
        aidx = htole16((uint16_t)(aidx + n));
        guest_store(a + 2, &aidx, 2);
    }
}

static void op_guest_desc(struct script *s)
{
    unsigned idx = take_queue(s), i = take16(s);
    struct vring_desc_le dd;
    uint64_t d, a, u;

    dd.addr = htole64((uint64_t)take16(s) * 32);
    dd.len = htole32(take16(s));
    dd.flags = htole16((uint16_t)take8(s));
    dd.next = htole16((uint16_t)take16(s));
    if (ring_offsets(idx, &d, &a, &u))
        guest_store(d + 16 * (i & (dev.vrings[idx].vq.num - 1)), &dd, sizeof(dd));
}

static void op_guest_raw(struct script *s)
{
    uint64_t off = take16(s);
    uint8_t buf[16];
    unsigned n;

    off |= (uint64_t)take8(s) << 16;
    n = take8(s) % 16;
    for (unsigned i = 0; i < n; i++)
        buf[i] = (uint8_t)take8(s);
    guest_store(off % GMEM_SIZE, buf, n);
}

/* ----------------------------------------------------------- the worker */

static const struct vu_inflight_desc_split *slot_of(const struct virtq *vq, uint16_t head)
{
    return &vq->inflight->desc[head];
}

static void after_pop(unsigned idx, const struct virtq *vq, uint16_t head, bool resubmitted)
{
    if (head >= vq->num)
        fz_bug("popped head out of range");
    /*
     * A resubmitted head keeps the mark and counter an earlier instance gave
     * it (the frontend may have rewritten them since: nothing to check).
     */
    if (vq->inflight && !resubmitted) {
        const struct vu_inflight_desc_split *d = slot_of(vq, head);
        if (d->inflight != 1 || le64toh(d->counter) != vq->inflight_counter)
            fz_bug("pop did not mark its head inflight with the next counter");
    }
    check_step(idx);
}

static void push_one(unsigned idx, struct virtq *vq, uint16_t head)
{
    bool tracked = vq->inflight && vq->used;

    virtq_push(vq, head, 0);
    steps++;
    npushes++;
    if (tracked &&
        (slot_of(vq, head)->inflight != 0 || le16toh(vq->inflight->last_batch_head) != head ||
         le16toh(vq->inflight->used_idx) != vq->used_idx))
        fz_bug("push did not record its completion in the inflight region");
    check_step(idx);
}

static void op_worker(struct script *s)
{
    unsigned idx = take_queue(s), budget = take8(s) % 16 + 1, hold = take8(s);
    struct virtq_elem elem = { .iov = iovs, .iov_max = VIRTQ_MAX_IOV };
    struct virtq *vq;

    if (!vu_vring_ready(&dev, idx))
        return;
    vq = &dev.vrings[idx].vq;
    used_dirty(idx);
    if (!vq->desc || !vq->avail || !vq->used || vq->mem != &dev.mem)
        fz_bug("a ready ring without translated addresses");
    for (unsigned n = 0; n < budget && steps < MAX_STEPS; n++) {
        bool resubmitted = vq->resubmit_next < vq->resubmit_num;
        int ret = virtq_pop(vq, &elem);
        if (ret == 0 || ret == -EIO)
            break;
        if (resubmitted && elem.head != vq->resubmit[vq->resubmit_next - 1])
            fz_bug("resubmitted head out of order");
        steps++;
        npops++;
        after_pop(idx, vq, elem.head, resubmitted);
        if ((hold >> (n % 8) & 1) && nheld[idx] < MAX_HELD)
            held[idx][nheld[idx]++] = elem.head;
        else
            push_one(idx, vq, elem.head);
    }
    virtq_enable_notify(vq);
    virtq_notify(vq);
    check_region((int)idx);
}

static void op_complete(struct script *s)
{
    unsigned idx = take_queue(s), k = take8(s);

    if (idx >= max_q || !nheld[idx])
        return;
    struct virtq *vq = &dev.vrings[idx].vq;
    used_dirty(idx);
    if (k >= 0xf0) {
        while (nheld[idx])
            push_one(idx, vq, held[idx][--nheld[idx]]);
    } else {
        k %= nheld[idx];
        uint16_t head = held[idx][k];
        held[idx][k] = held[idx][--nheld[idx]];
        push_one(idx, vq, head);
    }
    virtq_notify(vq);
    check_region((int)idx);
}

/*
 * What a restarted backend does before serving a ring (virtq_recover_inflight,
 * which SET_VRING_KICK also runs): finish a completion the previous instance
 * published but did not record, then queue what is inflight, oldest first,
 * ahead of the avail ring.  The requests this instance holds are forgotten,
 * as a restart forgets them.
 */
static void op_recover(struct script *s)
{
    unsigned idx = take_queue(s), flags = take8(s);
    struct virtq_elem elem = { .iov = iovs, .iov_max = VIRTQ_MAX_IOV };
    struct virtq *vq;
    struct vu_inflight_split *q;
    uint16_t ring_used, lbh;
    bool stale;
    int n;

    if (idx >= max_q || !dev.vrings[idx].vq.inflight || !dev.vrings[idx].vq.used ||
        !dev.vrings[idx].vq.avail)
        return;
    vq = &dev.vrings[idx].vq;
    used_dirty(idx);
    q = vq->inflight;
    ring_used = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_RELAXED));
    stale = le16toh(q->used_idx) != ring_used;
    lbh = le16toh(q->last_batch_head);
    nheld[idx] = 0;
    n = virtq_recover_inflight(vq);
    check_region((int)idx);
    if (n == -EINVAL || n == 0)
        return; /* a broken header, a region not to be believed, or nothing to do */
    if (n < 0 || n > vq->num || (unsigned)n != vq->resubmit_num)
        fz_bug("recovery failed with room for every head");
    if (le16toh(q->used_idx) != ring_used)
        fz_bug("recover left used_idx different from the ring's");
    if (stale && lbh < vq->num && q->desc[lbh].inflight)
        fz_bug("recover left the last completed head inflight");
    if (vq->last_avail_idx != (uint16_t)(ring_used + n))
        fz_bug("recovery did not move the avail base past the resubmitted requests");
    for (int i = 0; i < n; i++) {
        uint16_t h = vq->resubmit[i];
        if (h >= vq->num || !q->desc[h].inflight)
            fz_bug("resubmitting a head that is not inflight");
        if (i && le64toh(q->desc[h].counter) < le64toh(q->desc[vq->resubmit[i - 1]].counter))
            fz_bug("resubmission not in counter order");
    }
    if (vq->inflight_counter != le64toh(q->desc[vq->resubmit[n - 1]].counter))
        fz_bug("the pop counter does not continue after the newest inflight request");
    if (!(flags & 1))
        return;
    /* Resubmit and complete them all. */
    for (int i = 0; i < n && steps < MAX_STEPS; i++) {
        int ret = virtq_pop(vq, &elem);
        if (ret == -EIO && vq->broken)
            return; /* the guest broke the ring earlier: nothing is served */
        if (ret != 1 && ret != -EBADMSG)
            fz_bug("unexpected virtq_pop result for a resubmitted head");
        push_one(idx, vq, elem.head);
    }
    check_region((int)idx);
    if (steps >= MAX_STEPS)
        return;
    n = vu_inflight_collect(q, vq->num, entries, vq->num);
    if (n != 0 && n != -EINVAL)
        fz_bug("heads still inflight after resubmitting them all");
    virtq_notify(vq);
}

/* The backend dies and comes back; the frontend hands its region back as QEMU does. */
static void op_restart(struct script *s)
{
    unsigned flags = take8(s);

    disconnect_dev();
    check_layout();
    connect_dev();
    after_msg();
    if ((flags & 1) || cur.fd < 0)
        return;
    struct vu_inflight_msg in = {
        .mmap_size = cur.size, .mmap_offset = cur.off, .num_queues = cur.nq, .queue_size = cur.qs
    };
    handle(VU_SET_INFLIGHT_FD, &in, sizeof(in), dup(cur.fd));
    if (!dev.inflight_base)
        fz_bug("the region accepted before is refused after a restart");
    cur_base = dev.inflight_base;
    /* The file kept what the frontend expects: the shadow carries over. */
    adopt_view();
    check_region(-1);
}

static void op_mem(struct script *s)
{
    unsigned sel = take8(s) % 4;
    struct vu_mem_single_msg m = { 0 };

    m.region = (struct vu_mem_region_desc){ .gpa = 0, .size = GMEM_SIZE, .uva = GMEM_UVA };
    switch (sel) {
    case 0:
        send_mem_table(GMEM_SIZE);
        break;
    case 1:
        send_mem_table(GMEM_SIZE / 2);
        break;
    case 2:
        handle(VU_ADD_MEM_REG, &m, sizeof(m), dup(gmem_fd));
        break;
    default:
        handle(VU_REM_MEM_REG, &m, sizeof(m), -1);
        break;
    }
    after_msg();
}

/* Debugging aid: the state before each operation. */
static void trace_state(unsigned op)
{
    static const char *const names[20] = {
        "NUM",          "ADDR",         "BASE",    "KICK",     "CALL",  "ENABLE", "GET_BASE",
        "GET_INFLIGHT", "SET_INFLIGHT", "FE_EDIT", "AVAIL",    "DESC",  "STORE",  "WORKER",
        "COMPLETE",     "RECOVER",      "RESTART", "FEATURES", "RESET", "MEM",
    };
    fprintf(stderr, "[pops %u pushes %u region %p len %zu qlen %zu nq %u] attached:", npops,
            npushes, dev.inflight_base, dev.inflight_len, dev.inflight_queue_len,
            dev.inflight_num_queues);
    for (unsigned i = 0; i < max_q; i++)
        if (dev.vrings[i].vq.inflight)
            fprintf(stderr, " %u(num %u%s)", i, dev.vrings[i].vq.num,
                    vu_vring_ready(&dev, i) ? " ready" : "");
    fprintf(stderr, "\n%s\n", names[op]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool inited;
    struct script s = { .p = data, .left = size };
    struct fd_set_snap fds_at_start, fds_at_end;

    if (!inited) {
        fz_init();
        inited = true;
    }
    clear_dirty();
    steps = 0;
    npops = npushes = 0;
    max_q = take8(&s) % MAX_FQ + 1;
    hdr_bits = (uint8_t)take8(&s);
    /* Counted per input: libFuzzer itself opens files between inputs. */
    fd_snapshot(&fds_at_start);

    connect_dev();
    check_layout_upto(VU_MAX_QUEUES);
    for (unsigned nops = 0; s.left && nops < MAX_OPS; nops++) {
        unsigned op = take8(&s) % 20;
        if (trace)
            trace_state(op);
        switch (op) {
        case 0: {
            unsigned idx = take_queue(&s);
            send_state(VU_SET_VRING_NUM, idx, take_size(&s));
            after_msg();
            break;
        }
        case 1:
            op_addr(&s);
            break;
        case 2: {
            unsigned idx = take_queue(&s);
            send_state(VU_SET_VRING_BASE, idx, take16(&s));
            after_msg();
            break;
        }
        case 3:
            op_vring_fd(&s, VU_SET_VRING_KICK, kick_efd);
            break;
        case 4:
            op_vring_fd(&s, VU_SET_VRING_CALL, call_efd);
            break;
        case 5: {
            unsigned idx = take_queue(&s);
            send_state(VU_SET_VRING_ENABLE, idx, take8(&s) % 3);
            after_msg();
            break;
        }
        case 6:
            op_get_base(&s);
            break;
        case 7:
            op_get_inflight(&s);
            break;
        case 8:
            op_set_inflight(&s);
            break;
        case 9:
            op_fe_edit(&s);
            break;
        case 10:
            op_guest_avail(&s);
            break;
        case 11:
            op_guest_desc(&s);
            break;
        case 12:
            op_guest_raw(&s);
            break;
        case 13:
            op_worker(&s);
            break;
        case 14:
            op_complete(&s);
            break;
        case 15:
            op_recover(&s);
            break;
        case 16:
            op_restart(&s);
            break;
        case 17: {
            unsigned bits = take8(&s);
            uint64_t f = features_from(bits);
            if (bits & 8)
                f |= 1ULL << 50;
            send_u64(VU_SET_FEATURES, f);
            after_msg();
            break;
        }
        case 18:
            handle(take8(&s) & 1 ? VU_RESET_OWNER : VU_RESET_DEVICE, NULL, 0, -1);
            after_msg();
            break;
        default:
            op_mem(&s);
            break;
        }
    }

    check_layout_upto(VU_MAX_QUEUES);
    disconnect_dev();
    fe_close(&cur);
    view_len = 0;
    {
        /* Nothing may be left on the socket: every answer was read where it was due. */
        char c;
        if (recv(sv[1], &c, 1, MSG_DONTWAIT) >= 0 || errno != EAGAIN)
            fz_bug("an unexpected reply");
    }
    fd_snapshot(&fds_at_end);
    if (memcmp(&fds_at_start, &fds_at_end, sizeof(fds_at_end)) != 0)
        fd_compare(&fds_at_start, &fds_at_end);
    return 0;
}
