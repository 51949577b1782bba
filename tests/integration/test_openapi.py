"""test_openapi.py - /api/v1/openapi.json as a client generator reads it: every route of
service/door/routes.c with an identifier operationId, typed request bodies and 2xx replies (named
components), declared path and query parameters, real statuses, valid JSON Schemas; and the
harness's reply validation (harness.Contract) catching a reply that drifts from the document."""
import json
import os
import re
import unittest

import jsonschema

import harness
from test_events import Sse
from test_reports import new_body, point_in_haizhou

ROUTES_C = os.path.join(harness.ROOT, "service", "door", "routes.c")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def table():
    """(method, pattern, query names) of every row of service/door/routes.c: the names of the specs
    (P(P_X, "name", ...)) its Q(...) lists, through the macros that group them."""
    src = re.sub(r"/\*.*?\*/", "", open(ROUTES_C, encoding="utf-8").read(), flags=re.S)
    names = dict(re.findall(r'\bP\((P_\w+),\s*"([^"]+)"', src))
    macros = dict(re.findall(r"#define (\w+)\s+((?:.*\\\n)*.*)", src))

    def specs(text, depth=0):
        out = [names[v] for v in re.findall(r"&(P_\w+)", text)]
        for m in re.findall(r"\b([A-Z][A-Z0-9_]+)\b", text):
            if m in macros and depth < 3 and m not in ("Q", "P", "O", "O_NO_WORKER"):
                out += specs(macros[m], depth + 1)
        return out
    rows = re.findall(r'\{"(GET|POST|PUT|PATCH|DELETE)", "(/[^"]*)",.*?O(?:_NO_WORKER)?\(\s*"[^"]*",'
                      r'\s*(?:"[^"]*"|NULL),(.*?),\s*"[0-9][^"]*"', src, re.S)
    return [(m, p, specs(q)) for m, p, q in rows]


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


