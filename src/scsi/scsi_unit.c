/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The registry of logical units by backing device (scsi_unit.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "scsi/scsi_internal.h"
#include "scsi/scsi_unit.h"

/*
 * Units are created and freed on the main thread, but a controller's
 * teardown may detach while another controller attaches: one lock for the
 * list and the counts.
 */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct scsi_unit *registry;

int scsi_unit_attach(struct scsi_lun *lun, const char *state_file, char *err, size_t errlen)
{
    struct scsi_unit *u;

    pthread_mutex_lock(&registry_mu);
    for (u = registry; u != NULL && u->bdev != lun->bdev; u = u->next)
        ;
    if (u == NULL) {
        int rc;

        u = calloc(1, sizeof(*u));
        if (u == NULL) {
            pthread_mutex_unlock(&registry_mu);
            snprintf(err, errlen, "logical unit: out of memory");
            return -ENOMEM;
        }
        rc = scsi_pr_init(&u->pr, state_file, err, errlen);
        if (rc < 0) {
            free(u);
            pthread_mutex_unlock(&registry_mu);
            return rc;
        }
        pthread_mutex_init(&u->mu, NULL);
        scsi_range_lock_init(&u->rlock);
        u->bdev = lun->bdev;
        u->next = registry;
        registry = u;
    }
    lun->unit = u;
    lun->rl = &u->rlock;
    pthread_mutex_lock(&u->mu);
    lun->pr = &u->pr;
    lun->unit_next = u->members;
    u->members = lun;
    scsi_pr_publish(&u->pr);
    pthread_mutex_unlock(&u->mu);
    pthread_mutex_unlock(&registry_mu);
    return 0;
}

void scsi_unit_detach(struct scsi_lun *lun)
{
    struct scsi_unit *u = lun->unit, **pp;
    struct scsi_lun **mp;

    if (u == NULL)
        return;
    pthread_mutex_lock(&registry_mu);
    pthread_mutex_lock(&u->mu);
    scsi_pr_member_leaving(&u->pr, lun);
    for (mp = &u->members; *mp != NULL && *mp != lun; mp = &(*mp)->unit_next)
        ;
    if (*mp == lun)
        *mp = lun->unit_next;
    lun->pr = NULL;
    scsi_pr_publish(&u->pr);
    pthread_mutex_unlock(&u->mu);
    lun->unit = NULL;
    lun->rl = NULL;
    if (u->members == NULL) { /* the last one: the unit goes */
        for (pp = &registry; *pp != u; pp = &(*pp)->next)
            ;
        *pp = u->next;
        scsi_range_lock_fini(&u->rlock);
        scsi_pr_fini(&u->pr);
        pthread_mutex_destroy(&u->mu);
        free(u);
    }
    pthread_mutex_unlock(&registry_mu);
}
