/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz_inflight: the frontend model, the oracles and message sending (see inflight_fz.h). */
#include "inflight_fz.h"

struct vu_dev dev;
bool paused;
int sv[2] = { -1, -1 }; /* [0]: the daemon's end, [1]: the frontend's */
int gmem_fd = -1, kick_efd = -1, call_efd = -1;
uint8_t *gmem;                         /* the guest's (and frontend's) view of guest memory */
uint64_t dirty[GMEM_SIZE / PAGE / 64]; /* pages of it to clear before the next input */
unsigned max_q;                        /* this input's max_queues */
unsigned steps;                        /* pops and pushes so far */
uint8_t hdr_bits;                      /* input byte 1 */
struct iovec iovs[VIRTQ_MAX_IOV];
struct vu_inflight_entry entries[VIRTQ_MAX_SIZE];
uint16_t held[MAX_FQ][MAX_HELD];
unsigned nheld[MAX_FQ];
struct fe_region cur = { .fd = -1 };
void *cur_base; /* dev.inflight_base as last seen: a change means a new region */
size_t view_len;
uint8_t *shadow, *shadow_next;
bool trace; /* FUZZ_INFLIGHT_TRACE set: one line per operation on stderr */
unsigned npops, npushes;

void fz_bug(const char *what)
{
    fprintf(stderr, "fuzz_inflight: invariant broken: %s\n", what);
    __builtin_trap();
}

void op_pause(struct vu_dev *d)
{
    if (paused)
        fz_bug("pause while paused");
    paused = true;
}

void op_resume(struct vu_dev *d)
{
    if (!paused)
        fz_bug("resume while running");
    paused = false;
}

/* The device gives back what it held from a stopping ring (never completed: stays inflight). */
void op_queue_stop(struct vu_dev *d, unsigned idx)
{
    if (!paused)
        fz_bug("queue_stop while workers run");
    if (idx >= d->max_queues)
        fz_bug("queue_stop of a queue beyond max_queues");
    if (idx < MAX_FQ)
        nheld[idx] = 0;
}

static const struct vu_dev_ops ops = {
    .pause = op_pause,
    .resume = op_resume,
    .queue_stop = op_queue_stop,
};

/* ------------------------------------------------------------------ input */

unsigned take8(struct script *s)
{
    if (!s->left)
        return 0;
    s->left--;
    return *s->p++;
}

unsigned take16(struct script *s)
{
    unsigned lo = take8(s);
    return lo | take8(s) << 8;
}

unsigned take_queue(struct script *s)
{
    unsigned b = take8(s);
    return b < 0xf8 ? b % max_q : max_q + (b & 7);
}

unsigned take_size(struct script *s)
{
    unsigned b = take8(s);
    return b & 0x80 ? take16(s) : 1u << (b % 11);
}

unsigned take_nq(struct script *s)
{
    unsigned b = take8(s);
    return b < 0xf0 ? 1 + b % max_q : b - 0xf0;
}

/* ---------------------------------------------------------- fd and memory */

/*
 * Which fds are open (a bit per fd below FD_SET_MAX, a count of those above),
 * from a handle on /proc/self/fd kept open and rewound: three syscalls where
 * opendir/readdir/closedir take five.
 */

void fd_snapshot(struct fd_set_snap *fs)
{
    static int dir = -1;
    static char buf[64 << 10] __attribute__((aligned(8)));
    long got;

    memset(fs, 0, sizeof(*fs));
    if (dir < 0)
        dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0 || lseek(dir, 0, SEEK_SET) < 0)
        fz_bug("/proc/self/fd");
    /*
     * Read on to the 0 that marks the end: a short read is not the whole
     * directory, the kernel stops filling the buffer early when a signal is
     * pending (libFuzzer's timeout alarm).
     */
    while ((got = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
        for (long at = 0; at < got;) {
            const struct dirent64 *e = (const struct dirent64 *)(buf + at);
            at += e->d_reclen;
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            unsigned long fd = strtoul(e->d_name, NULL, 10);
            if (fd < FD_SET_MAX)
                fs->bits[fd / 64] |= 1ull << (fd % 64);
            else
                fs->high++;
        }
    }
    if (got < 0)
        fz_bug("getdents64");
}

/* Name every fd that differs between the two snapshots, then fail. */
void fd_compare(const struct fd_set_snap *before, const struct fd_set_snap *after)
{
    bool leak = before->high != after->high;

    for (unsigned fd = 0; fd < FD_SET_MAX; fd++) {
        bool was = before->bits[fd / 64] >> (fd % 64) & 1,
             is = after->bits[fd / 64] >> (fd % 64) & 1;
        if (was == is)
            continue;
        char path[64], target[256] = "?";
        snprintf(path, sizeof(path), "/proc/self/fd/%u", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 1] = 0;
        fprintf(stderr, "fuzz_inflight: fd %u %s during the input (%s)\n", fd,
                is ? "opened and left open" : "closed", target);
        leak = true;
    }
    if (leak)
        fz_bug("fd leak");
}

