/* test_config.c - defaults, the file format and its errors, environment precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "service/core/config.h"

static const char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/patrold-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void defaults(void **state) {
    (void)state;
    config c;
    config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_int_equal(c.threads, 512);
    assert_string_equal(c.database, "");
    assert_true(c.snap_tolerance_m == 500.0);
    assert_int_equal(c.ack_town_s, 900);
}

static void file_then_env(void **state) {
    (void)state;
    config c;
    char err[256];
    config_defaults(&c);
    const char *p =
        write_tmp("# comment\n\n threads = 8 \nlisten = \"0.0.0.0:1\"\ndup_radius_m = 150.5\n");
    assert_int_equal(config_load_file(&c, p, err, sizeof err), 0);
    assert_int_equal(c.threads, 8);
    assert_string_equal(c.listen, "0.0.0.0:1");
    assert_true(c.dup_radius_m == 150.5);
    setenv("PATROLD_THREADS", "3", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), 0);
    unsetenv("PATROLD_THREADS");
    assert_int_equal(c.threads, 3);
    assert_string_equal(c.listen, "0.0.0.0:1");
    unlink(p);
}

static void errors(void **state) {
    (void)state;
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"threads = -1\n", ":1: threads"},
        {"threads = 12abc\n", "threads"},
        {"\nnope = 1\n", ":2: unknown setting 'nope'"},
        {"listen\n", "expected 'key = value'"},
        {"snap_tolerance_m = nan\n", "snap_tolerance_m"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config c;
        char err[256] = "";
        config_defaults(&c);
        const char *p = write_tmp(cases[i].text);
        assert_int_equal(config_load_file(&c, p, err, sizeof err), -1);
        assert_non_null(strstr(err, cases[i].needle));
        unlink(p);
    }
    config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/patrold.conf", err, sizeof err), -1);
    setenv("PATROLD_ACK_CITY_S", "soon", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "PATROLD_ACK_CITY_S"));
    unsetenv("PATROLD_ACK_CITY_S");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(file_then_env),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
