/* fuzz_reports.c - libFuzzer driver for the report body validation: the JSON parse and the shape
 * check the door (http.c, shapes.c) does, then validate_item (service/reports/reports.c) with the
 * door's verdict on one body (POST /api/v1/reports) or on every element of {"reports":[...]} (POST
 * /api/v1/reports/batch), then the record -> statement parameter text conversion (param_text)
 * insert_items does before the database.
 *
 * Each input runs on a thread with a CivetWeb worker's 100 KiB stack (worker_stack.h), after the
 * depth check http.c runs before parsing: jansson recurses, and on that stack an unchecked body of
 * ~1,500 nested '[' is a crash.
 *
 * The .c is #included to reach the static validate_item / param_text (`make fuzz` links this
 * driver without reports.o). The worker is real but has no database connection: validation needs
 * only the config and a gis_locator, here over a small in-memory index (a city, a county with a
 * hole, a zone, two stations) so the location, snapping and routing paths run too.
 *
 * Oracles besides the sanitizers (leaks included): a rejected item has a 4xx/5xx status, a code and
 * a message; a valid one has a lower-case UUID, a normalised record whose lon/lat are finite WGS-84
 * in range and whose every field converts to parameter text. */
#include <geos_c.h>
#include <stdint.h>

#include "service/reports/reports.c"
#include "tests/fuzz/worker_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static app fz_app;
static worker fz_w;

static unsigned char *wkt_wkb(GEOSContextHandle_t g, const char *wkt, size_t *len) {
    GEOSWKTReader *r = GEOSWKTReader_create_r(g);
    GEOSWKBWriter *wr = GEOSWKBWriter_create_r(g);
    GEOSGeometry *geom = GEOSWKTReader_read_r(g, r, wkt);
    unsigned char *wkb = geom ? GEOSWKBWriter_write_r(g, wr, geom, len) : NULL;
    if (!wkb) abort();
    GEOSGeom_destroy_r(g, geom);
    GEOSWKTReader_destroy_r(g, r);
    GEOSWKBWriter_destroy_r(g, wr);
    return wkb;
}

static void setup(void) {
    static const struct {
        const char *code, *name;
        gis_level level;
        int zone;
        const char *wkt;
    } divs[] = {
        {"320700000000", "Lianyungang", GIS_CITY, 0,
         "POLYGON((118.5 34.0,119.9 34.0,119.9 35.1,118.5 35.1,118.5 34.0))"},
        {"320703000000", "Lianyun", GIS_COUNTY, 0,
         "POLYGON((119.0 34.4,119.6 34.4,119.6 34.9,119.0 34.9,119.0 34.4),(119.2 34.6,119.3 34.6,119.3 34.7,119.2 34.7,119.2 34.6))"},
        {"320703001000", "Town", GIS_TOWN, 0,
         "POLYGON((119.0 34.4,119.3 34.4,119.3 34.6,119.0 34.6,119.0 34.4))"},
        {"Z01", "Port zone", GIS_COUNTY, 1,
         "POLYGON((119.1 34.5,119.5 34.5,119.5 34.8,119.1 34.8,119.1 34.5))"},
    };
    char err[256];
    GEOSContextHandle_t g = GEOS_init_r();
    gis_builder *b = gis_builder_create(err, sizeof err);
    if (!g || !b) abort();
    for (size_t i = 0; i < sizeof divs / sizeof divs[0]; i++) {
        size_t len;
        unsigned char *wkb = wkt_wkb(g, divs[i].wkt, &len);
        if (gis_builder_add_division(b, divs[i].code, divs[i].name, divs[i].level, divs[i].zone,
                                     wkb, len, err, sizeof err) != 0)
            abort();
        GEOSFree_r(g, wkb);
    }
    size_t len;
    unsigned char *cov =
        wkt_wkb(g, "POLYGON((119.0 34.4,119.6 34.4,119.6 34.9,119.0 34.9,119.0 34.4))", &len);
    if (gis_builder_add_station(b, 1, "City station", GIS_CITY, 1, 0, 119.22, 34.6, NULL, 0, err,
                                sizeof err) != 0 ||
        gis_builder_add_station(b, 2, "County station", GIS_COUNTY, 1, 1, 119.3, 34.65, cov, len,
                                err, sizeof err) != 0)
        abort();
    GEOSFree_r(g, cov);
    GEOS_finish_r(g);
    config_defaults(&fz_app.cfg);
    gis_index *ix = gis_builder_finish(b, fz_app.cfg.snap_tolerance_m, err, sizeof err);
    if (!ix) abort();
    fz_app.gis = gis_slot_create();
    gis_slot_publish(fz_app.gis, ix);
    fz_w.app = &fz_app;
    fz_w.loc = gis_locator_create(fz_app.gis);
    if (!fz_w.loc) abort();
}

