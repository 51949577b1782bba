"""test_vocabulary.py - the vocabulary the service publishes (the enum schemas of
/api/v1/openapi.json, made from service/core/vocab.c) equals the schema's CHECK constraints, and the
request schemas and error messages come from the same tables."""
import re
import unittest
import uuid

import harness

# (table, column) of each enum-like CHECK constraint -> the component schema that must equal it
CHECKED = {
    ("reports", "category"): "Category",
    ("reports", "status"): "ReportStatus",
    ("reports", "outcome"): "Outcome",
    ("reports", "tier"): "Tier",
    ("stations", "tier"): "Tier",
    ("units", "status"): "UnitStatus",
    ("divisions", "level"): "DivisionLevel",
    ("divisions", "kind"): "DivisionKind",
    ("users", "role"): "Role",
    ("division_changes", "change"): "DivisionChange",
}

# CHECK lists on those tables that no client sends or filters by (stored by the service itself)
NOT_VOCABULARY = {("reports", "source")}

# The partial indexes whose predicate lists report statuses -> the ReportStatus flag they hold
# (vocab.c: the SQL that reads them names the same flag, so the literal it is prepared with is
# the predicate's list and the planner may use the index)
PARTIAL = {"reports_open_geom_idx": "open", "reports_due_idx": "initial"}


