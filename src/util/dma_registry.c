/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest-memory registry (see dma_registry.h).
 *
 * Regions and listeners are short linked lists: a daemon has a few dozen
 * regions and one listener per DMA domain, and every call here is on a
 * control path (memory-table changes, device open/close), never per request.
 *
 * Each region remembers which listeners mapped it successfully, because the
 * header promises that unmap is called only for maps that returned 0: a
 * domain that failed to map a region must not be told to unmap it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/dma_registry.h"
#include "util/log.h"

struct mapped_by {
    struct dma_listener *l;
    struct mapped_by *next;
};

struct region {
    void *vaddr;
    size_t len;
    struct mapped_by *mapped; /* listeners whose map returned 0 */
    struct region *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *g_regions;
static struct dma_listener *g_listeners;
static unsigned g_nregions;

/* Under g_lock.  A failed map is not recorded: unmap would be wrong later. */
static void map_one(struct region *r, struct dma_listener *l)
{
    struct mapped_by *m = malloc(sizeof(*m));

    if (!m) {
        /* Without a record we could not unmap later, so do not map at all. */
        LOG_WARN("dma registry: out of memory, region %p+%zu stays unmapped", r->vaddr, r->len);
        return;
    }
    if (l->map(l, r->vaddr, r->len) != 0) {
        free(m);
        return;
    }
    m->l = l;
    m->next = r->mapped;
    r->mapped = m;
}

/* Under g_lock: unmap r from l if l mapped it. */
static void unmap_one(struct region *r, struct dma_listener *l)
{
    for (struct mapped_by **pp = &r->mapped; *pp; pp = &(*pp)->next) {
        if ((*pp)->l == l) {
            struct mapped_by *m = *pp;

            *pp = m->next;
            l->unmap(l, r->vaddr, r->len);
            free(m);
            return;
        }
    }
}

int dma_registry_add_region(void *vaddr, size_t len)
{
    struct region *r = calloc(1, sizeof(*r));

    if (!r)
        return -ENOMEM;
    r->vaddr = vaddr;
    r->len = len;
    pthread_mutex_lock(&g_lock);
    r->next = g_regions;
    g_regions = r;
    g_nregions++;
    for (struct dma_listener *l = g_listeners; l; l = l->next)
        map_one(r, l);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

void dma_registry_remove_region(void *vaddr, size_t len)
{
    pthread_mutex_lock(&g_lock);
    for (struct region **pp = &g_regions; *pp; pp = &(*pp)->next) {
        struct region *r = *pp;

        if (r->vaddr != vaddr || r->len != len)
            continue;
        *pp = r->next;
        g_nregions--;
        while (r->mapped)
            unmap_one(r, r->mapped->l);
        free(r);
        pthread_mutex_unlock(&g_lock);
        return;
    }
    pthread_mutex_unlock(&g_lock);
    /* A caller bug, but the memory goes away either way: say so and go on. */
    LOG_WARN("dma registry: removing unknown region %p+%zu", vaddr, len);
}

void dma_registry_add_listener(struct dma_listener *l)
{
    pthread_mutex_lock(&g_lock);
    l->next = g_listeners;
    g_listeners = l;
    for (struct region *r = g_regions; r; r = r->next)
        map_one(r, l);
    pthread_mutex_unlock(&g_lock);
}

void dma_registry_remove_listener(struct dma_listener *l)
{
    pthread_mutex_lock(&g_lock);
    for (struct dma_listener **pp = &g_listeners; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    for (struct region *r = g_regions; r; r = r->next)
        unmap_one(r, l);
    l->next = NULL;
    pthread_mutex_unlock(&g_lock);
}

unsigned dma_registry_region_count(void)
{
    unsigned n;

    pthread_mutex_lock(&g_lock);
    n = g_nregions;
    pthread_mutex_unlock(&g_lock);
    return n;
}
