/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fio external ioengine: drives a vhost-user-scsi backend directly through
 * the frontend library, no VM.
 *
 *   fio --ioengine=external:build/fio-vhost-user-scsi.so --socket=PATH --lun=N \
 *       [--target=T] [--num_queues=Q] [--queue_size=S] [--fua=1] [--indirect=1] [--packed=1] ...
 *
 * One connection per socket per fio run, opened by the first job's setup in
 * fio's main process before jobs start; each job (thread or process) owns
 * one request queue and a slice of the guest memory holding its I/O
 * buffers, so the data path needs no lock and no control message.  Several
 * jobs need num_queues >= number of jobs (the default is the number of jobs).
 *
 * The memory of every job is sized and shared once, in the handshake's
 * SET_MEM_TABLE: a backend needs no CONFIGURE_MEM_SLOTS (SPDK offers none),
 * and no job changes the table under another job's I/O, which matters for
 * processes too (each has its own copy of the library's state after fork).
 * Everything else the library negotiates only when offered.
 *
 * Built against the headers of the exact fio version that loads it
 * (tools/fio/fetch-fio-src.sh): struct thread_data's layout changes between
 * fio releases.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fio.h"
#include "optgroup.h"

#include "frontend/vus_frontend.h"

struct vus_fio_options {
    void *pad; /* fio wants the first member to be a pointer */
    char *socket;
    unsigned int lun;
    unsigned int target;
    unsigned int num_queues;
    unsigned int queue_size;
    unsigned int fua;
    unsigned int indirect;
    unsigned int packed;
};

static struct fio_option options[] = {
    {
        .name = "socket",
        .lname = "vhost-user socket",
        .type = FIO_OPT_STR_STORE,
        .off1 = offsetof(struct vus_fio_options, socket),
        .help = "UNIX socket of the vhost-user-scsi backend",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "lun",
        .lname = "LUN",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct vus_fio_options, lun),
        .def = "0",
        .help = "LUN number on the target",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "target",
        .lname = "target",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct vus_fio_options, target),
        .def = "0",
        .help = "SCSI target number",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "num_queues",
        .lname = "request queues",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct vus_fio_options, num_queues),
        .def = "0",
        .help = "Request queues to set up (0: one per job)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "queue_size",
        .lname = "ring size",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct vus_fio_options, queue_size),
        .def = "0",
        .help = "Entries per ring, a power of two (0: iodepth rounded up, at least 128)",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "fua",
        .lname = "FUA writes",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct vus_fio_options, fua),
        .def = "0",
        .help = "Set FUA on writes",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "indirect",
        .lname = "indirect descriptors",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct vus_fio_options, indirect),
        .def = "0",
        .help = "Submit each request through an indirect descriptor table",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "packed",
        .lname = "packed rings",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct vus_fio_options, packed),
        .def = "0",
        .help = "Use packed virtqueues (VIRTIO_F_RING_PACKED) instead of split ones",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = NULL,
    },
};

/* The connection shared by every job of this fio run. */
static struct {
    pthread_mutex_t lock;
    struct vus_fe *fe;
    char socket[108];
    unsigned nq, next_queue, users;
} conn = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define UNMAP_PARAM_LEN 24

struct vus_job {
    struct vus_fe_vq *vq;
    unsigned block_size;
    uint64_t blocks;
    uint8_t *mem; /* the job's slice: I/O buffers, then UNMAP parameter lists */
    size_t mem_size, buf_size;
    unsigned next_param;
    struct io_u **events;
    unsigned queue;
};

struct vus_io {
    struct vus_fe_cmd cmd;
    struct iovec iov;
    uint8_t *param;
};

static unsigned next_pow2(unsigned v)
{
    unsigned p = 1;

    while (p < v && p < 32768)
        p <<= 1;
    return p;
}

static int exec_sync(struct vus_job *j, struct vus_fe_cmd *c)
{
    int r = vus_fe_cmd_exec(j->vq, c, 10000);

    if (r < 0)
        return r;
    return c->response == VIRTIO_SCSI_S_OK && c->status == 0 ? 0 : -EIO;
}

