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

/* basemap_url: the three forms resolved, and what is refused. */
static void basemap(void **state) {
    (void)state;
    config c;
    config_basemap b;
    char err[256];
    config_defaults(&c);
    assert_int_equal(config_basemap_resolve(&c, &b, err, sizeof err), 0);
    assert_null(b.kind); /* none by default */
    snprintf(c.basemap_url, sizeof c.basemap_url,
             "https://tiles.example.org:8443/b/{z}/{x}/{y}.png");
    assert_int_equal(config_basemap_resolve(&c, &b, err, sizeof err), 0);
    assert_string_equal(b.kind, "xyz");
    assert_string_equal(b.crs, "wgs84");
    assert_int_equal(b.nlayers, 1);
    assert_string_equal(b.layers[0], c.basemap_url);
    assert_string_equal(b.origin, "https://tiles.example.org:8443");
    assert_null(b.attribution);
    snprintf(c.basemap_url, sizeof c.basemap_url, "tianditu:0123abcdef");
    assert_int_equal(config_basemap_resolve(&c, &b, err, sizeof err), 0);
    assert_string_equal(b.kind, "tianditu");
    assert_string_equal(b.crs, "wgs84");
    assert_int_equal(b.nlayers, 2);
    assert_string_equal(b.layers[0],
                        "https://t{0-7}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                        "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                        "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=0123abcdef");
    assert_non_null(strstr(b.layers[1], "/cva_w/wmts?"));
    assert_non_null(strstr(b.layers[1], "&LAYER=cva&"));
    assert_non_null(strstr(b.layers[1], "&tk=0123abcdef"));
    assert_string_equal(b.origin, "https://*.tianditu.gov.cn");
    assert_string_equal(b.attribution, "天地图");
    snprintf(c.basemap_url, sizeof c.basemap_url,
             "gcj02:https://webrd0{1-4}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
             "&style=8&x={x}&y={y}&z={z}");
    assert_int_equal(config_basemap_resolve(&c, &b, err, sizeof err), 0);
    assert_string_equal(b.kind, "gcj02");
    assert_string_equal(b.crs, "gcj02");
    assert_int_equal(b.nlayers, 1);
    assert_string_equal(b.layers[0], c.basemap_url + 6);
    assert_string_equal(b.origin, "https://*.is.autonavi.com");
    snprintf(c.basemap_url, sizeof c.basemap_url, "gcj02:http://127.0.0.1:8099/{z}/{x}/{y}.png");
    assert_int_equal(config_basemap_resolve(&c, &b, err, sizeof err), 0);
    assert_string_equal(b.origin, "http://127.0.0.1:8099");
    static const char *const bad[] = {"tianditu:",
                                      "tianditu:ab-cd",
                                      "tianditu:abc def",
                                      "gcj02:",
                                      "gcj02:ftp://x.org/{z}",
                                      "gcj02:tianditu:abc",
                                      "javascript:alert(1)",
                                      "https:///{z}",
                                      "https://x.org/a b",
                                      "https://x.org/{z};script-src *",
                                      "https://{a-c}/{z}",
                                      "https://a.{b-c}.org/{z}",
                                      "https://x{1-2}.y{3-4}.org/{z}",
                                      "https://x.org/'{z}",
                                      "https://x.org/\\{z}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(c.basemap_url, sizeof c.basemap_url, "%s", bad[i]);
        err[0] = 0;
        assert_int_equal(config_basemap_resolve(&c, &b, err, sizeof err), -1);
        assert_null(b.kind);
        assert_non_null(strstr(err, "basemap_url"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(file_then_env),
        cmocka_unit_test(errors),
        cmocka_unit_test(basemap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
