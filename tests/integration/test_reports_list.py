"""test_reports_list.py - GET /api/v1/reports (filters, keyset paging, division scope) and the
GeoJSON and CSV exports, against a real PostGIS and a real patrold."""
import csv
import io
import json
import random
import unittest
import uuid
import urllib.parse

import harness

HAIZHOU = (119.163509, 34.572274)    # 海州区 320706 label point
GUANNAN = (119.315651, 34.087134)    # 灌南县 320724 label point
OUTSIDE = (118.10, 24.48)            # Xiamen: outside the city


def report_body(point, category="vagrant", description="", **extra):
    body = {"client_id": str(uuid.uuid4()), "category": category,
            "location": {"lon": point[0], "lat": point[1]},
            "observed_at": "2024-05-01T08:00:00+08:00", "description": description}
    body.update(extra)
    return body


def jitter(point, rnd, d=0.004):
    return (round(point[0] + rnd.uniform(-d, d), 6), round(point[1] + rnd.uniform(-d, d), 6))


class ReportsListTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {u: cls.srv.login(u) for u in ("supervisor", "dispatcher", "dispatcher_gn", "patrol")}
        rnd = random.Random(7)
        cls.haizhou, cls.guannan = [], []
        for i in range(23):
            cls.haizhou.append(cls.create(report_body(jitter(HAIZHOU, rnd), ["vagrant", "minor", "beggar"][i % 3],
                                                      "海州 #%d" % i), "supervisor"))
        for i in range(9):
            cls.guannan.append(cls.create(report_body(jitter(GUANNAN, rnd), "lost_elderly", "灌南 #%d" % i),
                                          "supervisor"))
        cls.outside = cls.create(report_body(OUTSIDE, "other", "outside the city"), "supervisor")

    @classmethod
    def create(cls, body, user):
        return cls.srv.create_report(body, cls.tok[user])

    def get(self, path, user="supervisor", **params):
        q = urllib.parse.urlencode(params)
        return self.srv.request("GET", path + ("?" + q if q else ""), token=self.tok[user] if user else None)

    def walk(self, user, limit, **params):
        """Every item over all pages, in order."""
        items, cursor, pages = [], None, 0
        while True:
            p = dict(params, limit=limit)
            if cursor:
                p["cursor"] = cursor
            r = self.get("/api/v1/reports", user, **p)
            self.assertEqual(r.status, 200, r)
            body = r.json()
            self.assertLessEqual(len(body["items"]), limit)
            items += body["items"]
            cursor = body["next"]
            pages += 1
            self.assertLess(pages, 200, "paging does not end")
            if cursor is None:
                return items

    # ---- setup sanity: the fixtures really are where the tests assume ----
    def test_fixture_divisions(self):
        codes = {r["county_code"] for r in self.db.sql(
            "SELECT county_code FROM reports WHERE id = ANY (%s::bigint[])",
            "{%s}" % ",".join(str(x["id"]) for x in self.haizhou))}
        self.assertEqual(codes, {"320706000000"})
        codes = {r["county_code"] for r in self.db.sql(
            "SELECT county_code FROM reports WHERE id = ANY (%s::bigint[])",
            "{%s}" % ",".join(str(x["id"]) for x in self.guannan))}
        self.assertEqual(codes, {"320724000000"})

    # ---- paging ----
    def test_walk_all_pages_no_duplicates_no_gaps(self):
        items = self.walk("supervisor", 4)
        ids = [i["id"] for i in items]
        self.assertEqual(len(ids), len(set(ids)), "duplicates across pages")
        want = {r["id"] for r in self.db.sql("SELECT id FROM reports")}
        self.assertEqual(set(ids), want)
        self.assertEqual(ids, sorted(ids, reverse=True), "newest first, stable order")

    def test_paging_stable_under_inserts(self):
        first = self.get("/api/v1/reports", limit=5).json()
        self.assertIsNotNone(first["next"])
        before = {r["id"] for r in self.db.sql("SELECT id FROM reports")}
        new = self.create(report_body(HAIZHOU, "other", "inserted while paging"), "supervisor")
        seen = [i["id"] for i in first["items"]]
        cursor = first["next"]
        while cursor:
            body = self.get("/api/v1/reports", limit=5, cursor=cursor).json()
            seen += [i["id"] for i in body["items"]]
            cursor = body["next"]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(set(seen), before)   # nothing lost, the new one not mixed in
        self.assertNotIn(new["id"], seen)

    def test_default_limit_and_next_null_on_last_page(self):
        body = self.get("/api/v1/reports").json()
        n = self.db.value("SELECT count(*) FROM reports")
        self.assertEqual(len(body["items"]), min(50, n))
        if n <= 50:
            self.assertIsNone(body["next"])
        body = self.get("/api/v1/reports", limit=500).json()
        self.assertIsNone(body["next"])

    def test_limit_bounds(self):
        for bad in ("501", "0", "-1", "abc", "1.5", "99999"):
            r = self.get("/api/v1/reports", limit=bad)
            self.assertEqual(r.status, 400, bad)
            self.assertEqual(r.error, "invalid_limit")
            self.assertEqual(r.json()["error"]["field"], "limit")
        self.assertEqual(self.get("/api/v1/reports", limit=500).status, 200)
        self.assertEqual(len(self.get("/api/v1/reports", limit=1).json()["items"]), 1)

    def test_bad_parameters_have_code_and_field(self):
        cases = [({"status": "open"}, "invalid_status", "status"),
                 ({"status": "new,"}, "invalid_status", "status"),
                 ({"category": "dog"}, "invalid_category", "category"),
                 ({"division": "12345"}, "invalid_division", "division"),
                 ({"division": "32070x"}, "invalid_division", "division"),
                 ({"since": "yesterday"}, "invalid_since", "since"),
                 ({"since": "2024-13-01T00:00:00Z"}, "invalid_since", "since"),
                 ({"since": "2024-02-30T00:00:00Z"}, "invalid_since", "since"),
                 ({"since": "2024-02-31T00:00:00Z"}, "invalid_since", "since"),
                 ({"since": "2023-02-29T00:00:00+08:00"}, "invalid_since", "since"),
                 ({"since": "2024-05-01T00:00:00Zjunk"}, "invalid_since", "since"),
                 ({"bbox": "nan,34,119.1,35"}, "invalid_bbox", "bbox"),
                 ({"bbox": "1e999,34,119.1,35"}, "invalid_bbox", "bbox"),
                 ({"bbox": "1,2,3"}, "invalid_bbox", "bbox"),
                 ({"bbox": "119.3,34,119.1,35"}, "invalid_bbox", "bbox"),
                 ({"bbox": "a,b,c,d"}, "invalid_bbox", "bbox"),
                 ({"crs": "epsg3857"}, "invalid_crs", "crs"),
                 ({"cursor": "not-a-cursor"}, "invalid_cursor", "cursor")]
        for params, code, field in cases:
            for path in ("/api/v1/reports", "/api/v1/reports.geojson", "/api/v1/reports.csv"):
                if field == "cursor" and path != "/api/v1/reports":
                    continue
                r = self.get(path, **params)
                self.assertEqual(r.status, 400, (path, params, r))
                self.assertEqual(r.json()["error"]["code"], code, params)
                self.assertEqual(r.json()["error"]["field"], field, params)

    def test_sign_in_required(self):
        for path in ("/api/v1/reports", "/api/v1/reports.geojson", "/api/v1/reports.csv"):
            self.assertEqual(self.get(path, user=None).status, 401)

    # ---- filters ----
    def test_filter_status_and_category(self):
        rid = self.haizhou[0]["id"]
        self.db.sql("UPDATE reports SET status = 'acknowledged', updated_at = now() WHERE id = %s", rid)
        try:
            items = self.walk("supervisor", 100, status="acknowledged")
            self.assertEqual([i["id"] for i in items], [rid])
            items = self.walk("supervisor", 100, status="new,acknowledged", category="minor")
            want = {r["id"] for r in self.haizhou if r["category"] == "minor"}
            self.assertEqual({i["id"] for i in items}, want)
            self.assertTrue(all(i["category"] == "minor" for i in items))
        finally:
            self.db.sql("UPDATE reports SET status = 'new' WHERE id = %s", rid)

    def test_filter_division_all_code_lengths(self):
        gn = {r["id"] for r in self.guannan}
        for code in ("320724", "320724000000"):
            self.assertEqual({i["id"] for i in self.walk("supervisor", 100, division=code)}, gn)
        town = self.db.value("SELECT town_code FROM reports WHERE id = %s", self.guannan[0]["id"])
        want = {r["id"] for r in self.db.sql("SELECT id FROM reports WHERE town_code = %s", town)}
        self.assertEqual({i["id"] for i in self.walk("supervisor", 100, division=town[:9])}, want)
        self.assertEqual({i["id"] for i in self.walk("supervisor", 100, division=town)}, want)
        city = {i["id"] for i in self.walk("supervisor", 100, division="3207")}
        self.assertNotIn(self.outside["id"], city)   # outside the city is not within 3207
        self.assertTrue(gn <= city)

    def test_filter_since(self):
        rid = self.haizhou[1]["id"]
        self.db.sql("UPDATE reports SET updated_at = '2030-01-01T00:00:00Z' WHERE id = %s", rid)
        items = self.walk("supervisor", 100, since="2029-12-31T23:00:00Z")
        self.assertEqual([i["id"] for i in items], [rid])
        # an unescaped '+' in the offset arrives as a space: still understood
        r = self.srv.request("GET", "/api/v1/reports?since=2030-01-01T07:59:00+08:00",
                             token=self.tok["supervisor"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual([i["id"] for i in r.json()["items"]], [rid])
        self.assertEqual(self.walk("supervisor", 100, since="2030-01-01T00:00:01Z"), [])

    def test_filter_bbox_in_request_crs(self):
        rep = self.guannan[2]
        lon, lat = rep["location"]["lon"], rep["location"]["lat"]
        d = 0.0005
        items = self.walk("supervisor", 100, bbox="%f,%f,%f,%f" % (lon - d, lat - d, lon + d, lat + d))
        self.assertIn(rep["id"], [i["id"] for i in items])
        self.assertTrue(all(abs(i["location"]["lon"] - lon) <= d + 1e-9 for i in items))
        # The same place on a GCJ-02 map is ~500 m away: a bbox around the GCJ-02 position
        # finds it only when the request says crs=gcj02.
        one = self.get("/api/v1/reports/%d" % rep["id"], crs="gcj02").json()
        glon, glat = one["location"]["lon"], one["location"]["lat"]
        self.assertGreater(abs(glon - lon) + abs(glat - lat), 0.002)
        box = "%f,%f,%f,%f" % (glon - d, glat - d, glon + d, glat + d)
        items = self.walk("supervisor", 100, bbox=box, crs="gcj02")
        self.assertIn(rep["id"], [i["id"] for i in items])
        for i in items:    # coordinates out in the request's crs too
            self.assertLessEqual(abs(i["location"]["lon"] - glon), d + 1e-6)
        self.assertNotIn(rep["id"], [i["id"] for i in self.walk("supervisor", 100, bbox=box)])

    # ---- the filters of the console's history and the figures' drill-down, against the rows ----
    def ids(self, user="supervisor", **params):
        return {i["id"] for i in self.walk(user, 100, **params)}

    def truth(self, where, *args):
        return {r["id"] for r in self.db.sql("SELECT id FROM reports WHERE " + where, *args)}

    def raw(self, query, user="supervisor", path="/api/v1/reports"):
        return self.srv.request("GET", path + "?" + query, token=self.tok[user])

    def test_filter_received_between(self):
        picked = [self.haizhou[i]["id"] for i in (4, 5, 6)]
        saved = self.db.sql("SELECT id, received_at FROM reports WHERE id = ANY (%s::bigint[])",
                            "{%s}" % ",".join(map(str, picked)))
        try:
            for rid, day in zip(picked, ("2031-01-01", "2031-01-02", "2031-01-03")):
                self.db.sql("UPDATE reports SET received_at = %s WHERE id = %s", day + "T00:00:00+08:00", rid)
            got = self.ids(received_from="2031-01-01T00:00:00+08:00", received_to="2031-01-03T00:00:00+08:00")
            self.assertEqual(got, set(picked[:2]))   # half-open: the 3rd starts exactly at received_to
            self.assertEqual(got, self.truth("received_at >= '2031-01-01T00:00:00+08:00'"
                                             " AND received_at < '2031-01-03T00:00:00+08:00'"))
            self.assertEqual(self.ids(received_from="2031-01-02T00:00:00+08:00"), set(picked[1:]))
            self.assertEqual(self.ids(received_to="2031-01-01T00:00:00+08:00"),
                             self.truth("received_at < '2031-01-01T00:00:00+08:00'"))
            # since= stays "changed since": an old report changed now is not received now
            self.assertFalse(self.ids(since="2030-12-31T00:00:00Z", received_from="2031-01-01T00:00:00Z") - set(picked))
            r = self.get("/api/v1/reports.csv", received_from="2031-01-02T00:00:00+08:00")
            self.assertEqual({int(x["id"]) for x in csv.DictReader(io.StringIO(r.body.decode("utf-8-sig"), newline=""))},
                             set(picked[1:]))
            for bad in ("2031-02-30T00:00:00Z", "yesterday", "2031-01-01"):
                r = self.get("/api/v1/reports", received_to=bad)
                self.assertEqual((r.status, r.error, r.json()["error"]["field"]),
                                 (400, "invalid_received_to", "received_to"), bad)
        finally:
            for row in saved:
                self.db.sql("UPDATE reports SET received_at = %s WHERE id = %s", row["received_at"], row["id"])

    def test_filter_outcome_open_and_closed(self):
        a, b, c = (self.haizhou[i]["id"] for i in (7, 8, 9))
        try:
            self.db.sql("UPDATE reports SET status = 'resolved', outcome = 'escorted_home' WHERE id = %s", a)
            self.db.sql("UPDATE reports SET status = 'resolved', outcome = 'refused_help' WHERE id = %s", b)
            self.db.sql("UPDATE reports SET status = 'cancelled' WHERE id = %s", c)
            self.assertEqual(self.ids(outcome="escorted_home"), {a})
            self.assertEqual(self.ids(outcome="escorted_home,refused_help"), {a, b})
            self.assertEqual({i["id"] for i in self.raw("outcome=escorted_home&outcome=refused_help&limit=100")
                              .json()["items"]}, {a, b})
            # closed reports are listed by default, and alone when asked
            closed = self.truth("status IN ('resolved', 'cancelled', 'duplicate')")
            self.assertEqual(closed, {a, b, c})
            self.assertTrue(closed <= self.ids())
            self.assertEqual(self.ids(open="false"), closed)
            self.assertEqual(self.ids(open="true"), self.truth("status NOT IN ('resolved', 'cancelled', 'duplicate')"))
            self.assertEqual(self.ids(open="true", status="resolved"), set())
            self.assertEqual(self.ids(status="resolved,cancelled"), closed)
            for bad, code in (({"outcome": "saved"}, "invalid_outcome"), ({"open": "yes"}, "invalid_open")):
                self.assertEqual(self.get("/api/v1/reports", **bad).error, code)
        finally:
            self.db.sql("UPDATE reports SET status = 'new', outcome = NULL WHERE id = ANY (%s::bigint[])",
                        "{%d,%d,%d}" % (a, b, c))

    def test_filter_escalated_by_hand_or_by_deadline(self):
        """?escalated=true: every report whose timeline holds an escalation, by hand (the event) or
        by the deadline (the escalation thread's row); false: the others. The console's queue sorts
        these first after a reload."""
        by_hand, by_deadline = self.haizhou[20]["id"], self.haizhou[21]["id"]
        r = self.srv.request("POST", "/api/v1/reports/%d/events" % by_hand, json_body={"type": "escalate"},
                             token=self.tok["dispatcher"])
        self.assertEqual(r.status, 200, r)
        self.db.sql("INSERT INTO report_events (report_id, type, actor, from_status, to_status, details)"
                    " VALUES (%s, 'escalated', 'system', 'new', 'new',"
                    " '{\"reason\": \"ack_deadline_passed\", \"from_tier\": \"community\"}')", by_deadline)
        try:
            ever = self.truth("EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = reports.id"
                              " AND e.type = 'escalated')")
            self.assertTrue({by_hand, by_deadline} <= ever)
            self.assertEqual(self.ids(escalated="true"), ever)
            self.assertEqual(self.ids(escalated="false"), self.truth("true") - ever)
            self.assertEqual(self.ids(escalated="true", open="true", id="%d,%d" % (by_hand, by_deadline)),
                             {by_hand, by_deadline})
            # the deadline-only filter still counts only the deadline's moves
            self.assertNotIn(by_hand, self.ids(escalated_from="community,town,county"))
            # scope still applies, and the exports take the filter too
            self.assertEqual(self.ids("dispatcher_gn", escalated="true"), set())
            r = self.get("/api/v1/reports.csv", escalated="true")
            self.assertEqual({int(x["id"]) for x in csv.DictReader(io.StringIO(r.body.decode("utf-8-sig"),
                                                                                newline=""))}, ever)
            self.assertEqual(self.get("/api/v1/reports", escalated="yes").error, "invalid_escalated")
        finally:
            self.db.sql("DELETE FROM report_events WHERE report_id = %s AND actor = 'system'", by_deadline)

    def test_filter_tier_station_and_number(self):
        for tier in ("city", "county", "town", "community"):
            self.assertEqual(self.ids(tier=tier), self.truth("tier = %s", tier), tier)
        stations = [r["station_id"] for r in self.db.sql(
            "SELECT station_id FROM reports WHERE station_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC")]
        self.assertTrue(stations)
        self.assertEqual(self.ids(station=stations[0]), self.truth("station_id = %s", stations[0]))
        if len(stations) > 1:
            q = "station=%d&station=%d&limit=500" % (stations[0], stations[1])
            self.assertEqual({i["id"] for i in self.raw(q).json()["items"]},
                             self.truth("station_id IN (%s, %s)", stations[0], stations[1]))
        # report numbers: the history's search by number; scope still applies
        hz, gn = self.haizhou[10]["id"], self.guannan[1]["id"]
        self.assertEqual(self.ids(id="%d,%d" % (hz, gn)), {hz, gn})
        self.assertEqual({i["id"] for i in self.raw("id=%d&id=%d" % (hz, gn)).json()["items"]}, {hz, gn})
        self.assertEqual(self.ids("dispatcher_gn", id="%d,%d" % (hz, gn)), {gn})
        self.assertEqual(self.ids(id=999999999), set())
        r = self.get("/api/v1/reports.geojson", "supervisor", id=str(hz))
        self.assertEqual([f["id"] for f in json.loads(r.body)["features"]], [hz])
        for bad in ("0", "1,", "x", "1;2", "99999999999999999999"):
            self.assertEqual(self.get("/api/v1/reports", id=bad).error, "invalid_id", bad)
        self.assertEqual(self.get("/api/v1/reports", tier="province").error, "invalid_tier")
        self.assertEqual(self.get("/api/v1/reports", station="-1").error, "invalid_station")

    def test_repeated_parameters(self):
        """A list parameter given twice means any of them; any other given twice is a 400."""
        rid = self.haizhou[0]["id"]
        self.db.sql("UPDATE reports SET status = 'acknowledged' WHERE id = %s", rid)
        try:
            both = {i["id"] for i in self.raw("status=new&status=acknowledged&limit=500").json()["items"]}
            self.assertEqual(both, {i["id"] for i in self.raw("status=new,acknowledged&limit=500").json()["items"]})
            self.assertIn(rid, both)
            self.assertEqual({i["id"] for i in self.raw("status=acknowledged&status=acknowledged").json()["items"]},
                             {rid})
        finally:
            self.db.sql("UPDATE reports SET status = 'new' WHERE id = %s", rid)
        for query, code in (("limit=1&limit=2", "invalid_limit"), ("crs=wgs84&crs=gcj02", "invalid_crs"),
                            ("since=2030-01-01T00:00:00Z&since=2020-01-01T00:00:00Z", "invalid_since"),
                            ("division=320706&division=320724", "invalid_division"),
                            ("within=320706&division=320724", "invalid_division"),
                            ("bbox=1,2,3,4&bbox=1,2,3,4", "invalid_bbox")):
            for path in ("/api/v1/reports", "/api/v1/reports.csv"):
                r = self.raw(query, path=path)
                self.assertEqual((r.status, r.error), (400, code), (path, query, r))
        r = self.raw("limit=1&limit=2")
        self.assertIn("only once", r.json()["error"]["message"])

    # ---- scope ----
    def test_scope_county_dispatcher(self):
        hz = {r["id"] for r in self.haizhou}
        gn = {r["id"] for r in self.guannan}
        seen = {i["id"] for i in self.walk("dispatcher_gn", 7)}
        self.assertTrue(seen, "灌南 dispatcher sees its own reports")
        self.assertTrue(seen <= gn | {r["id"] for r in self.db.sql(
            "SELECT id FROM reports WHERE county_code = '320724000000'")})
        self.assertFalse(seen & hz, "灌南 dispatcher saw 海州 reports")
        self.assertNotIn(self.outside["id"], seen)
        # asking for another division does not widen the scope
        self.assertEqual(self.walk("dispatcher_gn", 50, division="320706"), [])
        self.assertEqual({i["id"] for i in self.walk("dispatcher_gn", 50, division="3207")}, seen)
        seen = {i["id"] for i in self.walk("dispatcher", 50)}
        self.assertTrue(hz <= seen)
        self.assertFalse(seen & gn)
        self.assertNotIn(self.outside["id"], seen)

    def test_scope_city_wide_sees_outside(self):
        seen = {i["id"] for i in self.walk("supervisor", 500)}
        self.assertIn(self.outside["id"], seen)

    def test_scope_in_exports(self):
        hz = {str(r["id"]) for r in self.haizhou}
        r = self.get("/api/v1/reports.geojson", "dispatcher_gn")
        self.assertEqual(r.status, 200, r)
        ids = {str(f["id"]) for f in json.loads(r.body)["features"]}
        self.assertTrue(ids)
        self.assertFalse(ids & hz)
        r = self.get("/api/v1/reports.csv", "dispatcher_gn")
        rows = list(csv.DictReader(io.StringIO(r.body.decode("utf-8-sig"), newline="")))
        self.assertTrue(rows)
        self.assertFalse({row["id"] for row in rows} & hz)
        self.assertNotIn(str(self.outside["id"]), {row["id"] for row in rows})

    # ---- GeoJSON ----
    def test_geojson_valid_rfc7946(self):
        r = self.get("/api/v1/reports.geojson", crs="gcj02", division="320724")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("application/geo+json"))
        doc = json.loads(r.body)
        self.assertEqual(doc["type"], "FeatureCollection")
        self.assertNotIn("crs", doc)    # RFC 7946 removed it: always WGS-84
        self.assertEqual({f["id"] for f in doc["features"]}, {x["id"] for x in self.guannan})
        truth = {row["id"]: row for row in self.db.sql(
            "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM reports")}
        for f in doc["features"]:
            self.assertEqual(f["type"], "Feature")
            self.assertEqual(f["geometry"]["type"], "Point")
            lon, lat = f["geometry"]["coordinates"]
            self.assertIsInstance(lon, float)
            self.assertIsInstance(lat, float)
            self.assertTrue(118 < lon < 120 and 33 < lat < 36, "coordinates are [lon, lat]")
            self.assertAlmostEqual(lon, truth[f["id"]]["lon"], places=6)   # WGS-84 whatever crs=
            self.assertAlmostEqual(lat, truth[f["id"]]["lat"], places=6)
            self.assertIsInstance(f["properties"], dict)
            self.assertEqual(f["properties"]["category"], "lost_elderly")
            self.assertNotIn("contact", f["properties"])

    def test_geojson_empty_collection(self):
        r = self.get("/api/v1/reports.geojson", since="2099-01-01T00:00:00Z")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body), {"type": "FeatureCollection", "features": []})

    # ---- CSV ----
    def test_csv_format_quoting_chinese_and_formulas(self):
        tricky = self.create(report_body(HAIZHOU, "other", '他说 "你好", 然后\n离开了'), "supervisor")
        formula = self.create(report_body(HAIZHOU, "other", "=HYPERLINK(\"http://evil\",\"x\")"), "supervisor")
        plus = self.create(report_body(HAIZHOU, "other", "+1-555"), "supervisor")
        r = self.get("/api/v1/reports.csv", division="320706")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/csv"))
        self.assertIn('attachment; filename="reports.csv"', r.headers["content-disposition"])
        self.assertTrue(r.body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM")
        text = r.body[3:].decode("utf-8")
        header = text.split("\r\n", 1)[0].split(",")
        self.assertEqual(header[:4], ["id", "client_id", "status", "category"])
        self.assertIn("description", header)
        # every record ends with CRLF; the only bare LF is inside the quoted cell
        self.assertTrue(text.endswith("\r\n"))
        self.assertEqual(text.replace("\r\n", "").count("\n"), 1)
        rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}
        self.assertEqual(rows[str(tricky["id"])]["description"], '他说 "你好", 然后\n离开了')
        self.assertEqual(rows[str(formula["id"])]["description"], "'=HYPERLINK(\"http://evil\",\"x\")")
        self.assertEqual(rows[str(plus["id"])]["description"], "'+1-555")
        row = rows[str(self.haizhou[3]["id"])]
        self.assertEqual(row["county"], "海州区")
        self.assertEqual(row["county_code"], "320706000000")
        self.assertAlmostEqual(float(row["lon"]), self.haizhou[3]["location"]["lon"], places=5)
        self.assertEqual({r["id"] for r in self.guannan} & {int(k) for k in rows}, set())