/* READ CAPACITY(16), after absorbing the LUN's power-on unit attention. */
static int read_capacity(struct vus_fio_options *o, struct vus_job *j)
{
    struct vus_fe_cmd c;
    struct iovec iov = { j->mem + j->buf_size, 32 };
    uint8_t *d = iov.iov_base;
    int r = -EIO;

    for (int i = 0; i < 4 && r < 0; i++) {
        memset(&c, 0, sizeof(c));
        c.target = o->target;
        c.lun = o->lun;
        c.cdb[0] = 0x9e;
        c.cdb[1] = 0x10;
        c.cdb[13] = 32;
        c.in = &iov;
        c.in_cnt = 1;
        r = exec_sync(j, &c);
        if (r == -EIO && c.response != VIRTIO_SCSI_S_OK)
            break;
    }
    if (r < 0)
        return r;
    j->blocks = 0;
    for (int i = 0; i < 8; i++)
        j->blocks = j->blocks << 8 | d[i];
    j->blocks++;
    j->block_size = (unsigned)d[8] << 24 | (unsigned)d[9] << 16 | (unsigned)d[10] << 8 | d[11];
    return j->block_size ? 0 : -EIO;
}

/* A job's share of guest memory: I/O buffers, then UNMAP parameter lists. */
static size_t job_buf_size(struct thread_data *td)
{
    /* fio asks for iodepth * max_bs (+ alignment) in iomem_alloc; leave room. */
    return (size_t)td_max_bs(td) * td->o.iodepth + (2u << 20);
}

static size_t job_mem_size(struct thread_data *td)
{
    return job_buf_size(td) + (size_t)td->o.iodepth * UNMAP_PARAM_LEN + 4096;
}

static enum fio_q_status vus_queue(struct thread_data *td, struct io_u *io_u);

/*
 * Every job of this run on this socket, known before any of them starts:
 * the memory all of them need (each slice page-aligned) and the deepest
 * queue depth.
 */
static void size_all_jobs(const char *socket, size_t *mem, unsigned *depth)
{
    *mem = 0;
    *depth = 1;
    for (unsigned i = 0; i < (unsigned)thread_number; i++) {
        struct thread_data *t = tnumber_to_td(i);
        const struct vus_fio_options *to = t->eo;

        if (!t->io_ops || t->io_ops->queue != vus_queue || !to || !to->socket ||
            strcmp(to->socket, socket))
            continue;
        *mem += ((job_mem_size(t) + 4095) & ~(size_t)4095) + 4096;
        if (t->o.iodepth > *depth)
            *depth = t->o.iodepth;
    }
}

static int vus_setup(struct thread_data *td)
{
    struct vus_fio_options *o = td->eo;
    struct vus_job *j;
    int r;

    if (td->io_ops_data)
        return 0;
    if (!o->socket || strlen(o->socket) >= sizeof(conn.socket)) {
        log_err("vhost-user-scsi: --socket=PATH is required\n");
        return 1;
    }
    j = calloc(1, sizeof(*j));
    if (!j)
        return 1;
    j->events = calloc(td->o.iodepth, sizeof(*j->events));

    if (!td->o.create_serialize && !td->o.use_thread) {
        /* Each process would set up alone, on a connection the others cannot see. */
        log_err("vhost-user-scsi: create_serialize=0 needs --thread\n");
        free(j->events);
        free(j);
        return 1;
    }
    pthread_mutex_lock(&conn.lock);
    if (!conn.fe) {
        size_t jobs_mem;
        unsigned depth;
        size_all_jobs(o->socket, &jobs_mem, &depth);
        unsigned qs = o->queue_size ? o->queue_size : next_pow2(depth);
        struct vus_fe_config cfg = {
            .socket_path = o->socket,
            .num_req_queues = o->num_queues ? o->num_queues : thread_number,
            .queue_size = qs < 128 ? 128 : qs,
            .mem_size = (8u << 20) + jobs_mem,
            .timeout_ms = 10000,
            .connect_retry_ms = 3000,
            .packed = o->packed,
        };
        /* Enough for rings, header slots and indirect tables of every queue. */
        cfg.mem_size += (size_t)(cfg.num_req_queues + 2) * cfg.queue_size * (192 + 66 * 16 + 64);
        r = vus_fe_connect(&cfg, &conn.fe);
        if (r < 0) {
            pthread_mutex_unlock(&conn.lock);
            log_err("vhost-user-scsi: cannot connect to %s: %s\n", o->socket, strerror(-r));
            return 1;
        }
        snprintf(conn.socket, sizeof(conn.socket), "%s", o->socket);
        conn.nq = cfg.num_req_queues;
        if (o->indirect && !(vus_fe_features(conn.fe) & (1ull << 28))) {
            vus_fe_close(conn.fe);
            conn.fe = NULL;
            pthread_mutex_unlock(&conn.lock);
            log_err("vhost-user-scsi: indirect=1, but the backend does not offer "
                    "VIRTIO_RING_F_INDIRECT_DESC\n");
            return 1;
        }
        /* Asked for and not offered: a run measuring packed rings must not measure split ones. */
        if (o->packed && !(vus_fe_features(conn.fe) & (1ull << 34))) {
            vus_fe_close(conn.fe);
            conn.fe = NULL;
            pthread_mutex_unlock(&conn.lock);
            log_err("vhost-user-scsi: packed=1, but the backend does not offer "
                    "VIRTIO_F_RING_PACKED\n");
            return 1;
        }
    } else if (strcmp(conn.socket, o->socket)) {
        pthread_mutex_unlock(&conn.lock);
        log_err("vhost-user-scsi: all jobs must use the same socket\n");
        return 1;
    }
    if (conn.next_queue >= conn.nq) {
        pthread_mutex_unlock(&conn.lock);
        log_err("vhost-user-scsi: more jobs than request queues (num_queues=%u)\n", conn.nq);
        return 1;
    }
    j->queue = conn.next_queue++;
    j->vq = vus_fe_vq(conn.fe, VIRTIO_SCSI_VQ_REQUEST + j->queue);
    j->buf_size = job_buf_size(td);
    j->mem_size = job_mem_size(td);
    /* The slice size_all_jobs counted; a job it did not see finds none left. */
    j->mem = vus_fe_alloc(conn.fe, j->mem_size, 4096);
    r = j->mem ? 0 : -ENOMEM;
    conn.users++;
    pthread_mutex_unlock(&conn.lock);
    td->io_ops_data = j;
    if (r < 0) {
        log_err("vhost-user-scsi: no guest memory left for this job: jobs are counted when the "
                "first one connects\n");
        return 1;
    }
    r = read_capacity(o, j);
    if (r < 0) {
        log_err("vhost-user-scsi: READ CAPACITY on %u:%u failed (%s)\n", o->target, o->lun,
                strerror(-r));
        return 1;
    }
    if (!td->files_index) {
        add_file(td, "vhost-user-scsi", 0, 0);
        td->o.nr_files = td->o.nr_files ?: 1;
        td->o.open_files++;
    }
    td->files[0]->real_file_size = j->blocks * j->block_size;
    fio_file_set_size_known(td->files[0]);
    return 0;
}