size_t page_up(uint64_t v)
{
    return (size_t)((v + PAGE - 1) / PAGE * PAGE);
}

void fz_init(void)
{
    log_set_level((enum log_level)(-1)); /* refusals are logged thousands of times a second */
    trace = getenv("FUZZ_INFLIGHT_TRACE") != NULL;
    gmem_fd = memfd_create("fuzz_inflight_guest", MFD_CLOEXEC);
    if (gmem_fd < 0 || ftruncate(gmem_fd, GMEM_SIZE) < 0)
        fz_bug("guest memfd");
    gmem = mmap(NULL, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem_fd, 0);
    if (gmem == MAP_FAILED)
        fz_bug("guest mmap");
    kick_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    call_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (kick_efd < 0 || call_efd < 0)
        fz_bug("eventfd");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        fz_bug("socketpair");
    shadow = malloc(SHADOW_MAX);
    shadow_next = malloc(SHADOW_MAX);
    if (!shadow || !shadow_next)
        fz_bug("malloc");
}

void mark_dirty(uint64_t off, uint64_t len)
{
    if (!len || off >= GMEM_SIZE)
        return;
    uint64_t last = off + len - 1 < GMEM_SIZE ? off + len - 1 : GMEM_SIZE - 1;
    for (uint64_t pg = off / PAGE; pg <= last / PAGE; pg++)
        dirty[pg / 64] |= 1ull << (pg % 64);
}

/* Back to all-zero guest memory, page by page: a whole memset would cost more than the run. */
void clear_dirty(void)
{
    for (unsigned w = 0; w < sizeof(dirty) / sizeof(dirty[0]); w++)
        while (dirty[w]) {
            unsigned b = (unsigned)__builtin_ctzll(dirty[w]);
            memset(gmem + ((size_t)w * 64 + b) * PAGE, 0, PAGE);
            dirty[w] &= dirty[w] - 1;
        }
}

void fe_close(struct fe_region *r)
{
    if (r->map)
        munmap(r->map, r->map_len);
    if (r->fd >= 0)
        close(r->fd);
    *r = (struct fe_region){ .fd = -1 };
}

/* Map the whole file for the frontend.  false if it cannot (empty file). */
bool fe_map(struct fe_region *r)
{
    r->map = NULL;
    r->map_len = page_up(r->file_size);
    if (!r->map_len)
        return false;
    /* A small file is populated at once: every page of it is compared anyway. */
    r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
                  MAP_SHARED | (r->map_len <= BIG_VIEW ? MAP_POPULATE : 0), r->fd, 0);
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------- oracles */

size_t queue_len(uint16_t qs)
{
    return vu_inflight_queue_size(qs);
}

/*
 * Every attached queue's part lies in the mapping, in its own slot of the
 * region.  Queues 0..n-1: this input's (max_q) after each step, all of them
 * at the end.
 */
void check_layout_upto(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        const struct virtq *vq = &dev.vrings[i].vq;
        if (!vq->inflight)
            continue;
        if (i >= dev.max_queues || !dev.inflight_base || i >= dev.inflight_num_queues || !vq->num)
            fz_bug("inflight attached to a queue without a region slot");
        size_t qlen = dev.inflight_queue_len;
        if ((char *)vq->inflight != (char *)dev.inflight_base + i * qlen)
            fz_bug("inflight part not where the queue's slot is");
        if (vu_inflight_queue_size(vq->num) > qlen)
            fz_bug("attached queue's part is larger than its slot");
        if ((size_t)(i + 1) * qlen > dev.inflight_len || dev.inflight_len > dev.inflight_map_len)
            fz_bug("attached queue's slot lies outside the mapping");
    }
}

void check_layout(void)
{
    check_layout_upto(max_q);
}

/* Whether the daemon has the frontend's cur mapped, with a shadow to compare. */
bool view_active(void)
{
    return dev.inflight_base && cur.map && view_len;
}

static const uint8_t zero_page[PAGE];
static unsigned char resident[SHADOW_MAX / PAGE + 1];

/* For a big view: which of its pages the file has (mincore); false for a small one. */
bool view_pages(const uint8_t *view, size_t len)
{
    if (len <= BIG_VIEW)
        return false;
    if (mincore((void *)view, len, resident) < 0)
        fz_bug("mincore");
    return true;
}