class ExportLargeTest(harness.ServerCase):
    """Exports stream page after page (1,000 rows a page): every row exactly once, valid to the end."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = cls.srv.login("supervisor")
        tok = cls.srv.login("patrol")
        r = cls.srv.request("POST", "/api/v1/reports", json_body=report_body(GUANNAN, "minor", "模板"), token=tok)
        assert r.status == 201, r
        # 2,500 more rows like it, straight into the table
        cls.db.sql("INSERT INTO reports (client_id, category, geom, observed_at, description, city_code,"
                   " county_code, town_code, community_code, station_id, tier, ack_deadline)"
                   " SELECT gen_random_uuid(), category, ST_Translate(geom, g * 1e-6, 0), observed_at,"
                   " 'row ' || g || ', \"quoted\"', city_code, county_code, town_code, community_code, station_id,"
                   " tier, ack_deadline FROM reports, generate_series(1, 2500) g")
        cls.total = cls.db.value("SELECT count(*) FROM reports")

    def test_geojson_all_pages(self):
        r = self.srv.request("GET", "/api/v1/reports.geojson", token=self.token)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("transfer-encoding"), "chunked")
        ids = [f["id"] for f in json.loads(r.body)["features"]]
        self.assertEqual(len(ids), self.total)
        self.assertEqual(len(set(ids)), self.total)

    def test_csv_all_pages_and_keep_alive(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        for _ in range(2):     # the chunked reply ends cleanly: the connection serves the next request
            c.request("GET", "/api/v1/reports.csv?division=320724", headers={"Authorization": "Bearer " + self.token})
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200)
            rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
            self.assertEqual(len(rows), self.total)
            self.assertEqual(len({row["id"] for row in rows}), self.total)
        c.close()


if __name__ == "__main__":
    unittest.main()
