/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The APTPL state file of one logical unit: the registrations, the
 * persistent reservation and the generation, as JSON.  64-bit keys and
 * ports are hex strings: a JSON integer (jansson's json_int_t) is signed.
 *
 * Written whole to PATH.tmp, fsync'ed, renamed over PATH, and the directory
 * fsync'ed: after a crash the file is the old state or the new one, never a
 * mix, and once save returns the new one survives power loss.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "scsi/scsi_pr.h"
#include "util/atomic_file.h"

#define PR_FILE_VERSION 1

static json_t *hex64(uint64_t v)
{
    char s[24];

    snprintf(s, sizeof(s), "0x%016" PRIx64, v);
    return json_string(s);
}

static bool parse_hex64(const json_t *j, uint64_t *v)
{
    const char *s = json_string_value(j);
    char *end;

    if (s == NULL || strncmp(s, "0x", 2) != 0 || s[2] == '\0')
        return false;
    errno = 0;
    *v = strtoull(s + 2, &end, 16);
    return errno == 0 && *end == '\0';
}

static json_t *state_json(const struct scsi_pr_state *st)
{
    json_t *regs = json_array(), *root;

    for (unsigned i = 0; regs != NULL && i < st->nregs; i++)
        json_array_append_new(regs, json_pack("{s:o, s:o, s:b}", "port", hex64(st->regs[i].port),
                                              "key", hex64(st->regs[i].key), "all_tg_pt",
                                              st->regs[i].all_tg_pt));
    root = json_pack("{s:i, s:I, s:b, s:o}", "version", PR_FILE_VERSION, "generation",
                     (json_int_t)st->generation, "aptpl", st->aptpl, "registrations", regs);
    if (root != NULL && st->reserved)
        json_object_set_new(
            root, "reservation",
            json_pack("{s:o, s:i}", "holder", hex64(st->holder_port), "type", st->type));
    return root;
}

int scsi_pr_file_save(const char *path, const struct scsi_pr_state *st)
{
    json_t *root = state_json(st);
    char *text = root != NULL ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    int rc;

    json_decref(root);
    if (text == NULL)
        return -ENOMEM;
    rc = atomic_file_write(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

int scsi_pr_file_remove(const char *path)
{
    return atomic_file_remove(path);
}

static int bad(char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen, "reservation state %s: %s", path, what);
    return -EINVAL;
}

int scsi_pr_file_load(const char *path, struct scsi_pr_state *st, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *regs, *res, *v;
    json_int_t version, gen;
    int aptpl, rc = 0;
    size_t i;

    memset(st, 0, sizeof(*st));
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return 0;
    root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "reservation state %s: %s", path, jerr.text);
        return -EINVAL;
    }
    if (json_unpack(root, "{s:I, s:I, s:b, s:o}", "version", &version, "generation", &gen, "aptpl",
                    &aptpl, "registrations", &regs) != 0 ||
        version != PR_FILE_VERSION || gen < 0 || gen > UINT32_MAX || !json_is_array(regs)) {
        rc = bad(err, errlen, path, "not a reservation state of version 1");
        goto out;
    }
    if (json_array_size(regs) > SCSI_PR_MAX_REGS) {
        rc = bad(err, errlen, path, "too many registrations");
        goto out;
    }
    st->generation = (uint32_t)gen;
    st->aptpl = aptpl;
    json_array_foreach(regs, i, v)
    {
        struct scsi_pr_reg *r = &st->regs[st->nregs];
        int atp = 0;

        if (!parse_hex64(json_object_get(v, "port"), &r->port) ||
            !parse_hex64(json_object_get(v, "key"), &r->key) || r->key == 0 ||
            json_unpack(v, "{s?b}", "all_tg_pt", &atp) != 0 || scsi_pr_find(st, r->port) != NULL) {
            rc = bad(err, errlen, path, "bad registration");
            goto out;
        }
        r->all_tg_pt = atp;
        st->nregs++;
    }
    res = json_object_get(root, "reservation");
    if (res != NULL && !json_is_null(res)) {
        json_int_t type = 0;

        if (!parse_hex64(json_object_get(res, "holder"), &st->holder_port) ||
            json_unpack(res, "{s:I}", "type", &type) != 0 || type < 0 || type > 0xf ||
            !scsi_pr_type_valid((uint8_t)type)) {
            rc = bad(err, errlen, path, "bad reservation");
            goto out;
        }
        st->reserved = true;
        st->type = (uint8_t)type;
        /* A reservation nobody registered holds would hold the unit forever. */
        if (!scsi_pr_is_holder(st, scsi_pr_type_all_reg(st->type)
                                       ? (st->nregs > 0 ? st->regs[0].port : 0)
                                       : st->holder_port)) {
            rc = bad(err, errlen, path, "reservation holder is not registered");
            goto out;
        }
    }
out:
    json_decref(root);
    if (rc < 0)
        memset(st, 0, sizeof(*st));
    return rc;
}