static void check_item(const item *it) {
    if (!it->valid) {
        if (it->err.status < 400 || it->err.status > 599 || !it->err.code || !it->err.message[0])
            abort();
        if (it->rec) abort();
        return;
    }
    if (!it->client_id_ok || strlen(it->client_id) != 36) abort();
    for (int i = 0; i < 36; i++)
        if (isupper((unsigned char)it->client_id[i])) abort();
    double lon = json_number_value(json_object_get(it->rec, "lon"));
    double lat = json_number_value(json_object_get(it->rec, "lat"));
    if (!isfinite(lon) || !isfinite(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90)
        abort();
    if (!isfinite(json_number_value(json_object_get(it->rec, "observed_at")))) abort();
    int oom = 0;
    for (int k = 0; k < NREC_KEYS; k++)
        free(param_text(json_object_get(it->rec, rec_keys[k]), &oom));
    if (oom) abort();
}

typedef struct {
    const uint8_t *data;
    size_t size;
} fz_input;

static void *fuzz_one(void *arg) {
    const uint8_t *data = ((fz_input *)arg)->data;
    size_t size = ((fz_input *)arg)->size;
    json_error_t je;
    if (http_json_depth_ok((const char *)data, size, fz_app.cfg.json_max_depth) != 0)
        return NULL; /* as http.c: 400 before parsing */
    json_t *body =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je); /* as http.c */
    if (!body) return NULL;
    json_t *list = json_object_get(body, "reports");
    shape_error be;
    if (shape_check(&SHAPE_BATCH, body, &be) == 0) { /* the batch route (its table passes) */
        size_t n = json_array_size(list);
        item *items = calloc(n ? n : 1, sizeof *items);
        if (!items) abort();
        json_t *recs = json_array();
        for (size_t i = 0; i < n; i++) { /* the door judges each item, the handler answers */
            shape_error ie;
            json_t *one = json_array_get(list, i);
            int bad = shape_check(&SHAPE_REPORT, one, &ie) != 0;
            items[i].status = -1;
            validate_item(&fz_w, one, (int)i, bad ? &ie : NULL, &items[i]);
            if (bad &&
                (items[i].valid || items[i].client_id_ok != shape_key_passed(&SHAPE_REPORT, &ie)))
                abort();
            check_item(&items[i]);
            if (items[i].valid) json_array_append(recs, items[i].rec);
        }
        free(json_dumps(recs, JSON_COMPACT)); /* the $1 of insert_sql */
        json_decref(recs);
        for (size_t i = 0; i < n; i++)
            item_free(&items[i]);
        free(items);
    } else if (shape_check(&SHAPE_REPORT, body, &be) == 0 || shape_key_passed(&SHAPE_REPORT, &be)) {
        /* the single route: the door answers a body that fails before its key passed */
        int bad = shape_check(&SHAPE_REPORT, body, &be) != 0;
        item it;
        memset(&it, 0, sizeof it);
        it.status = -1;
        if (validate_item(&fz_w, body, 0, bad ? &be : NULL, &it) != 0 && it.valid) abort();
        check_item(&it);
        item_free(&it);
    }
    json_decref(body);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fz_w.loc) setup();
    if (size > (64u << 10)) return 0; /* the route's body limit */
    fz_input in = {data, size};
    fuzz_on_worker_stack(fuzz_one, &in);
    return 0;
}
