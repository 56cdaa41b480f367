/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Dirty-page logging: the messages QEMU sends around a live migration. */
#include <errno.h>

#include "frontend/fe_internal.h"

struct vu_vring_addr fe_vring_addr(const struct vus_fe *fe, const struct vus_fe_vq *vq)
{
    struct vu_vring_addr a = { .index = vq->idx,
                               .desc_uva = (uint64_t)(uintptr_t)vq->desc,
                               .avail_uva = (uint64_t)(uintptr_t)vq->avail,
                               .used_uva = (uint64_t)(uintptr_t)vq->used };

    /* Packed: the ring and the two event structures, in the places of split's three parts. */
    if (vq->packed) {
        a.desc_uva = (uint64_t)(uintptr_t)vq->pdesc;
        a.avail_uva = (uint64_t)(uintptr_t)vq->drv_event;
        a.used_uva = (uint64_t)(uintptr_t)vq->dev_event;
    }
    if (fe->log_on) {
        uint64_t gpa;
        size_t len;
        vus_fe_vq_used_area(vq, &gpa, &len);
        a.flags = 1u << VHOST_VRING_F_LOG;
        a.log_gpa = gpa;
    }
    return a;
}

int vus_fe_set_log_base(struct vus_fe *fe, int fd, uint64_t size, uint64_t offset)
{
    struct vu_log_msg m = { .mmap_size = size, .mmap_offset = offset };
    uint64_t reply = 0;
    int r;

    r = fe_request(fe, VU_SET_LOG_BASE, &m, sizeof(m), &fd, fd >= 0 ? 1 : 0, &reply, sizeof(reply));
    if (r == 0 && (fe->protocol_features & (1ull << VU_PROTOCOL_F_LOG_SHMFD)))
        r = reply ? 1 : 0;
    return r;
}

int vus_fe_set_log(struct vus_fe *fe, bool on)
{
    uint64_t features = fe->features | (on ? 1ull << VHOST_F_LOG_ALL : 0);
    int r;

    features &= on ? ~0ull : ~(1ull << VHOST_F_LOG_ALL);
    r = fe_request(fe, VU_SET_FEATURES, &features, sizeof(features), NULL, 0, NULL, 0);
    if (r)
        return r;
    fe->features = features;
    fe->log_on = on;
    for (unsigned i = 0; i < fe->nvqs; i++) {
        if (!fe->vqs[i].started)
            continue;
        struct vu_vring_addr a = fe_vring_addr(fe, &fe->vqs[i]);
        r = fe_request(fe, VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, NULL, 0);
        if (r)
            return r;
    }
    return 0;
}

void vus_fe_vq_used_area(const struct vus_fe_vq *vq, uint64_t *gpa, size_t *len)
{
    /* A packed ring's used descriptors are written over the descriptor ring. */
    if (vq->packed) {
        *gpa = fe_gpa_of(vq->fe, vq->pdesc);
        *len = sizeof(*vq->pdesc) * vq->num;
        return;
    }
    *gpa = fe_gpa_of(vq->fe, vq->used);
    *len = (size_t)vring_used_size(vq->num);
}