/*
 * Compare [lo, hi) of view and shadow (sparse: page by page as the file has
 * them; a hole reads as zeroes, so the shadow must be zero there).
 */
bool range_same(const uint8_t *view, size_t lo, size_t hi, bool sparse)
{
    if (!sparse)
        return memcmp(view + lo, shadow + lo, hi - lo) == 0;
    while (lo < hi) {
        size_t end = (lo / PAGE + 1) * PAGE < hi ? (lo / PAGE + 1) * PAGE : hi;
        const uint8_t *v = resident[lo / PAGE] & 1 ? view + lo : zero_page;
        if (memcmp(v, shadow + lo, end - lo) != 0)
            return false;
        lo = end;
    }
    return true;
}

/* Take [lo, hi) of the view into the shadow, without reading holes. */
void range_take(const uint8_t *view, size_t lo, size_t hi, bool sparse)
{
    if (!sparse) {
        memcpy(shadow + lo, view + lo, hi - lo);
        return;
    }
    while (lo < hi) {
        size_t end = (lo / PAGE + 1) * PAGE < hi ? (lo / PAGE + 1) * PAGE : hi;
        memcpy(shadow + lo, resident[lo / PAGE] & 1 ? view + lo : zero_page, end - lo);
        lo = end;
    }
}

/*
 * A copy of len bytes of a frontend mapping (at any offset), without reading
 * (allocating) the file's holes.
 */
void snapshot(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t lead = (uintptr_t)src & (PAGE - 1);

    if (len <= BIG_VIEW || len + lead > sizeof(resident) * PAGE) {
        memcpy(dst, src, len);
        return;
    }
    if (mincore((void *)(src - lead), len + lead, resident) < 0)
        fz_bug("mincore");
    for (size_t at = 0; at < len;) {
        size_t pg = (lead + at) / PAGE, end = (pg + 1) * PAGE - lead;
        size_t n = (end < len ? end : len) - at;
        memcpy(dst + at, resident[pg] & 1 ? src + at : zero_page, n);
        at += n;
    }
}

/*
 * Bytes of the region outside the parts of attached queues (only queue
 * `only` if >= 0) must be as the frontend left them; then take the allowed
 * parts' new contents into the shadow.  A queue's part is bounded by its own
 * slot, whatever size the daemon believes it has.
 */
void check_region(int only)
{
    const uint8_t *view;
    size_t qlen, pos = 0;
    bool sparse;

    check_layout();
    if (!view_active())
        return;
    view = cur.map + cur.off;
    sparse = view_pages(view, view_len);
    qlen = dev.inflight_queue_len;
    for (unsigned i = 0; i < dev.max_queues && i < dev.inflight_num_queues; i++) {
        const struct virtq *vq = &dev.vrings[i].vq;
        if (!vq->inflight || (only >= 0 && (unsigned)only != i))
            continue;
        size_t part = vu_inflight_queue_size(vq->num), a = i * qlen;
        size_t b = a + (part < qlen ? part : qlen);
        if (b > view_len)
            b = view_len;
        if (a > pos && !range_same(view, pos, a, sparse))
            fz_bug("write outside the attached queues' parts of the inflight region");
        if (b > a)
            range_take(view, a, b, sparse);
        if (b > pos)
            pos = b;
    }
    if (pos < view_len && !range_same(view, pos, view_len, sparse))
        fz_bug("write outside the attached queues' parts of the inflight region");
}

/* After a single pop or push: checked at once, unless the view is big (then per operation). */
void check_step(unsigned idx)
{
    if (view_len <= BIG_VIEW)
        check_region((int)idx);
}

/*
 * The frontend writes into the file of r through its mapping.  The shadow
 * follows whatever lands in cur's view, whether or not the daemon has it
 * mapped right now (it may get it back after a restart).
 */
void fe_write(const struct fe_region *r, uint64_t file_off, const void *p, size_t len)
{
    if (!r->map || file_off >= r->file_size)
        return;
    if (len > r->file_size - file_off)
        len = (size_t)(r->file_size - file_off);
    memcpy(r->map + file_off, p, len);
    if (r->map == cur.map && view_len && file_off + len > cur.off &&
        file_off < cur.off + view_len) {
        uint64_t a = file_off > cur.off ? file_off : cur.off;
        uint64_t b = file_off + len < cur.off + view_len ? file_off + len : cur.off + view_len;
        memcpy(shadow + (a - cur.off), (const uint8_t *)p + (a - file_off), (size_t)(b - a));
    }
}

