/* fuzz_open311.c - libFuzzer driver for what Open311 reads from anonymous clients and what it
 * writes as XML (service/open311/open311.c): the form-urlencoded body parser, the XML text writer, the
 * service_request_id and service_code lists of GET requests, and the UTF-8 scrubber of messages.
 *
 * The .c is #included to reach the static functions (`make fuzz` links this driver without
 * open311.o); http_send is renamed to fake_send, which records the status and checks that an error
 * reply is valid UTF-8 instead of writing to a connection.
 *
 * Input: byte 0 selects the function, the rest is its input. Oracles besides the sanitizers: a
 * parsed form holds only valid UTF-8 without NUL, at most O311_FORM_MAX_FIELDS names; XML text is
 * valid UTF-8, only characters XML 1.0 allows, no raw '<' or '>', every '&' an entity; an id list
 * is "{d,d,...}" with at most O311_MAX_IDS ids inside its buffer; a code list names each known
 * service at most once, and a refused list is a 400 reply; a scrubbed string is valid UTF-8 of the
 * same length. */
#include <stdint.h>

#include "service/door/http.h"

static int fake_send(http_req *r, int status, const char *ctype, const char *body, size_t len,
                     const char *extra_headers);
#define http_send fake_send
#include "service/open311/open311.c"
#undef http_send

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_utf8(const char *s, size_t len) {
    unsigned cp;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        size_t n = utf8_decode(p, &cp);
        if (!n || cp == 0 || p + n > end) abort();
        p += n;
    }
}

static int fake_send(http_req *r, int status, const char *ctype, const char *body, size_t len,
                     const char *extra_headers) {
    (void)ctype, (void)extra_headers;
    if (strlen(body) != len) abort();
    check_utf8(body, len);
    r->status = status;
    return status;
}

static void check_xml_text(const char *s) {
    static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    unsigned cp;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_decode(p, &cp);
        if (!n || !xml_char_ok(cp) || cp == '<' || cp == '>') abort();
        if (cp == '&') {
            size_t k = 0;
            while (k < 5 && strncmp((const char *)p, entities[k], strlen(entities[k])) != 0)
                k++;
            if (k == 5) abort();
        }
        p += n;
    }
}

static void xml_of(const char *s) {
    buf b = {0};
    xml_text(&b, s);
    if (!b.oom && b.p) check_xml_text(b.p);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 70000) return 0;
    char *in = malloc(size);
    if (!in) return 0;
    memcpy(in, data + 1, size - 1);
    in[size - 1] = 0;
    size_t len = size - 1;
    http_req r;
    memset(&r, 0, sizeof r);
    r.path = data[0] & 0x80 ? "/open311/v2/requests.xml" : "/open311/v2/requests.json";
    r.method = "GET";
    switch (data[0] % 5) {
    case 0: { /* form body (raw bytes, NULs included) */
        const char *why = NULL;
        json_t *form = form_parse(in, len, &why);
        if (!form) {
            if (!why || !*why) abort();
            break;
        }
        const char *k;
        json_t *v;
        size_t fields = 0;
        json_object_foreach(form, k, v) {
            if (strcmp(k, "attribute") == 0) {
                const char *ak;
                json_t *av;
                json_object_foreach(v, ak, av) {
                    check_utf8(json_string_value(av), json_string_length(av));
                    xml_of(json_string_value(av));
                    fields++;
                }
                continue;
            }
            check_utf8(k, strlen(k));
            check_utf8(json_string_value(v), json_string_length(v));
            xml_of(json_string_value(v));
            fields++;
        }
        if (fields > O311_FORM_MAX_FIELDS) abort();
        json_decref(form);
        break;
    }
    case 1: /* XML text of any bytes */
        xml_of(in);
        break;
    case 2: { /* service_request_id list (the query value is at most 1023 bytes) */
        char ids[1100];
        if (strlen(in) > 1023) break;
        int n = id_list(in, ids, sizeof ids);
        if (n == -1 || n == -2) break;
        size_t m = strlen(ids);
        if (n < 1 || n > O311_MAX_IDS || m < 3 || ids[0] != '{' || ids[m - 1] != '}') abort();
        int commas = 0;
        for (size_t i = 1; i + 1 < m; i++) {
            if (ids[i] == ',')
                commas++;
            else if (!isdigit((unsigned char)ids[i]))
                abort();
        }
        if (commas != n - 1 || strstr(ids, ",,") || ids[1] == ',' || ids[m - 2] == ',') abort();
        break;
    }
    case 3: { /* service_code list */
        char codes[256];
        if (strlen(in) > 1023) break;
        int n = code_list(&r, in, codes, sizeof codes);
        if (n < 0) {
            if (r.status != 400) abort();
            break;
        }
        if (n < 1 || n > (int)NSERVICES || codes[0] != '{' || codes[strlen(codes) - 1] != '}')
            abort();
        for (size_t i = 0; i < NSERVICES; i++) {
            const char *hit = strstr(codes, services[i].code);
            if (hit && strstr(hit + 1, services[i].code)) abort();
        }
        break;
    }
    default: { /* the scrubber */
        size_t m = strlen(in);
        utf8_scrub(in);
        if (strlen(in) != m) abort();
        check_utf8(in, m);
    }
    }
    free(in);
    return 0;
}