static int vus_init(struct thread_data *td)
{
    return vus_setup(td);
}

static void vus_cleanup(struct thread_data *td)
{
    struct vus_job *j = td->io_ops_data;

    if (!j)
        return;
    pthread_mutex_lock(&conn.lock);
    if (--conn.users == 0) {
        vus_fe_close(conn.fe);
        conn.fe = NULL;
        conn.next_queue = 0;
    }
    pthread_mutex_unlock(&conn.lock);
    free(j->events);
    free(j);
    td->io_ops_data = NULL;
}

static int vus_iomem_alloc(struct thread_data *td, size_t total)
{
    struct vus_job *j = td->io_ops_data;

    if (!j || total > j->buf_size) {
        log_err("vhost-user-scsi: %zu bytes of buffers do not fit the job's slice\n", total);
        return 1;
    }
    td->orig_buffer = (char *)j->mem;
    return 0;
}

static void vus_iomem_free(struct thread_data *td)
{
    td->orig_buffer = NULL; /* the slice lives as long as the connection */
}

static int vus_io_u_init(struct thread_data *td, struct io_u *io_u)
{
    struct vus_job *j = td->io_ops_data;
    struct vus_io *io = calloc(1, sizeof(*io));

    if (!io)
        return 1;
    io->param =
        j->mem + j->buf_size + 4096 + (size_t)(j->next_param++ % td->o.iodepth) * UNMAP_PARAM_LEN;
    io_u->engine_data = io;
    return 0;
}