void fe_write16(const struct fe_region *r, uint64_t file_off, uint16_t v)
{
    uint16_t le = htole16(v);
    fe_write(r, file_off, &le, sizeof(le));
}

/* A new region is what the daemon maps now: the frontend's view of it. */
void adopt_view(void)
{
    view_len = page_up(cur.size);
    if (cur.off + view_len > cur.map_len || view_len > SHADOW_MAX)
        fz_bug("daemon maps more of the file than it holds");
}

/* ------------------------------------------------------------ messages */

void msg_init(struct vu_msg *m, uint32_t req, const void *payload, uint32_t size)
{
    memset(&m->hdr, 0, sizeof(m->hdr));
    m->hdr.request = req;
    m->hdr.flags = VU_VERSION;
    m->hdr.size = size;
    if (size)
        memcpy(&m->payload, payload, size);
    m->nfds = 0;
}

/* Hand a well-formed message to the daemon (taking fd, if any); check the invariants. */
void handle(uint32_t req, const void *payload, uint32_t size, int fd)
{
    struct vu_msg m;
    int ret;

    msg_init(&m, req, payload, size);
    if (fd >= 0) {
        m.fds[0] = fd;
        m.nfds = 1;
    }
    ret = vu_dev_handle_msg(&dev, &m);
    if (ret < 0)
        fz_bug("a well-formed message dropped the connection");
    if (m.nfds)
        fz_bug("vu_dev_handle_msg left fds in the message");
    if (paused)
        fz_bug("message handled but workers left paused");
}

/* The reply to a request that always answers. */
void recv_reply(struct vu_msg *r, uint32_t req)
{
    if (vu_msg_recv(sv[1], r) != 1 || r->hdr.request != req || !(r->hdr.flags & VU_FLAG_REPLY))
        fz_bug("missing reply");
}

void send_u64(uint32_t req, uint64_t v)
{
    handle(req, &v, sizeof(v), -1);
}

void send_state(uint32_t req, unsigned idx, unsigned num)
{
    struct vu_vring_state st = { .index = idx, .num = num };
    handle(req, &st, sizeof(st), -1);
}

uint64_t features_from(unsigned bits)
{
    uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_SCSI_F_HOTPLUG);

    if (bits & 1)
        f |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
    if (bits & 2)
        f |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
    if (!(bits & 4))
        f |= 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;
    return f;
}

void send_mem_table(uint64_t size)
{
    struct vu_mem_table_msg t = { .nregions = 1 };

    t.regions[0] = (struct vu_mem_region_desc){ .gpa = 0, .size = size, .uva = GMEM_UVA };
    handle(VU_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), dup(gmem_fd));
}

/* A new connection as QEMU opens it: features, protocol features, owner, memory. */
void connect_dev(void)
{
    uint64_t proto = (1ULL << VU_PROTOCOL_F_MQ) | (1ULL << VU_PROTOCOL_F_REPLY_ACK) |
                     (1ULL << VU_PROTOCOL_F_RESET_DEVICE) |
                     (1ULL << VU_PROTOCOL_F_CONFIGURE_MEM_SLOTS);

    if (!(hdr_bits & 0x10))
        proto |= 1ULL << VU_PROTOCOL_F_INFLIGHT_SHMFD;
    vu_dev_init(&dev, &ops, NULL,
                (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
                    (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_SCSI_F_HOTPLUG),
                proto, max_q);
    dev.sock = sv[0];
    paused = false;
    cur_base = NULL;
    memset(nheld, 0, sizeof(nheld));
    send_u64(VU_SET_FEATURES, features_from(hdr_bits));
    if (!(hdr_bits & 4))
        send_u64(VU_SET_PROTOCOL_FEATURES, proto);
    handle(VU_SET_OWNER, NULL, 0, -1);
    if (!(hdr_bits & 8))
        send_mem_table(GMEM_SIZE);
}

void disconnect_dev(void)
{
    vu_dev_disconnect(&dev);
    if (paused)
        fz_bug("disconnect left workers paused");
    for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
        if (dev.vrings[i].kick_fd >= 0 || dev.vrings[i].vq.call_fd >= 0 ||
            dev.vrings[i].err_fd >= 0 || dev.vrings[i].vq.inflight)
            fz_bug("disconnect kept a vring fd or region");
    if (dev.mem.nregions || dev.inflight_base)
        fz_bug("disconnect kept memory mapped");
    cur_base = NULL;
    memset(nheld, 0, sizeof(nheld));
}

/* After any message: a region appearing or going away is only for GET/SET (and disconnect). */
void after_msg(void)
{
    if (dev.inflight_base != cur_base)
        fz_bug("the inflight region changed under an unrelated message");
    check_region(-1);
}
