"""test_vocabulary.py - the vocabulary the service publishes (the enum schemas of
/api/v1/openapi.json and GET /api/v1/vocabulary, made from service/core/vocab.c) equals the schema's
CHECK constraints, every term has a Chinese label, the request schemas and error messages come from
the same tables, the event kinds, timeline types and error codes are exactly what the server
writes and sends, and web/ repeats none of it (weblists.py)."""
import glob
import os
import re
import time
import unittest
import uuid

import harness
import weblists
from test_routes_roles import HAIZHOU, png, report

# (table, column) of each enum-like CHECK constraint -> the component schema that must equal it
CHECKED = {
    ("reports", "category"): "Category",
    ("reports", "status"): "ReportStatus",
    ("reports", "outcome"): "Outcome",
    ("reports", "tier"): "Tier",
    ("reports", "source"): "ReportSource",
    ("reports", "channel"): "PhoneChannel",
    ("stations", "tier"): "Tier",
    ("units", "status"): "UnitStatus",
    ("divisions", "level"): "DivisionLevel",
    ("divisions", "kind"): "DivisionKind",
    ("users", "role"): "Role",
    ("division_changes", "change"): "DivisionChange",
    ("agencies", "kind"): "AgencyKind",
    ("audit", "kind"): "AuditKind",
    ("audit", "action"): "AuditAction",
    ("audit", "entity"): "AuditEntity",
}

# CHECK lists on those tables that no client sends or filters by (stored by the service itself)
NOT_VOCABULARY = set()

# The partial indexes whose predicate lists report statuses -> the ReportStatus flag they hold
# (vocab.c: the SQL that reads them names the same flag, so the literal it is prepared with is
# the predicate's list and the planner may use the index)
PARTIAL = {"reports_open_geom_idx": "open", "reports_due_idx": "initial",
           "reports_unmasked_closed_idx": "closed"}


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


class VocabularyTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.schemas = cls.srv.openapi()["components"]["schemas"]

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
        flags = self.schemas["EventKind"]["x-flags"]
        self.assertEqual(set(flags["report"]) | set(flags["unit"]) | set(flags["patrol"]), set(kinds))
        branches = self.schemas["Event"]["oneOf"]
        self.assertEqual([b["properties"]["kind"]["const"] for b in branches], kinds)
        for b in branches:
            k = b["properties"]["kind"]["const"]
            want = ("UnitEventPayload" if k in flags["unit"] else
                    "PatrolEventPayload" if k in flags["patrol"] else "ReportEventPayload")
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


def source(pattern="service/*/*.c"):
    """{path: text} of the service's C files, comments dropped."""
    out = {}
    for path in sorted(glob.glob(os.path.join(harness.ROOT, pattern))):
        with open(path, encoding="utf-8") as f:
            out[os.path.relpath(path, harness.ROOT)] = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return out


CODE = r'"([a-z][a-z0-9_]*)"'
# Where an error code is written in service/: the reply helpers' code argument, the request shapes'
# codes, a code kept for the access log before a hand-made reply, and JSON error bodies in C text.
ERROR_SITES = [
    r"\b(?:http_error|http_error_retry|shape_fail|shape_vocab_error|reply_retry|fail|refuse)\(\s*[^,()]+,\s*(?:\d+,\s*)*" + CODE,
    r",\s*\.(?:code|too_many_code|body_code)\s*=\s*" + CODE,
    r"\bSHAPE\(\s*\w+,\s*\"\w+\",\s*" + CODE,
    r"\berror_code,\s*sizeof\s+r->error_code,\s*" + CODE + r"\s*\)",
    r'\\"code\\":\\"([a-z][a-z0-9_]*)\\"',
]


def error_codes_in_source():
    """{code: [files]} of every error code written out in service/."""
    codes = {}
    for path, text in source().items():
        for pattern in ERROR_SITES:
            for m in re.finditer(pattern, text):
                codes.setdefault(m.group(1), set()).add(path)
    return codes


def generated_error_codes(openapi):
    """The invalid_<name> codes params_fail makes of a query or path parameter's name."""
    names = {p["name"] for item in openapi["paths"].values() for op in item.values()
             for p in op.get("parameters", [])}
    for text in source().values():  # names given to params_fail by hand ("Last-Event-ID")
        for call in re.findall(r"\bparams_fail\(([^;]*)\);", text):
            names.update(re.findall(r'"([^"]+)"', call))
    return {"invalid_" + n.lower().replace("-", "_") for n in names}


