/* test_login.c - the client address behind trusted proxies, the hashing slots, the password policy
 * and the placeholder check of unknown users. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "service/admin/login.h"
#include "service/core/auth.h"

static const char *addr(const char *peer, const char *xff, const char *xreal, const char *trusted) {
    static char out[AUTH_ADDR_LEN];
    auth_client_addr(peer, xff, xreal, trusted, out, sizeof out);
    return out;
}

static void client_address(void **state) {
    (void)state;
    const char *proxy = "127.0.0.1, ::1,10.0.0.2";
    /* no trusted proxy: the peer, whatever the headers say */
    assert_string_equal(addr("198.51.100.4", "203.0.113.9", "203.0.113.9", ""),
                        "addr:198.51.100.4");
    assert_string_equal(addr("127.0.0.1", "203.0.113.9", NULL, "10.0.0.2"), "addr:127.0.0.1");
    /* trusted: the rightmost untrusted entry; forged entries on the left do not matter */
    assert_string_equal(addr("127.0.0.1", "203.0.113.9", NULL, proxy), "addr:203.0.113.9");
    assert_string_equal(addr("127.0.0.1", "1.1.1.1, 203.0.113.9", NULL, proxy), "addr:203.0.113.9");
    assert_string_equal(addr("127.0.0.1", "1.1.1.1,203.0.113.9 , 10.0.0.2", NULL, proxy),
                        "addr:203.0.113.9");
    assert_string_equal(addr("::1", NULL, "203.0.113.5", proxy), "addr:203.0.113.5");
    /* garbage or nothing forwarded: the peer */
    assert_string_equal(addr("127.0.0.1", "not-an-address", NULL, proxy), "addr:127.0.0.1");
    assert_string_equal(addr("127.0.0.1", "1.1.1.1, 203.0.113.9:443", NULL, proxy),
                        "addr:127.0.0.1");
    assert_string_equal(addr("127.0.0.1", "", "", proxy), "addr:127.0.0.1");
    assert_string_equal(addr("127.0.0.1", "10.0.0.2", NULL, proxy), "addr:127.0.0.1");
    /* IPv6 is cut to its /64; IPv4-mapped is IPv4 */
    assert_string_equal(addr("2001:db8:1:2:aaaa:bbbb:cccc:dddd", NULL, NULL, ""),
                        "addr:2001:db8:1:2::/64");
    assert_string_equal(addr("::ffff:192.0.2.7", NULL, NULL, ""), "addr:192.0.2.7");
    assert_string_equal(addr("::ffff:127.0.0.1", "192.0.2.8", NULL, proxy), "addr:192.0.2.8");
    assert_string_equal(addr("", NULL, NULL, proxy), "addr:unknown");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *release_later(void *arg) {
    (void)arg;
    usleep(100 * 1000);
    login_slot_release();
    return NULL;
}

static void *take_and_count(void *arg) {
    int *got = arg;
    if (login_slot_acquire(1, 3000) == 0) {
        *got = 1;
        login_slot_release();
    }
    return NULL;
}

static void hashing_slots(void **state) {
    (void)state;
    assert_int_equal(login_slot_acquire(2, 0), 0);
    assert_int_equal(login_slot_acquire(2, 0), 0);
    double t0 = now_s();
    assert_int_equal(login_slot_acquire(2, 150), -1); /* both taken: a bounded wait */
    double waited = now_s() - t0;
    assert_true(waited >= 0.12 && waited < 2.0);
    /* a slot released while waiting goes to the waiter */
    pthread_t t;
    pthread_create(&t, NULL, release_later, NULL);
    assert_int_equal(login_slot_acquire(2, 3000), 0);
    pthread_join(t, NULL);
    login_slot_release();
    login_slot_release();
    /* a full queue answers at once: limit 1, one held, LOGIN_WAITERS_PER_SLOT waiting */
    assert_int_equal(login_slot_acquire(1, 0), 0);
    pthread_t w[LOGIN_WAITERS_PER_SLOT];
    int got[LOGIN_WAITERS_PER_SLOT] = {0};
    for (int i = 0; i < LOGIN_WAITERS_PER_SLOT; i++)
        pthread_create(&w[i], NULL, take_and_count, &got[i]);
    usleep(200 * 1000);
    t0 = now_s();
    assert_int_equal(login_slot_acquire(1, 2000), -1);
    assert_true(now_s() - t0 < 0.5);
    login_slot_release();
    for (int i = 0; i < LOGIN_WAITERS_PER_SLOT; i++) {
        pthread_join(w[i], NULL);
        assert_int_equal(got[i], 1); /* every waiter got its turn */
    }
    assert_int_equal(login_slot_acquire(1, 0), 0); /* and nothing leaked */
    login_slot_release();
}

static void password_policy(void **state) {
    (void)state;
    char err[128];
    char big[AUTH_PASSWORD_MAX + 2];
    assert_int_equal(auth_password_check("demo", err, sizeof err), -1);
    assert_non_null(strstr(err, "at least 10"));
    assert_int_equal(auth_password_check("123456789", err, sizeof err), -1);
    assert_int_equal(auth_password_check("1234567890", err, sizeof err), 0);
    assert_int_equal(auth_password_check("九个汉字的密码不够", err, sizeof err), -1); /* 27 bytes */
    assert_int_equal(auth_password_check("十个汉字的密码足够了", err, sizeof err), 0);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(auth_password_check(big, err, sizeof err), -1);
    big[AUTH_PASSWORD_MAX] = 0;
    assert_int_equal(auth_password_check(big, err, sizeof err), 0);
}

static void *verify_unknown(void *arg) {
    *(int *)arg = auth_verify_password(NULL, "placeholder: no such user");
    return NULL;
}

static void placeholder_check(void **state) {
    (void)state;
    char hash[128];
    assert_int_equal(auth_hash_password("right-password", hash, sizeof hash), 0);
    assert_int_equal(auth_verify_password(hash, "right-password"), 1);
    assert_int_equal(auth_verify_password(hash, "wrong-password"), 0);
    /* unknown users never pass, even with the placeholder's own text, from two threads at once */
    pthread_t t[2];
    int ok[2] = {-1, -1};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, verify_unknown, &ok[i]);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(ok[i], 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_address),
        cmocka_unit_test(hashing_slots),
        cmocka_unit_test(password_policy),
        cmocka_unit_test(placeholder_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
