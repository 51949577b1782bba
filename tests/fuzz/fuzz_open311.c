/* fuzz_open311.c - libFuzzer driver for what Open311 reads from anonymous clients and what it
 * writes as XML: the form-urlencoded body as the door decodes and checks it (shape_form and
 * shape_check against SHAPE_O311_REQUEST), the XML text writer (service/open311/open311.c), the
 * service_request_id and service_code lists of GET requests as the door reads them (params_parse
 * against the route's specs), and the UTF-8 scrubber of messages.
 *
 * The .c is #included to reach the static functions (`make fuzz` links this driver without
 * open311.o); http_send is renamed to fake_send, which records the status and checks that an error
 * reply is valid UTF-8 instead of writing to a connection.
 *
 * Input: byte 0 selects the function, the rest is its input. Oracles besides the sanitizers: a
 * parsed form holds only valid UTF-8 without NUL, at most 64 names, and a form that passes its
 * shape has numbers in range; XML text is valid UTF-8, only characters XML 1.0 allows, no raw '<'
 * or '>', every '&' an entity; an id list is "{d,d,...}" with at most 100 ids, each once; a code
 * list names each known service at most once; a scrubbed string is valid UTF-8 of the same
 * length. */
#include <stdint.h>

#include "service/door/http.h"

static int fake_send(http_req *r, int status, const char *ctype, const char *body, size_t len,
                     const char *extra_headers);
#define http_send fake_send
#include "service/open311/open311.c"
#undef http_send

#include "service/door/routes.h"

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
        shape_error e;
        json_t *form = NULL;
        if (shape_form(&SHAPE_O311_REQUEST, in, len, &form, &e) != 0) {
            if (e.status != 400 || !e.message[0]) abort();
            break;
        }
        const char *k;
        json_t *v;
        size_t fields = 0;
        json_object_foreach(form, k, v) {
            check_utf8(k, strlen(k));
            if (json_is_object(v)) {
                const char *ak;
                json_t *av;
                json_object_foreach(v, ak, av) fields++;
                continue;
            }
            if (json_is_string(v)) {
                check_utf8(json_string_value(v), json_string_length(v));
                xml_of(json_string_value(v));
            }
            fields++;
        }
        if (fields > 64) abort();
        if (shape_check(&SHAPE_O311_REQUEST, form, &e) == 0) {
            double lat = json_number_value(json_object_get(form, "lat"));
            if (!json_is_number(json_object_get(form, "lat")) || fabs(lat) > 90) abort();
        }
        json_decref(form);
        break;
    }
    case 1: /* XML text of any bytes */
        xml_of(in);
        break;
    case 2:
    case 3: { /* the lists of GET requests.json, as the door reads them */
        const route *rt = NULL;
        for (size_t i = 0; i < nroutes && !rt; i++)
            if (routes[i].handler == h_o311_requests) rt = &routes[i];
        char query[1200];
        snprintf(query, sizeof query, "%s=%.1100s",
                 data[0] % 5 == 2 ? "service_request_id" : "service_code", in);
        http_qval qv[8];
        char mem[4096];
        param_error e;
        if (params_mem_size(rt->query, query, NULL) > sizeof mem) break;
        if (params_parse(rt->query, query, NULL, qv, mem, sizeof mem, &e) != 0) break;
        const char *list = qv[data[0] % 5 == 2 ? 0 : 1].s;
        size_t m = list ? strlen(list) : 0;
        if (!m) break;
        int items = 1;
        if (m < 3 || list[0] != '{' || list[m - 1] != '}' || strstr(list, ",,")) abort();
        for (size_t i = 1; i + 1 < m; i++)
            items += list[i] == ',';
        if (items > 100) abort();
        for (size_t i = 0; data[0] % 5 == 3 && i < NSERVICES; i++) {
            const char *hit = strstr(list, services[i].code);
            if (hit && strstr(hit + strlen(services[i].code), services[i].code)) abort();
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
