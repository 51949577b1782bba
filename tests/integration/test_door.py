"""test_door.py - the door checks every route's declared contract before its handler runs.

Walks the OpenAPI document the server publishes (printed from the very route rows, shapes and query
specs the door obeys): for every route with a request body, bodies that violate its shape, field by
field and limit by limit; for every declared query parameter (and header), values that violate its
kind and limits, a required one left out, a single one given twice. Each must get its 400 (413 for
too many items) naming the field, and must not reach the handler: the per-route handler-call
counter of /metrics (patrold_http_handler_calls_total) does not move, while one good request
moves it by one. Two designed exceptions are checked as such: a keyed body (x-idempotency-key:
a report's client_id) whose key passed goes to the handler with the door's verdict (a stored copy
may still answer), and the items of a per-item array (x-per-item: the batch, positions) are judged
one by one and answered per item by the handler. Last, grep finds no body or query parsing in a
handler (service/ outside door/)."""
import copy
import json
import os
import re
import subprocess
import time
import unittest
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import harness

HAIZHOU = (119.163509, 34.572274)
REF = "#/components/schemas/"
METRIC = re.compile(r'^patrold_http_handler_calls_total\{method="(\w+)",route="([^"]+)"\} (\d+)$', re.M)


def report():
    return {"client_id": str(uuid.uuid4()), "category": "vagrant", "description": "门口",
            "location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1], "crs": "wgs84", "accuracy_m": 5},
            "observed_at": "2024-05-01T08:00:00+08:00", "people_count": 1,
            "person": {"sex": "male", "approx_age": 60, "appearance": "蓝衣", "name_if_known": "李"}}


def patrol_plan():
    ring = [[HAIZHOU[0], HAIZHOU[1]], [HAIZHOU[0] + 0.001, HAIZHOU[1]], [HAIZHOU[0], HAIZHOU[1] + 0.001],
            [HAIZHOU[0], HAIZHOU[1]]]
    return {"name": "门口联合巡查", "division_code": "320706", "campaign_id": 1, "unit_ids": [1, 2],
            "windows": [{"starts_at": "2030-01-01T20:00:00+08:00", "ends_at": "2030-01-01T23:00:00+08:00"}],
            "weekly": {"days": [1, 5], "from": "20:00", "to": "02:00"},
            "starts_on": "2030-01-01", "ends_on": "2030-02-01",
            "targets": [{"id": 1, "name": "桥下", "visits_per_week": 3, "min_dwell_min": 10,
                         "area": {"division_code": "320706", "polygon": {"type": "Polygon", "coordinates": [ring]},
                                  "point": {"lon": HAIZHOU[0], "lat": HAIZHOU[1], "crs": "wgs84"},
                                  "radius_m": 100},
                         "time_window": {"from": "20:00", "to": "06:00", "preset": "night"},
                         "agencies": ["police", "civil_affairs"]}]}


def fix():
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    return {"location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]}, "at": at, "speed_mps": 1, "heading": 90,
            "accuracy_m": 5}


SIGHTING = {"api_key": "demo", "service_code": "vagrant", "lat": "34.5722741", "long": "119.1635093",
            "description": "桥下", "email": "a@example.cn", "attribute[people_count]": "2",
            "attribute[sex]": "female", "attribute[approx_age]": "70", "attribute[appearance]": "红衣"}

