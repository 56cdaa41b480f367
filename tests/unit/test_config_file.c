/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The persisted configuration: round trip, every validation message, saves
 * that fail leave the old file, and a writer killed at random moments never
 * leaves a broken file or a pile of temporary files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config_file.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "%s", "/tmp/vus-config-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/vus.json", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *read_text(const char *p, size_t *len)
{
    FILE *f = fopen(p, "r");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (!f)
        return NULL;
    do {
        if (cap - n < 65536) {
            cap = cap * 2 + 65536;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* Files in dir whose name starts with the config's name plus ".tmp.". */
static int count_tmp(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "vus.json.tmp.", 13) == 0)
            n++;
    closedir(d);
    return n;
}

static json_t *sample(void)
{
    json_error_t e;
    json_t *c = json_loads(
        "{\"version\": 1,"
        " \"bdevs\": [{\"name\": \"disk1\", \"type\": \"file\", \"path\": \"/var/lib/img/vm1.img\","
        "              \"direct\": true, \"block_size\": 512, \"readonly\": false},"
        "             {\"name\": \"r0\", \"type\": \"ram\", \"size\": 67108864}],"
        " \"controllers\": [{\"name\": \"vm1\", \"socket_path\": \"/run/vus/vm1.sock\"},"
        "                   {\"name\": \"vm2\", \"socket_path\": \"/run/vus/vm2.sock\"}],"
        " \"luns\": [{\"controller\": \"vm1\", \"bdev\": \"disk1\", \"target\": 0, \"lun\": 0,"
        "             \"serial\": \"S1\", \"wwn\": \"0x5000000000000001\"},"
        "            {\"controller\": \"vm2\", \"bdev\": \"disk1\", \"target\": 0, \"lun\": 0},"
        "            {\"controller\": \"vm1\", \"bdev\": \"r0\", \"target\": 0, \"lun\": 1}]}",
        0, &e);

    assert_non_null(c);
    return c;
}

/* ---- round trip, missing file, editing ---- */

static void test_round_trip(void **state)
{
    json_t *c = sample(), *back;
    char err[256] = "";
    struct stat st;
    size_t len;
    char *text;

    assert_int_equal(config_save(path, c, err, sizeof(err)), 0);
    back = config_load(path, err, sizeof(err));
    assert_non_null(back);
    assert_true(json_equal(c, back));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    text = read_text(path, &len);
    assert_true(len > 0 && text[len - 1] == '\n');
    /* Keys keep their order: a person diffing two versions sees only changes. */
    assert_true(strstr(text, "\"version\"") < strstr(text, "\"bdevs\""));
    assert_true(strstr(text, "\"name\": \"disk1\"") < strstr(text, "\"type\": \"file\""));
    free(text);
    assert_int_equal(count_tmp(), 0);
    json_decref(back);
    json_decref(c);
}

static void test_missing_file_is_empty_and_sections_are_filled_in(void **state)
{
    char err[256] = "";
    json_t *c = config_load(path, err, sizeof(err)), *e = config_new();

    assert_non_null(c);
    assert_true(json_equal(c, e));
    json_decref(c);
    write_text(path,
               "{\"version\": 1, \"controllers\": [{\"name\": \"a\", \"socket_path\": \"/s\"}]}");
    c = config_load(path, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(json_array_size(config_items(c, CONFIG_BDEVS)), 0);
    assert_int_equal(json_array_size(config_items(c, CONFIG_CONTROLLERS)), 1);
    assert_int_equal(json_array_size(config_items(c, CONFIG_LUNS)), 0);
    json_decref(c);
    json_decref(e);
}

static void test_iterate_in_apply_order_and_label_failures(void **state)
{
    json_t *c = sample();
    struct config_iter it;
    const char *order[] = { "bdevs[0] (disk1)",           "bdevs[1] (r0)",
                            "controllers[0] (vm1)",       "controllers[1] (vm2)",
                            "luns[0] (vm1 0:0 -> disk1)", "luns[1] (vm2 0:0 -> disk1)",
                            "luns[2] (vm1 0:1 -> r0)" };
    char label[128], msg[256];
    unsigned n = 0;

    config_iter_init(&it, c);
    while (config_iter_next(&it)) {
        assert_true(n < 7);
        config_item_label(label, sizeof(label), it.section, it.index, it.params);
        assert_string_equal(label, order[n]);
        n++;
    }
    assert_int_equal(n, 7);
    assert_false(config_iter_next(&it));

    config_iter_init(&it, c);
    while (config_iter_next(&it) && !(it.section == CONFIG_LUNS && it.index == 2))
        ;
    config_item_error(msg, sizeof(msg), "/etc/vus.json", &it, "no such bdev");
    assert_string_equal(msg, "config /etc/vus.json: luns[2] (vm1 0:1 -> r0): no such bdev");

    /* An empty config iterates nothing. */
    json_t *e = config_new();
    config_iter_init(&it, e);
    assert_false(config_iter_next(&it));
    json_decref(e);
    json_decref(c);
}

static void test_edit_find_remove(void **state)
{
    json_t *c = config_new(), *p, *found;
    char err[256] = "";
    size_t idx = 99;

    p = json_pack("{s:s,s:s,s:I}", "name", "d", "type", "ram", "size", (json_int_t)1 << 20);
    assert_int_equal(config_add(c, CONFIG_BDEVS, p), 0);
    json_object_set_new(p, "size", json_integer(5)); /* a copy was stored */
    json_decref(p);
    p = json_pack("{s:s,s:s}", "name", "vm", "socket_path", "/s");
    assert_int_equal(config_add(c, CONFIG_CONTROLLERS, p), 0);
    json_decref(p);
    p = json_pack("{s:s,s:s,s:i,s:i}", "controller", "vm", "bdev", "d", "target", 1, "lun", 2);
    assert_int_equal(config_add(c, CONFIG_LUNS, p), 0);
    assert_int_equal(config_add(c, CONFIG_SECTIONS, p), -EINVAL);
    json_decref(p);
    assert_int_equal(config_add(c, CONFIG_LUNS, json_null()), -EINVAL);
    assert_int_equal(config_validate(c, "x", err, sizeof(err)), 0);
    /* A file cannot hold a NUL in a string (jansson refuses it), a caller can. */
    json_t *nul = json_deep_copy(c);
    json_object_set_new(json_array_get(config_items(nul, CONFIG_BDEVS), 0), "name",
                        json_stringn("d\0x", 3));
    assert_int_equal(config_validate(nul, "x", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "x: bdevs[0]: name: must not contain NUL characters");
    json_decref(nul);

    found = config_find_bdev(c, "d", &idx);
    assert_non_null(found);
    assert_int_equal(idx, 0);
    assert_int_equal(json_integer_value(json_object_get(found, "size")), 1 << 20);
    /* A resize changes the stored item in place. */
    json_object_set_new(found, "size", json_integer(2 << 20));
    assert_null(config_find_bdev(c, "vm", NULL));
    assert_non_null(config_find_controller(c, "vm", NULL));
    assert_non_null(config_find_lun(c, "vm", 1, 2, &idx));
    assert_null(config_find_lun(c, "vm", 1, 3, NULL));
    assert_null(config_find_lun(c, "vx", 1, 2, NULL));

    /* Removing the bdev first leaves a LUN pointing nowhere: save refuses. */
    assert_int_equal(config_remove(c, CONFIG_BDEVS, 0), 0);
    assert_int_equal(config_save(path, c, err, sizeof(err)), -EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "%s: not saved: luns[0]: bdev: no bdev named \"d\" in bdevs",
             path);
    assert_string_equal(err, want);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(config_remove(c, CONFIG_LUNS, idx), 0);
    assert_int_equal(config_remove(c, CONFIG_LUNS, 0), -ENOENT);
    assert_int_equal(config_save(path, c, err, sizeof(err)), 0);
    json_decref(c);
}

/* ---- every validation message ---- */

struct bad {
    const char *text;
    const char *msg; /* after "FILE: " */
};

#define V1 "{\"version\": 1, "
#define B1 "\"bdevs\": [{\"name\": \"d\", \"type\": \"ram\"}]"
#define C1 "\"controllers\": [{\"name\": \"vm\", \"socket_path\": \"/s\"}]"

static const struct bad bad_files[] = {
    { "", "line 1 column 0: '[' or '{' expected near end of file" },
    { "{\n  \"version\": 1,\n  \"bdevs\": [\n    {\"name\": \"a\" \"type\": \"ram\"}\n  ]\n}\n",
      "line 4 column 23: '}' expected near '\"type\"'" },
    { "{\"version\": 1, \"version\": 1}",
      "line 1 column 24: duplicate object key near '\"version\"'" },
    { "[]", "the top level must be an object" },
    { "{}", "version: missing" },
    { "{\"version\": \"1\"}", "version: must be an integer" },
    { "{\"version\": 2}", "version: 2 is not supported (this daemon reads version 1)" },
    { V1 "\"lun\": []}", "lun: unknown key (expected version, bdevs, controllers, luns)" },
    { V1 "\"bdevs\": {}}", "bdevs: must be an array" },
    { V1 "\"controllers\": null}", "controllers: must be an array" },
    { V1 "\"bdevs\": [{\"name\": \"d\", \"type\": \"ram\"}, 7]}", "bdevs[1]: must be an object" },
    { V1 "\"bdevs\": [{\"type\": \"ram\"}]}", "bdevs[0]: name: missing" },
    { V1 "\"bdevs\": [{\"name\": 7, \"type\": \"ram\"}]}", "bdevs[0]: name: must be a string" },
    { V1 "\"bdevs\": [{\"name\": \"\", \"type\": \"ram\"}]}", "bdevs[0]: name: must not be empty" },
    { V1 "\"bdevs\": [{\"name\": \"d\\u0000x\", \"type\": \"ram\"}]}",
      "line 1 column 44: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"d\\u0000x\"'" },
    { V1 "\"bdevs\": [{\"name\": \"d\"}]}", "bdevs[0]: type: missing" },
    { V1 "\"bdevs\": [{\"name\": \"d\", \"type\": \"ram\"}, {\"name\": \"e\", \"type\": \"ram\"},"
         " {\"name\": \"d\", \"type\": \"file\"}]}",
      "bdevs[2]: name: \"d\" is already bdevs[0]" },
    { V1 "\"controllers\": [{\"name\": \"vm\"}]}", "controllers[0]: socket_path: missing" },
    { V1 "\"controllers\": [{\"name\": \"vm\", \"socket_path\": false}]}",
      "controllers[0]: socket_path: must be a string" },
    { V1 "\"controllers\": [{\"name\": \"vm\", \"socket_path\": \"/a\"},"
         " {\"name\": \"vm\", \"socket_path\": \"/b\"}]}",
      "controllers[1]: name: \"vm\" is already controllers[0]" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm\", \"bdev\": \"d\", \"target\": 0, "
            "\"lun\": 0}, {\"controller\": \"vm\", \"bdev\": \"d\", \"target\": 0, "
            "\"lun\": 1}, {\"controller\": 1, \"bdev\": \"d\", \"target\": 0, \"lun\": 2}]}",
      "luns[2]: controller: must be a string" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm\", \"target\": 0, \"lun\": 0}]}",
      "luns[0]: bdev: missing" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm\", \"bdev\": \"d\", \"lun\": 0}]}",
      "luns[0]: target: missing" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm\", \"bdev\": \"d\", \"target\": \"0\", "
            "\"lun\": 0}]}",
      "luns[0]: target: must be an integer" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm\", \"bdev\": \"d\", \"target\": 0, "
            "\"lun\": 256}]}",
      "luns[0]: lun: 256 is out of range 0..255" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm\", \"bdev\": \"d\", \"target\": -1, "
            "\"lun\": 0}]}",
      "luns[0]: target: -1 is out of range 0..255" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm9\", \"bdev\": \"d\", \"target\": 0, "
            "\"lun\": 0}]}",
      "luns[0]: controller: no controller named \"vm9\" in controllers" },
    { V1 B1 ", " C1 ", \"luns\": [{\"controller\": \"vm\", \"bdev\": \"x\", \"target\": 0, "
            "\"lun\": 0}]}",
      "luns[0]: bdev: no bdev named \"x\" in bdevs" },
    /* Sections may come in any order in the file; references still resolve. */
    { V1 "\"luns\": [{\"controller\": \"vm\", \"bdev\": \"d\", \"target\": 3, \"lun\": 1},"
         " {\"controller\": \"vm\", \"bdev\": \"d\", \"target\": 3, \"lun\": 1}], " B1 ", " C1 "}",
      "luns[1]: vm 3:1 is already luns[0]" },
};

static void test_every_validation_message(void **state)
{
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        char err[512] = "", want[512];
        json_t *c;

        write_text(path, bad_files[i].text);
        c = config_load(path, err, sizeof(err));
        snprintf(want, sizeof(want), "%s: %s", path, bad_files[i].msg);
        if (c || strcmp(err, want) != 0)
            fail_msg("case %zu: %s\n  got:  %s\n  want: %s", i, bad_files[i].text,
                     c ? "(loaded)" : err, want);
    }
}

static void test_file_itself_refused(void **state)
{
    char err[256], want[256];

    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(config_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: not a regular file", path);
    assert_string_equal(err, want);
    assert_int_equal(rmdir(path), 0);

    /* A path through a regular file: not "missing", an error. */
    char below[160];
    write_text(path, "{}");
    snprintf(below, sizeof(below), "%s/x.json", path);
    assert_null(config_load(below, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: Not a directory", below);
    assert_string_equal(err, want);
}

/* ---- saves that fail ---- */

/* Saves a config into an existing file, then checks the file and the tmp files. */
static void assert_old_intact(const char *old_text)
{
    char *now = read_text(path, NULL);

    assert_non_null(now);
    assert_string_equal(now, old_text);
    free(now);
    assert_int_equal(count_tmp(), 0);
}

/* A config of roughly n * 250 bytes. */
static json_t *big_config(const char *tag, unsigned n)
{
    json_t *c = config_new();

    for (unsigned i = 0; i < n; i++) {
        char name[64], p[128], sock[64];

        snprintf(name, sizeof(name), "%s-disk-%05u", tag, i);
        snprintf(p, sizeof(p), "/var/lib/vus/images/%s/volume-%05u-with-a-long-name.img", tag, i);
        json_array_append_new(config_items(c, CONFIG_BDEVS),
                              json_pack("{s:s,s:s,s:s,s:b,s:i}", "name", name, "type", "file",
                                        "path", p, "direct", 1, "block_size", 512));
        if (i % 16 == 0) {
            snprintf(name, sizeof(name), "%s-vm-%05u", tag, i / 16);
            snprintf(sock, sizeof(sock), "/run/vus/%s-vm-%05u.sock", tag, i / 16);
            json_array_append_new(config_items(c, CONFIG_CONTROLLERS),
                                  json_pack("{s:s,s:s}", "name", name, "socket_path", sock));
        }
        snprintf(name, sizeof(name), "%s-vm-%05u", tag, i / 16);
        snprintf(p, sizeof(p), "%s-disk-%05u", tag, i);
        json_array_append_new(config_items(c, CONFIG_LUNS),
                              json_pack("{s:s,s:s,s:i,s:i}", "controller", name, "bdev", p,
                                        "target", 0, "lun", i % 16));
    }
    return c;
}

/* Runs fn in a child; its exit status: 0 pass, 77 skip, else the failed step. */
static int in_child(int (*fn)(void))
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int child_save_expect(unsigned n, int want_rc, const char *want_in_msg)
{
    json_t *c = big_config("B", n);
    char err[512] = "";
    int rc = config_save(path, c, err, sizeof(err));

    if (rc != want_rc || !strstr(err, want_in_msg)) {
        fprintf(stderr, "child: rc %d (want %d), err \"%s\"\n", rc, want_rc, err);
        return 1;
    }
    return 0;
}

/* A directory we may not write to (root loses that right as nobody). */
static int child_readonly_dir(void)
{
    if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                           setresuid(65534, 65534, 65534) != 0))
        return 2;
    return child_save_expect(64, -EACCES, "cannot create a temporary file in");
}

static void test_save_into_readonly_directory(void **state)
{
    json_t *a = sample();
    char err[256], *old;

    assert_int_equal(config_save(path, a, err, sizeof(err)), 0);
    old = read_text(path, NULL);
    if (geteuid() == 0)
        assert_int_equal(chown(dir, 65534, 65534), 0);
    assert_int_equal(chmod(dir, 0555), 0);
    assert_int_equal(in_child(child_readonly_dir), 0);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_old_intact(old);
    free(old);
    json_decref(a);
}

/* A file size limit: the write fails part-way (EFBIG), the tmp file goes. */
static int child_file_size_limit(void)
{
    struct rlimit r = { .rlim_cur = 8192, .rlim_max = 8192 };

    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &r) != 0)
        return 2;
    return child_save_expect(64, -EFBIG, "writing");
}

static void test_save_past_file_size_limit(void **state)
{
    json_t *a = sample();
    char err[256], *old;

    assert_int_equal(config_save(path, a, err, sizeof(err)), 0);
    old = read_text(path, NULL);
    assert_int_equal(in_child(child_file_size_limit), 0);
    assert_old_intact(old);
    free(old);
    json_decref(a);
}

/*
 * A full filesystem: a 64 KiB tmpfs over our directory, in a private mount
 * namespace of a child so nothing leaks if the test dies.
 */
static int child_full_fs(void)
{
    json_t *a = sample();
    char err[512] = "", *old;
    int rc;

    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") != 0)
        return 77;
    if (config_save(path, a, err, sizeof(err)) != 0)
        return 3;
    old = read_text(path, NULL);
    rc = child_save_expect(1000, -ENOSPC, "writing");
    if (rc == 0) {
        char *now = read_text(path, NULL);

        rc = now && strcmp(now, old) == 0 && count_tmp() == 0 ? 0 : 4;
        free(now);
    }
    free(old);
    json_decref(a);
    return rc;
}

static void test_save_on_full_filesystem(void **state)
{
    int rc = in_child(child_full_fs);

    if (rc == 77)
        skip(); /* no mount namespaces or tmpfs here (not root?) */
    assert_int_equal(rc, 0);
}

static void test_save_other_failures(void **state)
{
    json_t *a = sample(), *bad;
    char err[512], want[512], other[160];

    /* FILE is a directory: the rename fails, the directory stays. */
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(config_save(path, a, err, sizeof(err)), -EISDIR);
    assert_non_null(strstr(err, "renaming"));
    assert_int_equal(count_tmp(), 0);
    assert_int_equal(rmdir(path), 0);

    /* No such directory. */
    snprintf(other, sizeof(other), "%s/none/vus.json", dir);
    assert_int_equal(config_save(other, a, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want),
             "%s: cannot create a temporary file in %s/none: No such file or directory", other,
             dir);
    assert_string_equal(err, want);

    /* A config that would not load again is not written. */
    assert_int_equal(config_save(path, a, err, sizeof(err)), 0);
    char *old = read_text(path, NULL);
    bad = json_deep_copy(a);
    json_object_set_new(bad, "version", json_integer(7));
    assert_int_equal(config_save(path, bad, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want),
             "%s: not saved: version: 7 is not supported (this daemon reads version 1)", path);
    assert_string_equal(err, want);
    assert_old_intact(old);
    free(old);
    json_decref(bad);
    json_decref(a);
}

static void test_remove_stale_only_ours(void **state)
{
    char p[192], err[256];
    const char *ours[] = { "vus.json.tmp.AbC123", "vus.json.tmp.zzzzzz" };
    const char *theirs[] = { "vus.json.tmp.AbC12",
                             "vus.json.tmp.AbC1234",
                             "vus.json.tmp.AbC-12",
                             "other.json.tmp.AbC123",
                             "vus.json",
                             "xvus.json.tmp.AbC123" };

    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, ours[i]);
        write_text(p, "x");
    }
    for (size_t i = 0; i < 6; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, theirs[i]);
        write_text(p, "x");
    }
    assert_int_equal(config_remove_stale(path, err, sizeof(err)), 2);
    for (size_t i = 0; i < 6; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, theirs[i]);
        assert_int_equal(access(p, F_OK), 0);
    }
    assert_int_equal(config_remove_stale(path, err, sizeof(err)), 0);
    snprintf(p, sizeof(p), "%s/none/vus.json", dir);
    assert_int_equal(config_remove_stale(p, err, sizeof(err)), -ENOENT);
}