class VocabularyReply(harness.ServerCase):
    """GET /api/v1/vocabulary against the published schemas, the database, the code and web/."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reply = cls.srv.request("GET", "/api/v1/vocabulary")
        cls.vocab = cls.reply.json()
        cls.doc = cls.srv.openapi()

    def codes(self, name):
        return [t["code"] for t in self.vocab[name]]

    def list_of(self, component):
        """The list of the reply whose codes the Vocabulary schema types as `component`."""
        props = self.doc["components"]["schemas"]["Vocabulary"]["properties"]
        hits = [k for k, v in props.items()
                if v["items"]["allOf"][1]["properties"]["code"]["$ref"].endswith("/" + component)]
        self.assertEqual(len(hits), 1, component)
        return hits[0]

    def test_every_list_is_served_in_the_schema_order(self):
        self.assertEqual(self.reply.status, 200)
        schemas = self.doc["components"]["schemas"]
        self.assertEqual(sorted(self.vocab), sorted(schemas["Vocabulary"]["required"]))
        for name in ("categories", "statuses", "outcomes", "tiers", "levels", "unit_statuses", "event_types",
                     "timeline_types", "event_kinds", "sexes", "roles", "error_codes"):
            self.assertIn(name, self.vocab)
        for name in self.vocab:
            component = schemas["Vocabulary"]["properties"][name]["items"]["allOf"][1]["properties"]["code"]["$ref"]
            with self.subTest(list=name):
                self.assertEqual(self.codes(name), schemas[component.rsplit("/", 1)[1]]["enum"])
                self.assertEqual(len(set(self.codes(name))), len(self.codes(name)))

    def test_served_codes_equal_the_check_constraints(self):
        checks = check_lists(self.db)
        for key, component in CHECKED.items():
            with self.subTest(check=key):
                self.assertEqual(sorted(self.codes(self.list_of(component))), sorted(checks[key]))

    def test_every_term_has_a_chinese_label(self):
        cjk = re.compile("[\u4e00-\u9fff]")
        for name, terms in self.vocab.items():
            for t in terms:
                with self.subTest(list=name, code=t["code"]):
                    self.assertIsInstance(t["label"], str)
                    self.assertTrue(cjk.search(t["label"]), "no Chinese in the label %r" % t["label"])

    def test_flags(self):
        """open marks the statuses a report may be cancelled from (lifecycle.c's own S_OPEN); settable
        the unit statuses a client may set."""
        tok = self.srv.login("dispatcher")
        a = self.srv.create_report(report(), tok)["id"]
        ways = {"new": [], "acknowledged": ["acknowledge"], "dispatched": ["acknowledge", "dispatch"],
                "on_scene": ["acknowledge", "dispatch", "arrive"], "resolved": ["acknowledge", "dispatch", "arrive", "resolve"],
                "cancelled": ["cancel"], "duplicate": ["mark_duplicate"]}
        for t in self.vocab["statuses"]:
            with self.subTest(status=t["code"]):
                rid = self.srv.create_report(report(), tok)["id"]
                for step in ways[t["code"]]:
                    extra = {"dispatch": {"unit_id": self.available_unit(tok, rid)}, "resolve": {"outcome": "not_found"},
                             "mark_duplicate": {"duplicate_of": a}}.get(step, {})
                    self.event(tok, rid, type=step, **extra)
                self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d" % rid, token=tok).json()["status"], t["code"])
                r = self.srv.request("POST", "/api/v1/reports/%d/events" % rid, json_body={"type": "cancel"}, token=tok)
                self.assertEqual(r.status, 200 if t["open"] else 409, r)
        settable = [t["code"] for t in self.vocab["unit_statuses"] if t["settable"]]
        self.assertEqual(settable, self.doc["components"]["schemas"]["UnitSettableStatus"]["enum"])

    def available_unit(self, tok, rid):
        return self.srv.request("GET", "/api/v1/reports/%d/candidates" % rid, token=tok).json()["items"][0]["unit_id"]

    def test_cacheable_by_etag(self):
        etag = self.reply.headers["etag"]
        self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
        self.assertIn("no-cache", self.reply.headers["cache-control"])
        again = self.srv.request("GET", "/api/v1/vocabulary", headers={"If-None-Match": etag})
        self.assertEqual((again.status, again.body), (304, b""))
        self.assertEqual(again.headers["etag"], etag)
        self.assertEqual(int(again.headers["content-length"]), len(self.reply.body))
        other = self.srv.request("GET", "/api/v1/vocabulary", headers={"If-None-Match": '"0000000000000000"'})
        self.assertEqual((other.status, other.body), (200, self.reply.body))
        # the same bytes and tag from another process of the same binary
        with harness.Server(self.db) as second:
            r = second.request("GET", "/api/v1/vocabulary")
            self.assertEqual((r.headers["etag"], r.body), (etag, self.reply.body))

    def test_error_codes_are_what_the_code_sends(self):
        served = set(self.codes("error_codes"))
        written = error_codes_in_source()
        self.assertGreater(len(written), 20)
        missing = {c: sorted(f) for c, f in written.items() if c not in served}
        self.assertEqual(missing, {}, "error codes sent without a Chinese message in vocab.c")
        dead = served - set(written) - generated_error_codes(self.doc)
        self.assertEqual(dead, set(), "error codes in vocab.c the server never sends")

    def test_error_replies_carry_served_codes(self):
        """Codes met on the wire (a few kinds of refusal) are in the list."""
        served = set(self.codes("error_codes"))
        tok = self.srv.login("dispatcher")
        for method, path, body in (("GET", "/api/v1/reports?limit=0", None), ("GET", "/api/v1/reports/999999", None),
                                   ("POST", "/api/v1/reports", {"category": "x"}), ("GET", "/api/v1/audit", None)):
            r = self.srv.request(method, path, json_body=body, token=tok)
            self.assertGreaterEqual(r.status, 400)
            self.assertIn(r.error, served, r)

    def event(self, tok, rid, **body):
        r = self.srv.request("POST", "/api/v1/reports/%d/events" % rid, json_body=body, token=tok)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def exercise(self):
        """Every kind of change: reports created, photographed, moved through every transition; a
        unit created, moved, its status set."""
        tok = self.srv.login("dispatcher")
        sup = self.srv.login("supervisor")
        a = self.srv.create_report(report(), tok)["id"]
        self.assertEqual(self.srv.request("POST", "/api/v1/reports/%d/photos" % a, body=png(),
                                          headers={"Content-Type": "image/png"}, token=tok).status, 201)
        self.event(tok, a, type="acknowledge")
        unit = self.available_unit(tok, a)
        self.event(tok, a, type="dispatch", unit_id=unit)
        self.event(tok, a, type="arrive")
        self.event(tok, a, type="resolve", outcome=self.codes("outcomes")[0])
        b = self.srv.create_report(report(), tok)["id"]
        self.event(sup, b, type="escalate")
        self.event(tok, b, type="cancel")
        c = self.srv.create_report(report(), tok)["id"]
        self.event(tok, c, type="mark_duplicate", duplicate_of=a)
        station = self.db.value("SELECT station_id FROM units WHERE id = %s", unit)
        r = self.srv.request("POST", "/api/v1/units", json_body={"name": "词表测试", "station_id": station}, token=tok)
        self.assertEqual(r.status, 201, r)
        uid = r.json()["id"]
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30))
        fix = {"positions": [{"location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]}, "at": at}]}
        self.assertEqual(self.srv.request("POST", "/api/v1/units/%d/positions" % uid, json_body=fix, token=tok).status, 200)
        self.assertEqual(self.srv.request("POST", "/api/v1/units/%d/status" % uid, json_body={"status": "busy"},
                                          token=tok).status, 200)
        self.patrol_events(tok, uid)

    def patrol_events(self, tok, uid):
        """A joint patrol plan whose window began 40 minutes ago: the unit inside its target for 3
        minutes from 20 minutes ago is a verified visit (patrol.visit) that came too late (patrol.overdue)."""
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        now = time.time()
        fixes = {"positions": [{"location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]}, "at": iso(now - 1200 + s)}
                               for s in range(0, 181, 30)]}
        self.assertEqual(self.srv.request("POST", "/api/v1/units/%d/positions" % uid, json_body=fixes,
                                          token=tok).status, 200)
        plan = {"name": "词表巡查", "division_code": "320706", "unit_ids": [uid],
                "windows": [{"starts_at": iso(now - 2400), "ends_at": iso(now + 3600)}],
                "targets": [{"area": {"point": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]}, "radius_m": 100},
                             "visits_per_week": 1, "min_dwell_min": 1, "agencies": []}]}
        r = self.srv.request("POST", "/api/v1/patrol-plans", json_body=plan, token=tok)
        self.assertEqual(r.status, 201, r)
        deadline = time.time() + 60
        while time.time() < deadline and self.db.value(
                "SELECT count(DISTINCT kind) FROM events WHERE kind LIKE 'patrol.%' AND entity_id = %s",
                r.json()["id"]) < 2:
            time.sleep(0.5)

    def test_event_kinds_and_timeline_types_are_what_the_server_writes(self):
        self.exercise()
        kinds = {r["kind"] for r in self.db.sql("SELECT DISTINCT kind FROM events")}
        self.assertEqual(kinds, set(self.codes("event_kinds")), "live event kinds written vs served")
        types = {r["type"] for r in self.db.sql("SELECT DISTINCT type FROM report_events")}
        self.assertEqual(types, set(self.codes("timeline_types")), "timeline types written vs served")

    def test_event_kinds_written_in_the_code_are_served(self):
        """Every kind the C code names where it inserts an event is in the list (the exercise above
        shows each listed kind is written)."""
        # the code names kinds by position (EK_* of vocab.h, the row of VOCAB_EVENT_KIND)
        src = source("service/*/*.[ch]")
        position = {m.group(1): int(m.group(2)) for m in
                    re.finditer(r"#define (EK_[A-Z_]+) ([0-9]+)", src["service/core/vocab.h"])}
        table = re.search(r"VOCAB\(VOCAB_EVENT_KIND,.*?\);", src["service/core/vocab.c"], re.S).group(0)
        code = {m.group(1): m.group(2) for m in re.finditer(r"\[(EK_[A-Z_]+)\] = T\(\"([a-z._]+)\"", table)}
        self.assertEqual(set(code), set(position))
        named = set()
        for text in src.values():
            for ek in re.findall(r"(?:EVENTS_REPORT_INSERT|EVENTS_UNIT_INSERT|events_append_report)\(\s*(?:\w+,\s*)?(EK_[A-Z_]+)", text):
                named.add(code[ek])
        self.assertTrue(named)
        self.assertLessEqual(named, set(self.codes("event_kinds")))

    def test_web_repeats_no_vocabulary(self):
        """No code list or label of the vocabulary is written out in web/ (the console takes them from
        GET /api/v1/vocabulary)."""
        self.assertEqual(weblists.copies(self.vocab), [])

    def test_console_awaits_exactly_the_event_kinds_sent(self):
        named = weblists.event_kinds(self.vocab)
        sent = set(self.codes("event_kinds"))
        self.assertEqual(sent - named, set(), "event kinds the server sends and the console ignores")
        self.assertEqual(named - sent, set(), "event kinds the console awaits and the server never sends")

    def test_the_check_finds_copies(self):
        """weblists.copies itself: a list, a CSS class list and a label written out are each found."""
        tmp = os.path.join(weblists.WEB, "src", "zz_weblists_probe.js")
        st = self.vocab["statuses"]
        with open(tmp, "w", encoding="utf-8") as f:
            f.write('const A = ["%s", "%s"];\nconst B = {%s: 1, %s: 2};\nconst C = "%s";\n'
                    % (st[0]["code"], st[1]["code"], st[0]["code"], st[2]["code"], self.vocab["categories"][0]["label"]))
        try:
            found = weblists.copies(self.vocab)
        finally:
            os.remove(tmp)
        probe = [x for x in found if "zz_weblists_probe" in x]
        self.assertEqual(len([x for x in probe if "list of statuses" in x]), 2, found)
        self.assertEqual(len([x for x in probe if "label" in x]), 1, found)


if __name__ == "__main__":
    unittest.main()
