/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vhost-user-scsi-ctl's output: one printer per method result, aligned
 * tables for people (--json bypasses them with print_json).  Each printer
 * accepts any JSON: a field it does not find prints as "-", never a crash,
 * so an older or newer daemon still gives readable output.  Single-threaded.
 */
#ifndef VUS_CTL_PRINT_H
#define VUS_CTL_PRINT_H

#include <jansson.h>
#include <stdint.h>

void print_json(json_t *result);
void print_nothing(json_t *result);
void print_version(json_t *result);
void print_methods(json_t *result);
void print_controller_list(json_t *result);
void print_bdev_list(json_t *result);
void print_lun_attach(json_t *result);
void print_lun_list(json_t *result);
void print_stats(json_t *result);
void print_worker_list(json_t *result);

/*
 * The latency below which fraction q of the samples fall, from histogram
 * buckets [[upper_us, count], ...] (upper bounds ascending): the upper bound
 * of the bucket holding that sample.  -1 if there are no samples, -2 if it
 * falls in a bucket without a numeric upper bound (the overflow bucket).
 */
double ctl_percentile(json_t *buckets, double q);

#endif