/* ---- kill -9 at any moment ---- */

/*
 * The main campaign runs on tmpfs: a kill -9 is about what the process did,
 * not what reached the disk (the page cache survives it), and on tmpfs an
 * iteration costs about a millisecond instead of a disk fsync, which on a
 * busy machine is tens of milliseconds.  A short campaign in the ordinary
 * test directory covers a real filesystem with real fsyncs.
 */
#define KILLS_TMPFS   300
#define KILLS_REAL_FS 20
/* A slow build (ASan forks slowly) stops after this long, but not before KILLS_MIN. */
#define KILLS_BUDGET_US 6000000
#define KILLS_MIN       200

static json_t *cfg_a, *cfg_b;

/* The writer: saves B, A, B, A, ... until killed. */
static int child_rewrite_forever(void)
{
    char err[512];

    for (unsigned i = 0;; i++)
        if (config_save(path, i % 2 ? cfg_a : cfg_b, err, sizeof(err)) != 0) {
            fprintf(stderr, "writer: %s\n", err);
            return 1;
        }
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void kill_campaign(int kills)
{
    char err[512], *text_a, *text_b;
    size_t len_a, len_b;
    unsigned seen_a = 0, seen_b = 0, tmp_left = 0;
    uint64_t t0, save_us;

    /* 180 and 150 KB: three 64 KiB write() calls each, and a short moment between. */
    cfg_a = big_config("A", 600);
    cfg_b = big_config("B", 500);
    /* The exact bytes of each, as a save writes them. */
    assert_int_equal(config_save(path, cfg_b, err, sizeof(err)), 0);
    text_b = read_text(path, &len_b);
    t0 = now_us();
    for (int i = 0; i < 4; i++)
        assert_int_equal(config_save(path, cfg_a, err, sizeof(err)), 0);
    save_us = (now_us() - t0) / 4;
    text_a = read_text(path, &len_a);
    for (int i = 0; i < 2; i++) {
        json_t *loaded = config_load(path, err, sizeof(err));

        assert_non_null(loaded);
        assert_true(json_equal(loaded, i ? cfg_b : cfg_a));
        json_decref(loaded);
        write_text(path, i ? text_a : text_b);
    }
    /* FILE holds A; the writers start with B, so seeing B shows progress. */
    assert_true(len_a > 2 * 65536 && len_b > 2 * 65536);

    srandom(12345);
    t0 = now_us();
    for (int k = 0;; k++) {
        bool enough = k >= kills && seen_b > 0 && tmp_left > 0;

        /*
         * Past the planned kills, go on while none has landed past a save
         * or in the middle of one: a disk busy with other writers makes the
         * child's saves slower than the ones timed above.
         */
        if (enough || k >= 10 * kills || (k >= KILLS_MIN && now_us() - t0 > KILLS_BUDGET_US)) {
            kills = k;
            break;
        }
        pid_t pid = fork();
        struct timespec d;
        uint64_t delay;
        size_t len;
        char *now;
        int n;

        assert_true(pid >= 0);
        if (pid == 0)
            _exit(child_rewrite_forever());
        /*
         * Anywhere in the first two saves: mid-write, at the fsync, around
         * the rename; after each round of planned kills, a save longer.
         */
        delay = (uint64_t)random() % ((2 + (uint64_t)(k / kills)) * save_us + 1);
        d.tv_sec = (time_t)(delay / 1000000);
        d.tv_nsec = (long)(delay % 1000000) * 1000;
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, NULL, 0), pid);

        now = read_text(path, &len);
        assert_non_null(now);
        if (len == len_a && memcmp(now, text_a, len) == 0)
            seen_a++;
        else if (len == len_b && memcmp(now, text_b, len) == 0)
            seen_b++;
        else
            fail_msg("kill %d after %" PRIu64 " us: the file is neither A nor B (%zu bytes)", k,
                     delay, len);
        free(now);
        /* The bytes are A's or B's, which load (checked above); now and then, load anyway. */
        if (k % 10 == 0) {
            json_t *loaded = config_load(path, err, sizeof(err));

            assert_non_null(loaded);
            assert_true(json_equal(loaded, cfg_a) || json_equal(loaded, cfg_b));
            json_decref(loaded);
        }

        /* At most the killed writer's own file; start-up removes it. */
        n = count_tmp();
        assert_true(n <= 1);
        tmp_left += (unsigned)n;
        assert_int_equal(config_remove_stale(path, err, sizeof(err)), n);
        assert_int_equal(count_tmp(), 0);
    }
    printf("    %s: %d kills in %.1f s (one save: %" PRIu64
           " us, %zu/%zu bytes): file was A %u times, "
           "B %u times; %u kills left a temporary file\n",
           dir, kills, (double)(now_us() - t0) / 1e6, save_us, len_a, len_b, seen_a, seen_b,
           tmp_left);
    /* The writer got somewhere, and was caught in the middle of saves. */
    assert_true(seen_b > 0);
    assert_true(tmp_left > 0);
    free(text_a);
    free(text_b);
    json_decref(cfg_a);
    json_decref(cfg_b);
}

static void test_kill_9_at_any_moment(void **state)
{
    char real_dir[sizeof(dir)], real_path[sizeof(path)], cmd[160];
    struct statfs sf;

    kill_campaign(KILLS_REAL_FS);
    snprintf(real_dir, sizeof(real_dir), "%s", dir);
    snprintf(real_path, sizeof(real_path), "%s", path);
    if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC) {
        kill_campaign(KILLS_TMPFS); /* no tmpfs: the whole campaign on disk */
        return;
    }
    snprintf(dir, sizeof(dir), "%s", "/dev/shm/vus-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/vus.json", dir);
    kill_campaign(KILLS_TMPFS);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof(dir), "%s", real_dir);
    snprintf(path, sizeof(path), "%s", real_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_empty_and_sections_are_filled_in,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_iterate_in_apply_order_and_label_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_edit_find_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_validation_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_itself_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_into_readonly_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_past_file_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_on_full_filesystem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_other_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_stale_only_ours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_at_any_moment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
