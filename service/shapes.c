/* shapes.c - THROWAWAY STUB of the openapi branch so it builds: names only, schemas
 * {"type":"object","title":name}. The contracts branch's service/shapes.c replaces it at merge. */
#include "service/shapes.h"

struct shape {
    const char *name;
};

const shape SHAPE_LOGIN = {"LoginRequest"}, SHAPE_PASSWORD = {"PasswordChange"},
            SHAPE_REPORT = {"ReportInput"}, SHAPE_BATCH = {"ReportBatch"},
            SHAPE_REPORT_EVENT = {"ReportEvent"}, SHAPE_UNIT_CREATE = {"UnitInput"},
            SHAPE_UNIT_STATUS = {"UnitStatusChange"}, SHAPE_POSITIONS = {"PositionBatch"};

const char *shape_name(const shape *s) {
    return s->name;
}

json_t *shape_schema(const shape *s) {
    return json_pack("{s:s,s:s}", "type", "object", "title", s->name);
}
