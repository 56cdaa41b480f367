/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test helper: remove a fixture's scratch directory (mkdtemp'd by the test)
 * with the files a test left in it.  Flat: fixtures make no subdirectories.
 * Header-only: each test program links alone against build/libvus.a.
 */
#ifndef VUS_TESTS_TMP_DIR_H
#define VUS_TESTS_TMP_DIR_H

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

static inline void tmp_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

#endif