def check_lists(db):
    """{(table, column): [values]} of every CHECK (col IN (...)) / col = ANY (ARRAY[...]) in public."""
    rows = db.sql("SELECT c.conrelid::regclass::text AS tbl, pg_get_constraintdef(c.oid) AS def"
                  " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                  " WHERE c.contype = 'c' AND n.nspname = 'public'")
    out = {}
    for row in rows:
        m = re.match(r"CHECK \(+\(?(\w+)\)? = ANY \(+ARRAY\[(.*)\]\)", row["def"])
        if m:
            values = re.findall(r"'((?:[^']|'')*)'::", m.group(2))
            out[(row["tbl"], m.group(1))] = values
    return out


class VocabularyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        cls.srv = harness.Server(cls.db)
        cls.schemas = cls.srv.openapi()["components"]["schemas"]

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def enum(self, component):
        s = self.schemas[component]
        self.assertEqual(s["type"], "string")
        return s["enum"]

    def test_checks_equal_the_published_vocabulary(self):
        checks = check_lists(self.db)
        for key, component in CHECKED.items():
            with self.subTest(check=key):
                self.assertIn(key, checks, "no CHECK constraint found on %s.%s" % key)
                self.assertEqual(sorted(checks[key]), sorted(self.enum(component)))
                self.assertEqual(len(set(self.enum(component))), len(self.enum(component)))

    def test_every_vocabulary_check_is_compared(self):
        """A new enum-like CHECK on a table the vocabulary covers needs a row in CHECKED (and in vocab.c)."""
        covered = {t for t, _ in CHECKED}
        checks = check_lists(self.db)
        for table, column in checks:
            if table in covered and (table, column) not in NOT_VOCABULARY:
                self.assertIn((table, column), CHECKED, "%s.%s has a CHECK list the test does not compare"
                              % (table, column))

    def test_partial_index_predicates_are_the_flagged_statuses(self):
        flags = self.schemas["ReportStatus"]["x-flags"]
        rows = self.db.sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'reports'"
                           " AND indexdef LIKE %s", "%WHERE%status%")
        self.assertEqual({r["indexname"] for r in rows}, set(PARTIAL), "a new partial index on status"
                         " needs its row in PARTIAL (and the flag in vocab.c)")
        for row in rows:
            with self.subTest(index=row["indexname"]):
                pred = row["indexdef"].split(" WHERE ", 1)[1]
                listed = re.findall(r"'([^']*)'::text", pred)
                self.assertEqual(sorted(listed), sorted(flags[PARTIAL[row["indexname"]]]))
                self.assertLess(set(listed), set(self.enum("ReportStatus")))

    def explain(self, query):
        return harness.psql(self.db.name, "BEGIN; SET LOCAL enable_seqscan = off;"
                            " SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off;"
                            " EXPLAIN (FORMAT JSON) " + query + "; COMMIT").stdout

    def test_the_open_list_lets_the_planner_use_the_partial_index(self):
        """The literal list the server prepares its statements with (the published open statuses)
        is one the planner proves the partial index from; a parameter would not be."""
        opened = ", ".join(harness.lit(c) for c in self.schemas["ReportStatus"]["x-flags"]["open"])
        plan = self.explain("SELECT id FROM reports r WHERE r.status IN (%s)"
                            " ORDER BY r.geom <-> ST_SetSRID(ST_MakePoint(119.2, 34.6), 4326) LIMIT 5"
                            % opened)
        self.assertIn("reports_open_geom_idx", plan)
        initial = harness.lit(self.schemas["ReportStatus"]["x-flags"]["initial"][0])
        plan = self.explain("SELECT id FROM reports r WHERE r.status IN (%s) ORDER BY r.ack_deadline"
                            " LIMIT 5" % initial)
        self.assertIn("reports_due_idx", plan)

    def test_event_kinds_and_their_shapes(self):
        kinds = self.enum("EventKind")
        self.assertEqual(set(self.schemas["EventKind"]["x-flags"]["report"]) |
                         set(self.schemas["EventKind"]["x-flags"]["unit"]), set(kinds))
        branches = self.schemas["Event"]["oneOf"]
        self.assertEqual([b["properties"]["kind"]["const"] for b in branches], kinds)
        for b in branches:
            k = b["properties"]["kind"]["const"]
            want = "UnitEventPayload" if k in self.schemas["EventKind"]["x-flags"]["unit"] else "ReportEventPayload"
            self.assertEqual(b["properties"]["payload"]["$ref"], "#/components/schemas/" + want)
        kinds_sent = {r["kind"] for r in self.db.sql("SELECT DISTINCT kind FROM events")}
        self.assertLessEqual(kinds_sent, set(kinds))

    def test_settable_unit_statuses_are_unit_statuses(self):
        settable = self.enum("UnitSettableStatus")
        self.assertTrue(settable)
        self.assertLess(set(settable), set(self.enum("UnitStatus")))

    def test_request_schemas_use_the_vocabulary(self):
        report = self.schemas["ReportInput"]
        self.assertEqual(report["properties"]["category"]["enum"], self.enum("Category"))
        self.assertEqual(sorted(report["required"]), ["category", "client_id", "location", "observed_at"])
        self.assertEqual(self.schemas["UnitStatusInput"]["properties"]["status"]["enum"],
                         self.enum("UnitSettableStatus"))
        event = self.schemas["ReportEventInput"]["properties"]
        self.assertEqual(event["outcome"]["enum"], self.enum("Outcome"))
        self.assertEqual(event["type"]["enum"], self.enum("ReportEventType"))
        self.assertEqual(self.schemas["ReportBatch"]["properties"]["reports"]["items"]["title"], "ReportInput")

    def test_error_messages_list_the_vocabulary(self):
        tok = self.srv.login("patrol")
        body = {"client_id": str(uuid.uuid4()), "category": "alien", "observed_at": "2024-01-01T00:00:00Z",
                "location": {"lon": 119.2, "lat": 34.6}}
        r = self.srv.request("POST", "/api/v1/reports", json_body=body, token=tok)
        self.assertEqual((r.status, r.error), (400, "invalid_category"))
        self.assertEqual(r.json()["error"]["message"],
                         "category must be one of: " + ", ".join(self.enum("Category")))
        r = self.srv.request("GET", "/api/v1/reports?status=open", token=self.srv.login("dispatcher"))
        self.assertEqual((r.status, r.error), (400, "invalid_status"))
        self.assertTrue(r.json()["error"]["message"].endswith(", ".join(self.enum("ReportStatus"))))

if __name__ == "__main__":
    unittest.main()