# A body that passes each shape (only ever sent with one field broken).
EXAMPLES = {
    "login": lambda: {"username": "nobody", "password": "x"},
    "changePassword": lambda: {"current_password": "not the password", "new_password": "a long new password 123"},
    "createReport": report,
    "createReportBatch": lambda: {"reports": [report()]},
    "addReportEvent": lambda: {"type": "acknowledge", "note": "n", "unit_id": 1, "outcome": "escorted_home",
                               "duplicate_of": 1},
    "createUnit": lambda: {"name": "门", "callsign": "m1", "station_id": 1},
    "setUnitStatus": lambda: {"status": "busy"},
    "addUnitPositions": lambda: {"positions": [fix()]},
    "open311CreateRequestJson": lambda: dict(SIGHTING),
    "open311CreateRequestXml": lambda: dict(SIGHTING),
    # the administration (i-admin); a path's {id} is the test's unit, else its report (fill), so a
    # change of a station, agency, shift or user answers 404 after the door
    "resetPassword": lambda: {"username": "nobody", "code": "0000-0000", "new_password": "a long new password 123"},
    "changeUnit": lambda: {"name": "门口巡查队", "vehicle": "电动车"},
    "setUnitMembers": lambda: {"members": [IDS["patrol"]]},
    "createShift": lambda: {"starts_at": "2030-01-01T08:00:00+08:00", "ends_at": "2030-01-01T16:00:00+08:00",
                            "members": [IDS["patrol"]], "note": "早班"},
    "changeShift": lambda: {"starts_at": "2030-01-02T08:00:00+08:00", "ends_at": "2030-01-02T16:00:00+08:00",
                            "note": "改时"},
    "createStation": lambda: {"code": "D-" + uuid.uuid4().hex[:8], "name": "门口救助点", "tier": "county",
                              "division_code": "320706", "location": {"lon": HAIZHOU[0], "lat": HAIZHOU[1]},
                              "address": "海州区", "phone": "0518-0000", "beds": 2, "can_dispatch": True},
    "changeStation": lambda: {"name": "门口救助点", "beds": 3},
    "createAgency": lambda: {"name": "门口" + uuid.uuid4().hex[:6], "kind": "police", "division_code": "320706"},
    "changeAgency": lambda: {"name": "门口部门", "kind": "health"},
    "createUser": lambda: {"username": "door_" + uuid.uuid4().hex[:8], "password": "a long new password 123",
                           "role": "dispatcher", "division_code": "320706", "disabled": False},
    "changeUser": lambda: {"role": "dispatcher", "disabled": False},
    # joint patrols (issue 18): every field, so that each is mutated (the handler then refuses the
    # example itself: an area names a division, a polygon and a point at once)
    "createPatrolPlan": lambda: patrol_plan(),
    "changePatrolPlan": lambda: patrol_plan(),
    "createCampaign": lambda: {"name": "寒冬送温暖", "division_code": "320706", "starts_on": "2026-12-01",
                               "ends_on": "2027-02-28", "note": "夜间巡查"},
}

# Ids the examples name, from the test's database (setUpClass).
IDS = {}

# A valid value of each query parameter kind (x-kind), for the required ones and the repeats.
GOOD = {"crs": "wgs84", "point": "119.2,34.6", "number": "1", "time": "2024-01-01T00:00:00Z", "id": "1",
        "seq": "0", "uuid": str(uuid.uuid4()), "bbox": "119,34,119.5,34.8", "division": "320706",
        "text": "新浦", "bool": "true", "date": "2026-11-30", "week": "2026-W49", "month": "2026-11",
        "timeofday": "20:00"}