class OpenApiDocument(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.doc = cls.srv.openapi()
        cls.schemas = cls.doc["components"]["schemas"]

    def ops(self):
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in METHODS:
                    yield path, method, op

    def test_document_structure(self):
        d = self.doc
        self.assertTrue(d["openapi"].startswith("3.1."), d["openapi"])
        self.assertTrue(d["info"]["title"] and d["info"]["version"])
        self.assertEqual(d["components"]["securitySchemes"]["bearer"], {"type": "http", "scheme": "bearer"})
        for path, method, op in self.ops():
            self.assertTrue(path.startswith("/"), path)
            self.assertTrue(op["responses"], (method, path))
            for code in op["responses"]:
                self.assertRegex(code, r"^[1-5][0-9][0-9]$", (method, path))
                self.assertIn("description", op["responses"][code])
            self.assertTrue(any(c.startswith("2") for c in op["responses"]), (method, path))
            for sec in op.get("security", []):
                for name in sec:
                    self.assertIn(name, d["components"]["securitySchemes"])
        for ref in set(refs(d)):  # every reference resolves inside the document
            self.assertTrue(ref.startswith("#/components/schemas/"), ref)
            self.assertIn(ref.rsplit("/", 1)[1], self.schemas, ref)

    def test_schemas_are_valid_json_schema(self):
        meta = jsonschema.Draft202012Validator
        for name, s in self.schemas.items():
            with self.subTest(schema=name):
                meta.check_schema(s)
        for path, method, op in self.ops():
            for p in op.get("parameters", []):
                meta.check_schema(p["schema"])

    def test_every_route_has_an_identifier_operation_id(self):
        rows = table()
        self.assertEqual(len(rows), len(re.findall(r'\{"[A-Z]+", "/', open(ROUTES_C).read())))
        seen = {}
        for m, p, _ in rows:
            op = self.doc["paths"].get(p, {}).get(m.lower())
            self.assertIsNotNone(op, "%s %s is not in openapi.json" % (m, p))
            oid = op.get("operationId", "")
            self.assertRegex(oid, r"^[A-Za-z_][A-Za-z0-9_]*$", (m, p))
            self.assertNotIn(oid, seen, "operationId %s of %s %s and %s" % (oid, m, p, seen.get(oid)))
            seen[oid] = (m, p)
        self.assertEqual(len(seen), sum(1 for _ in self.ops()))

    def test_bodies_and_2xx_json_replies_are_named_components(self):
        for path, method, op in self.ops():
            where = "%s %s" % (method, path)
            for ctype, media in op.get("requestBody", {}).get("content", {}).items():
                if "json" in ctype:
                    self.assertRegex(media["schema"].get("$ref", ""), r"^#/components/schemas/\w+$", where)
            for code, resp in op["responses"].items():
                for ctype, media in resp.get("content", {}).items():
                    if "json" in ctype and (code.startswith("2") or code.startswith("4")
                                            or code.startswith("5")):
                        ref = media["schema"].get("$ref", "")
                        self.assertRegex(ref, r"^#/components/schemas/\w+$", (where, code, ctype))
        for name in ("Report", "ReportList", "BatchResult", "Timeline", "Photo", "Division",
                     "DivisionList", "Station", "Place", "PlaceList", "ReverseResult", "Unit",
                     "UnitList", "Candidates", "Coverage", "AuditList", "Event", "Error"):
            self.assertIn(name, self.schemas)
            s = self.schemas[name]
            self.assertTrue(s.get("properties") or s.get("allOf") or s.get("oneOf"), name)

    def test_parameters_are_declared(self):
        for m, p, query in table():
            op = self.doc["paths"][p][m.lower()]
            params = op.get("parameters", [])
            names = {(x["in"], x["name"]) for x in params}
            self.assertEqual(len(names), len(params), (m, p))
            for name in re.findall(r"\{([^}]+)\}", p):
                self.assertIn(("path", name), names, (m, p))
            self.assertEqual(sum(1 for x in params if x["in"] == "path"), len(re.findall(r"\{", p)), (m, p))
            for q in query:
                self.assertTrue(("query", q) in names or ("header", q) in names, (m, p, q))
        listed = self.doc["paths"]["/api/v1/reports"]["get"]["parameters"]
        self.assertEqual({x["name"] for x in listed},
                         {"status", "open", "division", "within", "category", "outcome", "tier", "station", "id",
                          "since", "received_from", "received_to", "escalated_from", "escalated", "bbox", "crs", "limit",
                          "cursor"})
        for path in ("/api/v1/reports.csv", "/api/v1/reports.geojson"):  # the export's limit is declared
            limit = next(x for x in self.doc["paths"][path]["get"]["parameters"] if x["name"] == "limit")
            self.assertEqual(limit["schema"]["maximum"], 100000)
        events = self.doc["paths"]["/api/v1/events"]["get"]["parameters"]
        self.assertIn(("header", "Last-Event-ID"), {(x["in"], x["name"]) for x in events})
        self.assertTrue(self.doc["servers"] and self.doc["servers"][0]["url"])
        q = next(x for x in self.doc["paths"]["/api/v1/places"]["get"]["parameters"] if x["name"] == "q")
        self.assertTrue(q["required"])

    def test_every_body_is_a_typed_record(self):
        """What a generated TypeScript client needs: every request body (JSON or form) a named
        schema with its properties, never an empty record (Open311's api_key a string)."""
        for path, method, op in self.ops():
            for ctype, media in op.get("requestBody", {}).get("content", {}).items():
                if not ("json" in ctype or "form" in ctype):
                    continue
                ref = media["schema"].get("$ref", "")
                self.assertRegex(ref, r"^#/components/schemas/\w+$", (method, path, ctype))
                schema = self.schemas[ref.rsplit("/", 1)[1]]
                self.assertTrue(schema.get("properties"), (method, path, ctype))
        form = self.doc["paths"]["/open311/v2/requests.json"]["post"]["requestBody"]["content"]
        media = form["application/x-www-form-urlencoded"]
        schema = self.schemas[media["schema"]["$ref"].rsplit("/", 1)[1]]
        self.assertEqual(schema["properties"]["api_key"]["type"], "string")
        self.assertEqual(set(schema["required"]), {"service_code", "lat", "long"})
        self.assertEqual(schema["properties"]["lat"]["maximum"], 90)
        self.assertEqual(schema["properties"]["attribute"]["properties"]["people_count"]["type"], "integer")
        self.assertEqual(media["encoding"]["attribute"], {"style": "deepObject", "explode": True})
        for path in ("/api/v1/reports", "/api/v1/reports.csv", "/api/v1/reports.geojson"):
            names = {x["name"] for x in self.doc["paths"][path]["get"]["parameters"]}
            self.assertTrue({"within", "limit", "received_from", "received_to", "outcome", "tier",
                             "station", "id", "open"} <= names, path)

    def test_statuses_are_the_ones_the_service_answers(self):
        def codes(path, method):
            return set(self.doc["paths"][path][method]["responses"])
        create = codes("/api/v1/reports", "post")
        self.assertTrue({"200", "201", "400", "401", "409", "413", "415", "503"} <= create, create)
        self.assertIn("429", codes("/api/v1/auth/login", "post"))
        self.assertIn("413", codes("/api/v1/reports/batch", "post"))
        self.assertIn("409", codes("/api/v1/reports/{id}/events", "post"))
        self.assertIn("403", codes("/api/v1/audit", "get"))
        self.assertNotIn("401", codes("/healthz", "get"))
        self.assertEqual(codes("/api/v1/auth/logout", "post") & {"200", "204"}, {"204"})
        ready = self.doc["paths"]["/readyz"]["get"]["responses"]["503"]["content"]["application/json"]
        self.assertEqual(ready["schema"]["$ref"], "#/components/schemas/Readiness")


class ReplyValidation(harness.ServerCase):
    """The harness checks replies against the document; these show that it can fail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract = harness.Contract.of(cls.srv.request("GET", "/api/v1/openapi.json").body)

    def check(self, method, path, status, body):
        return self.contract.check(method, path, status, "application/json; charset=utf-8",
                                   json.dumps(body).encode())

    def test_a_real_reply_matches_and_a_changed_one_does_not(self):
        token = self.srv.login("dispatcher")
        r = self.srv.request("GET", "/api/v1/units", token=token)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertTrue(body["items"], "the demo data has units")
        self.assertIsNone(self.check("GET", "/api/v1/units?limit=5", 200, body))
        body["items"][0]["status"] = "asleep"
        problem = self.check("GET", "/api/v1/units?limit=5", 200, body)
        self.assertIn("listUnits", problem)
        self.assertIn("/items/0/status", problem)
        del body["items"][0]["position"]
        body["items"][0]["status"] = "busy"
        self.assertIn("'position' is a required property", self.check("GET", "/api/v1/units", 200, body))

    def test_errors_statuses_and_open311(self):
        err = {"error": {"code": "not_found", "message": "no such report: 9", "field": None}}
        self.assertIsNone(self.check("GET", "/api/v1/reports/9", 404, err))
        self.assertIn("/error", self.check("GET", "/api/v1/reports/9", 404, {"error": "not_found"}))
        self.assertIn("status 418 is not declared", self.check("GET", "/api/v1/reports/9", 418, err))
        self.assertIn("O311Errors", self.check("GET", "/open311/v2/requests/9.json", 404, err))
        self.assertIsNone(self.check("GET", "/open311/v2/nothing.json", 404,
                                     [{"code": 404, "description": "no such path"}]))
        r = self.srv.request("GET", "/open311/v2/services.json")
        self.assertEqual(r.status, 200, r)
        services = r.json()
        services[0]["metadata"] = "yes"
        self.assertIn("/0/metadata", self.check("GET", "/open311/v2/services.json", 200, services))

    def test_event_stream_data_matches_event(self):
        """The SSE data: of a live event is an Event (the harness cannot see streams)."""
        token = self.srv.login("dispatcher")
        sse = Sse(self.srv.port, "/api/v1/events", {"Authorization": "Bearer " + token})
        self.addCleanup(sse.close)
        self.assertEqual(sse.status, 200)
        r = self.srv.request("POST", "/api/v1/reports", json_body=new_body(*point_in_haizhou(self.db)),
                             token=token)
        self.assertEqual(r.status, 201, r)
        got = sse.collect(lambda evs: any(e["data"]["entity_id"] == r.json()["id"] for e in evs))
        ev = next(e for e in got if e["data"]["entity_id"] == r.json()["id"])
        event = self.contract.validator("#/components/schemas/Event")
        self.assertEqual(list(event.iter_errors(ev["data"])), [])
        self.assertEqual(ev["data"]["id"], ev["id"])
        self.assertTrue(list(event.iter_errors(dict(ev["data"], entity_id="x"))))

    def test_a_mismatch_fails_the_request(self):
        srv = self.srv
        saved = srv.contract
        try:  # the server's own document, with Health demanding a key the server does not send
            doc = json.loads(srv.request("GET", "/api/v1/openapi.json").body)
            doc["components"]["schemas"]["Health"]["required"].append("uptime_s")
            srv.contract = harness.Contract(doc)
            with self.assertRaises(AssertionError) as cm:
                srv.request("GET", "/healthz")
            self.assertIn("getHealth", str(cm.exception))
            self.assertIn("'uptime_s' is a required property", str(cm.exception))
        finally:
            srv.contract = saved
        self.assertEqual(srv.request("GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