static void vus_io_u_free(struct thread_data *td, struct io_u *io_u)
{
    free(io_u->engine_data);
    io_u->engine_data = NULL;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static enum fio_q_status vus_queue(struct thread_data *td, struct io_u *io_u)
{
    struct vus_fio_options *o = td->eo;
    struct vus_job *j = td->io_ops_data;
    struct vus_io *io = io_u->engine_data;
    struct vus_fe_cmd *c = &io->cmd;
    uint64_t lba = io_u->offset / j->block_size;
    uint64_t n = io_u->xfer_buflen / j->block_size;
    int r;

    fio_ro_check(td, io_u);
    memset(c, 0, sizeof(*c));
    c->target = o->target;
    c->lun = o->lun;
    c->priv = io_u;
    c->flags = o->indirect ? VUS_FE_CMD_INDIRECT : 0;
    c->tag = (uint64_t)(uintptr_t)io_u;
    if (io_u->ddir != DDIR_SYNC && io_u->ddir != DDIR_DATASYNC &&
        ((io_u->offset | io_u->xfer_buflen) % j->block_size || n > 0xffffffffu)) {
        io_u->error = EINVAL;
        return FIO_Q_COMPLETED;
    }
    io->iov = (struct iovec){ io_u->xfer_buf, io_u->xfer_buflen };
    switch (io_u->ddir) {
    case DDIR_READ:
    case DDIR_WRITE:
        c->cdb[0] = io_u->ddir == DDIR_READ ? 0x88 : 0x8a;
        if (io_u->ddir == DDIR_WRITE && o->fua)
            c->cdb[1] = 0x08;
        put_be(c->cdb + 2, lba, 8);
        put_be(c->cdb + 10, n, 4);
        if (io_u->ddir == DDIR_READ) {
            c->in = &io->iov;
            c->in_cnt = 1;
        } else {
            c->out = &io->iov;
            c->out_cnt = 1;
        }
        break;
    case DDIR_TRIM:
        memset(io->param, 0, UNMAP_PARAM_LEN);
        put_be(io->param, UNMAP_PARAM_LEN - 2, 2);
        put_be(io->param + 2, 16, 2);
        put_be(io->param + 8, lba, 8);
        put_be(io->param + 16, n, 4);
        c->cdb[0] = 0x42;
        put_be(c->cdb + 7, UNMAP_PARAM_LEN, 2);
        io->iov = (struct iovec){ io->param, UNMAP_PARAM_LEN };
        c->out = &io->iov;
        c->out_cnt = 1;
        break;
    case DDIR_SYNC:
    case DDIR_DATASYNC:
        c->cdb[0] = 0x91; /* SYNCHRONIZE CACHE(16), whole LUN */
        break;
    default:
        io_u->error = EINVAL;
        return FIO_Q_COMPLETED;
    }
    r = vus_fe_cmd_submit(j->vq, c);
    if (r == -ENOSPC)
        return FIO_Q_BUSY;
    if (r < 0) {
        io_u->error = -r;
        return FIO_Q_COMPLETED;
    }
    return FIO_Q_QUEUED;
}

static int vus_commit(struct thread_data *td)
{
    struct vus_job *j = td->io_ops_data;

    vus_fe_vq_kick(j->vq);
    return 0;
}

static void complete(struct vus_fe_cmd *c)
{
    struct io_u *io_u = c->priv;

    if (c->used_len == 0 || c->response != VIRTIO_SCSI_S_OK)
        io_u->error = EIO;
    else if (c->status == 0x08 || c->status == 0x28)
        io_u->error = EBUSY;
    else if (c->status != 0)
        io_u->error = EIO;
    else if (io_u->ddir == DDIR_READ)
        io_u->resid = c->resid;
}

static int vus_getevents(struct thread_data *td, unsigned int min, unsigned int max,
                         const struct timespec *t)
{
    struct vus_job *j = td->io_ops_data;
    int budget = t ? (int)(t->tv_sec * 1000 + t->tv_nsec / 1000000) : -1;
    unsigned n = 0;

    for (;;) {
        struct vus_fe_cmd *c;
        while (n < max && (c = vus_fe_cmd_reap(j->vq))) {
            complete(c);
            j->events[n++] = c->priv;
        }
        if (n >= min)
            return (int)n;
        /* Wait in slices so a backend that went away ends the job instead of hanging it. */
        int slice = budget < 0 || budget > 1000 ? 1000 : budget;
        int r = vus_fe_vq_wait(j->vq, slice);
        if (r < 0)
            return r;
        if (r == 0) {
            if (vus_fe_peer_closed(conn.fe, 0)) {
                log_err("vhost-user-scsi: the backend closed the connection\n");
                return -EIO;
            }
            if (budget >= 0 && (budget -= slice) <= 0)
                return (int)n;
        }
    }
}

static struct io_u *vus_event(struct thread_data *td, int event)
{
    struct vus_job *j = td->io_ops_data;

    return j->events[event];
}

static int vus_open_file(struct thread_data *td, struct fio_file *f)
{
    return 0;
}

static int vus_close_file(struct thread_data *td, struct fio_file *f)
{
    return 0;
}

struct ioengine_ops ioengine = {
    .name = "vhost-user-scsi",
    .version = FIO_IOOPS_VERSION,
    .flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL,
    .setup = vus_setup,
    .init = vus_init,
    .queue = vus_queue,
    .commit = vus_commit,
    .getevents = vus_getevents,
    .event = vus_event,
    .cleanup = vus_cleanup,
    .open_file = vus_open_file,
    .close_file = vus_close_file,
    .iomem_alloc = vus_iomem_alloc,
    .iomem_free = vus_iomem_free,
    .io_u_init = vus_io_u_init,
    .io_u_free = vus_io_u_free,
    .options = options,
    .option_struct_size = sizeof(struct vus_fio_options),
};