class Door(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.doc = cls.srv.openapi()
        cls.tok = {u: cls.srv.login(u) for u in ("admin", "patrol")}
        cls.report = cls.srv.create_report(report(), cls.tok["patrol"])["id"]
        cls.unit = cls.db.value("SELECT unit_id FROM users WHERE username = 'patrol'")
        IDS["patrol"] = cls.db.value("SELECT id FROM users WHERE username = 'patrol'")
        r = cls.srv.request("POST", "/open311/v2/requests.json", body=urllib.parse.urlencode(SIGHTING),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 201, r
        cls.o311 = r.json()[0]["service_request_id"]

    # ---- helpers ----
    def calls(self):
        r = self.srv.request("GET", "/metrics")
        return {(m, p): int(n) for m, p, n in METRIC.findall(r.body.decode())}

    def resolve(self, schema):
        while "$ref" in schema:
            schema = self.doc["components"]["schemas"][schema["$ref"][len(REF):]]
        return schema

    def ops(self):
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                yield method.upper(), path, op

    def fill(self, path):
        values = {"photo_id": "1", "layer": "reports", "z": "12", "x": "3403", "y": "1628", "token": self.o311}
        if path.startswith("/open311/"):
            values.update(id=self.o311, code="vagrant")
        elif path.startswith("/api/v1/units/"):
            values.update(id=str(self.unit))
        else:
            values.update(id=str(self.report), code="320706")
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)

    def token(self, op):
        roles = op.get("x-roles")
        return None if not roles else self.tok["admin" if "admin" in roles else "patrol"]

    def send(self, method, path, op, query="", body=None, ctype=None, headers=None):
        h = dict(headers or {})
        if ctype:
            h["Content-Type"] = ctype
        if isinstance(body, dict) and ctype == "application/json":
            body = json.dumps(body)
        elif isinstance(body, dict):
            body = urllib.parse.urlencode(body)
        target = self.fill(path) + ("?" + query if query else "")
        return self.srv.request(method, target, body=body, headers=h, token=self.token(op))

    def field_of(self, r):
        """(status, field or the Open311 description) of an error reply."""
        if r.headers.get("content-type", "").startswith("text/xml"):  # Open311 in XML
            return r.status, ET.fromstring(r.body).find("error/description").text
        body = r.json()
        if isinstance(body, list):  # Open311: [{"code", "description"}]
            return r.status, body[0]["description"]
        return r.status, body["error"]["field"]

    # ---- bodies ----
    def bad_values(self, prop, form):
        types = prop.get("type", [])
        types = types if isinstance(types, list) else [types]
        out = []
        if "string" in types:
            out += [] if form else [12345]  # a form's values are all text
        elif types:
            out.append("x")
        if "null" not in types:
            out.append(None)
        if "enum" in prop:
            out.append("zz-no-such-code")
        if "maxLength" in prop:
            out.append("长" * (prop["maxLength"] + 1))
        if prop.get("minLength", 0) > 0:
            out.append("")
        if "minimum" in prop:
            out.append(prop["minimum"] - 1)
        if "maximum" in prop:
            out.append(prop["maximum"] + 1)
        if "integer" in types:
            out.append(1.5)
        if "format" in prop:
            out.append("not-a-" + prop["format"])
        if prop.get("minItems", 0) > 0:
            out.append([])
        return out

    def mutations(self, schema, example, prefix="", form=False):
        """(field path, body) pairs: example with one field broken, every constraint of the shape."""
        schema = self.resolve(schema)
        for name, prop in schema.get("properties", {}).items():
            prop = self.resolve(prop)
            path = ("%s[%s]" % (prefix, name) if form else "%s.%s" % (prefix, name)) if prefix else name
            if name not in example and name not in schema.get("required", []):
                continue
            for bad in self.bad_values(prop, form):
                if form and bad is None:
                    continue
                body = copy.deepcopy(example)
                body[name] = str(bad) if form and not isinstance(bad, str) else bad
                yield path, body
            if name in schema.get("required", []):
                body = copy.deepcopy(example)
                del body[name]
                yield path, body
            sub = example.get(name)
            if isinstance(sub, dict) and prop.get("properties") and not form:
                for p, b in self.mutations(prop, sub, path):
                    body = copy.deepcopy(example)
                    body[name] = b
                    yield p, body

    def form_mutations(self, schema, example):
        """The form's fields as the server types them: nested attribute[...] fields included."""
        schema = self.resolve(schema)
        flat = {k: v for k, v in example.items() if "[" not in k}
        yield from self.mutations(schema, flat, form=True)
        attrs = {k[10:-1]: v for k, v in example.items() if k.startswith("attribute[")}
        sub = self.resolve(schema["properties"]["attribute"])
        for path, b in self.mutations(sub, attrs, "attribute", form=True):
            body = dict(flat)
            body.update({"attribute[%s]" % k: v for k, v in b.items()})
            yield path, body

    def test_bad_bodies_never_reach_the_handler(self):
        checked = verdicts = 0
        for method, path, op in self.ops():
            content = op.get("requestBody", {}).get("content", {})
            ctype = next((c for c in content if c in ("application/json",
                                                      "application/x-www-form-urlencoded")), None)
            if not ctype:
                continue
            oid = op["operationId"]
            self.assertIn(oid, EXAMPLES, "no example body for %s (add one to EXAMPLES)" % oid)
            schema = self.resolve(content[ctype]["schema"])
            key = schema.get("x-idempotency-key")
            form = ctype != "application/json"
            example = EXAMPLES[oid]()
            before = self.calls()[(method, path)]
            good = self.send(method, path, op, body=example if form else copy.deepcopy(example), ctype=ctype)
            # the example passes the door: its handler runs (and may refuse it itself: a reset code
            # nobody was given answers the handler's invalid_reset_code)
            self.assertEqual(self.calls()[(method, path)], before + 1, (oid, good))
            cases = list(self.form_mutations(schema, example) if form else self.mutations(schema, example))
            if not form:
                # an empty object is refused where the shape requires a field (a PATCH may send none)
                cases += [(None, []), (None, "text")] + ([(None, {})] if schema.get("required") else [])
            for field, body in cases:
                if isinstance(body, dict) and key and field and field.split(".")[0] != key:
                    body[key] = str(uuid.uuid4())  # a fresh key: nothing stored answers instead
                before = self.calls()[(method, path)]
                raw = body if form or isinstance(body, dict) else json.dumps(body)
                r = self.send(method, path, op, body=raw, ctype=ctype)
                after = self.calls()[(method, path)]
                where = "%s %s: %s = %r" % (method, path, field, body.get(field) if isinstance(body, dict) else body)
                self.assertIn(r.status, (400, 413), (where, r))
                status, named = self.field_of(r)
                if field and not form:
                    self.assertEqual(named, field, (where, r))
                elif field:
                    self.assertIn(field, named, (where, r))
                keyed = key and isinstance(body, dict) and field and field.split(".")[0] != key
                if keyed:  # the verdict goes to the handler, which may replay the key
                    self.assertEqual(after, before + 1, where)
                    verdicts += 1
                else:
                    self.assertEqual(after, before, "%s reached the handler" % where)
                checked += 1
        print("\nmeasured: %d bad bodies, %d answered at the door, %d keyed verdicts answered by the handler"
              % (checked, checked - verdicts, verdicts))
        self.assertGreater(checked, 150)

    def test_items_are_judged_one_by_one(self):
        """x-per-item arrays: the envelope at the door, each item's verdict answered by the handler."""
        ops = {op["operationId"]: (m, p, op) for m, p, op in self.ops()}
        m, p, op = ops["createReportBatch"]
        bad = report()
        bad["location"]["lat"] = 91
        r = self.send(m, p, op, body={"reports": [report(), bad, "x"]}, ctype="application/json")
        self.assertEqual(r.status, 200, r)
        res = r.json()["results"]
        self.assertEqual([x["status"] for x in res], ["created", "error", "error"])
        self.assertEqual((res[1]["error"]["code"], res[1]["error"]["field"]), ("invalid_location", "location.lat"))
        self.assertEqual(res[2]["error"]["code"], "invalid_body")
        before = self.calls()[(m, p)]
        r = self.send(m, p, op, body={"reports": [report() for _ in range(501)]}, ctype="application/json")
        self.assertEqual((r.status, r.error), (413, "too_many_items"))
        self.assertEqual(self.calls()[(m, p)], before)
        # positions: each fix stands alone (c-coverage): a refused one is listed in errors and the
        # rest stored; a batch whose every fix is refused answers the first one's 400
        m, p, op = ops["addUnitPositions"]
        broken = fix()
        broken["heading"] = 400
        r = self.send(m, p, op, body={"positions": [fix(), broken]}, ctype="application/json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["received"], r.json()["refused"]), (2, 1))
        self.assertEqual([(e["index"], e["field"]) for e in r.json()["errors"]], [(1, "positions[1].heading")])
        r = self.send(m, p, op, body={"positions": [broken]}, ctype="application/json")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["error"]["field"], "positions[0].heading")

    # ---- query parameters ----
    def bad_query_values(self, spec):
        schema = self.resolve(spec["schema"])
        kind = spec["schema"].get("x-kind") or schema.get("x-kind") or ("vocab" if "enum" in schema else None)
        if schema.get("type") == "array":
            item = self.resolve(schema["items"])
            one = item["enum"][0] if "enum" in item else "1"
            return ["zz-no-such-code" if "enum" in item else "0", "", one + ",", ",".join([one] * (schema["maxItems"] + 1))]
        out = {"crs": ["mars", "gcj-02"], "vocab": ["zz-no-such-code", ""], "point": ["999,34", "119.2", "nan,1"],
               "bbox": ["3,2,1,0", "1,2,3", "a,b,c,d"], "time": ["2024-02-30T00:00:00Z", "yesterday"],
               "date": ["2026-02-30", "2026-2-1"], "week": ["2026-W54", "2025-W53", "2026-49"],
               "month": ["2026-13", "2026-1"], "timeofday": ["24:00", "8:00"], "cursor": ["not-a-cursor"],
               "bool": ["yes", "1"], "uuid": ["xyz"], "division": ["12345", "32070x"], "id": ["0", "-1", "x"],
               "seq": ["-1", "x"], "int": ["1.5", "x"], "number": ["nan", "1e999", "x"]}.get(kind, [])
        if "minimum" in schema and kind in ("int", "number"):
            out.append(str(schema["minimum"] - 1))
        if "maximum" in schema:
            out.append(str(schema["maximum"] + 1))
        if kind == "text":
            out += [""] if schema.get("minLength") else []
            out += ["a" * (schema["maxLength"] + 1)] if schema["maxLength"] < 1024 else []
        self.assertTrue(out, "no bad value for %s (%s)" % (spec["name"], kind))
        return out

    def good_query_value(self, spec):
        schema = self.resolve(spec["schema"])
        if schema.get("type") == "array":
            item = self.resolve(schema["items"])
            return item["enum"][0] if "enum" in item else "1"
        if "enum" in schema:
            return schema["enum"][0]
        if spec["name"] in ("lon", "lat"):
            return {"lon": "119.2", "lat": "34.6"}[spec["name"]]
        if "default" in schema:
            return str(schema["default"])
        return GOOD.get(spec["schema"].get("x-kind") or schema.get("x-kind"))

    def test_bad_query_values_never_reach_the_handler(self):
        checked = 0
        for method, path, op in self.ops():
            params = [x for x in op.get("parameters", []) if x["in"] in ("query", "header")]
            if not params:
                continue
            ctype = next(iter(op.get("requestBody", {}).get("content", {})), None)
            body = EXAMPLES[op["operationId"]]() if ctype else None
            required = {x["name"]: self.good_query_value(x) for x in params if x.get("required")}
            base = urllib.parse.urlencode(required)
            before = self.calls()[(method, path)]
            good = self.send(method, path, op, base, body, ctype)
            self.assertEqual(self.calls()[(method, path)], before + 1, (method, path, good))  # the counter counts
            for spec in params:
                name, cases = spec["name"], []
                for bad in self.bad_query_values(spec):
                    cases.append(("bad", bad))
                if spec.get("required"):
                    cases.append(("missing", None))
                once = self.good_query_value(spec)  # a cursor has none to make up
                if self.resolve(spec["schema"]).get("type") != "array" and spec["in"] == "query" and once:
                    cases.append(("twice", once))
                for why, value in cases:
                    q = {k: v for k, v in required.items() if k != name}
                    headers = {}
                    if spec["in"] == "header":
                        headers[name] = value
                        query = urllib.parse.urlencode(q)
                    elif why == "missing":
                        query = urllib.parse.urlencode(q)
                    else:
                        rep = [(name, value)] * (2 if why == "twice" else 1)
                        query = urllib.parse.urlencode(list(q.items()) + rep)
                    before = self.calls()[(method, path)]
                    r = self.send(method, path, op, query, copy.deepcopy(body), ctype, headers)
                    where = "%s %s ?%s (%s)" % (method, path, query[:120], why)
                    self.assertEqual(r.status, 400, (where, r))
                    status, named = self.field_of(r)
                    if path.startswith("/open311/"):
                        self.assertIn(name, named, where)
                    else:
                        self.assertEqual(named, name, (where, r))
                    self.assertEqual(self.calls()[(method, path)], before, "%s reached the handler" % where)
                    checked += 1
        print("\nmeasured: %d bad query values answered at the door" % checked)
        self.assertGreater(checked, 250)

    def test_lists_take_repeats_and_commas_alike(self):
        rid = self.srv.create_report(report(), self.tok["patrol"])["id"]
        r1 = self.srv.request("GET", "/api/v1/reports?status=new&status=resolved&category=vagrant&category=minor",
                              token=self.tok["admin"])
        r2 = self.srv.request("GET", "/api/v1/reports?status=new,resolved&category=vagrant,minor",
                              token=self.tok["admin"])
        self.assertEqual((r1.status, r2.status), (200, 200))
        self.assertEqual([i["id"] for i in r1.json()["items"]], [i["id"] for i in r2.json()["items"]])
        self.assertIn(rid, [i["id"] for i in r1.json()["items"]])

    # ---- no parsing in a handler ----
    def test_no_body_or_query_parsing_in_a_handler(self):
        """Handlers live in service/ outside door/ (cmd/ is the command line): none reads the query
        string, parses a value of it or checks a body's shape itself."""
        pattern = (r"http_query\(|mg_get_var\(|r->query\b|shape_check(_reply)?\(|form_parse|"
                   r"json_loads?b?\(r->body|params_(rfc3339|number|uuid|point|bbox|crs|date|week|month|timeofday)\(|"
                   r"gis_crs_parse\(json|param_(crs|time|id|limit|cursor|bbox|point|number)\(|"
                   r"http_header\(r, \"Last-Event-ID\"\)")
        out = subprocess.run(["grep", "-rnE", pattern, "--include=*.c", "--include=*.h", "service"],
                             cwd=harness.ROOT, capture_output=True, text=True).stdout
        found = [line for line in out.splitlines()
                 if not line.startswith(("service/door/", "service/cmd/"))]
        self.assertEqual(found, [], "parsing outside the door:\n" + "\n".join(found))
        out = subprocess.run(["grep", "-rnE", r"http_q\(r, \"", "--include=*.c", "service"],
                             cwd=harness.ROOT, capture_output=True, text=True).stdout
        self.assertGreater(len(out.splitlines()), 30)  # the handlers read typed values instead


if __name__ == "__main__":
    unittest.main()
