"""test_bad_input.py - a table of bad requests to the report routes, each with its expected status and error
code, and after each a check that the database did not change (reports, audit, events, photos, units)."""
import json
import unittest
import uuid

import harness
from test_reports import new_body, point_in_haizhou

INJECT = "'; DROP TABLE reports; --"


def fingerprint(db):
    return db.sql("SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM reports t) AS reports,"
                  " (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM report_events t) AS audit,"
                  " (SELECT count(*) || '/' || coalesce(max(id), 0) FROM events) AS events,"
                  " (SELECT count(*) || '/' || coalesce(max(id), 0) FROM photos) AS photos,"
                  " (SELECT md5(coalesce(string_agg(id || status, ',' ORDER BY id), '')) FROM units) AS units")[0]


class BadInputTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {u: cls.srv.login(u) for u in ("dispatcher", "dispatcher_gn", "patrol", "community")}
        cls.lon, cls.lat = point_in_haizhou(cls.db)
        mk = lambda: cls.srv.request("POST", "/api/v1/reports", json_body=new_body(cls.lon, cls.lat),
                                     token=cls.tok["patrol"]).json()["id"]
        cls.open_id, cls.resolved_id = mk(), mk()
        unit = cls.db.value("SELECT id FROM units WHERE division_code = '320706000000' ORDER BY id LIMIT 1")
        for body in ({"type": "acknowledge"}, {"type": "dispatch", "unit_id": unit}, {"type": "arrive"},
                     {"type": "resolve", "outcome": "escorted_home"}):
            r = cls.srv.request("POST", "/api/v1/reports/%d/events" % cls.resolved_id, json_body=body, token=cls.tok["dispatcher"])
            assert r.status == 200, r

    def cases(self):
        B = lambda **over: new_body(self.lon, self.lat, **over)

        def without(key):
            b = B()
            del b[key]
            return b

        def loc(**over):
            b = B()
            b["location"] = dict(b["location"], **over)
            return b

        def loc_without(key):
            b = B()
            del b["location"][key]
            return b
        rep, ev = "/api/v1/reports", "/api/v1/reports/%d/events"
        photo = "/api/v1/reports/%d/photos" % self.open_id
        return [
            # (name, method, path, json or raw body, user, status, code)
            ("malformed json", "POST", rep, b'{"client_id": "x",', "patrol", 400, "invalid_json"),
            ("json NaN literal", "POST", rep, json.dumps(B()).replace('"lat": %r' % self.lat, '"lat": NaN').encode(), "patrol", 400, "invalid_json"),
            ("array body", "POST", rep, [B()], "patrol", 400, "invalid_body"),
            ("missing client_id", "POST", rep, without("client_id"), "patrol", 400, "missing_field"),
            ("bad uuid", "POST", rep, B(client_id="not-a-uuid"), "patrol", 400, "invalid_field"),
            ("uuid as number", "POST", rep, B(client_id=12345), "patrol", 400, "invalid_field"),
            ("uuid injection", "POST", rep, B(client_id=INJECT), "patrol", 400, "invalid_field"),
            ("missing category", "POST", rep, without("category"), "patrol", 400, "missing_field"),
            ("unknown category", "POST", rep, B(category="alien"), "patrol", 400, "invalid_category"),
            ("category injection", "POST", rep, B(category=INJECT), "patrol", 400, "invalid_category"),
            ("missing location", "POST", rep, without("location"), "patrol", 400, "missing_field"),
            ("location string", "POST", rep, B(location="119.2,34.6"), "patrol", 400, "invalid_location"),
            ("missing lat", "POST", rep, loc_without("lat"), "patrol", 400, "missing_field"),
            ("lat 91", "POST", rep, loc(lat=91), "patrol", 400, "invalid_location"),
            ("lon -181", "POST", rep, loc(lon=-181), "patrol", 400, "invalid_location"),
            ("lat \"NaN\"", "POST", rep, loc(lat="NaN"), "patrol", 400, "invalid_location"),
            ("lon string", "POST", rep, loc(lon="119.2"), "patrol", 400, "invalid_location"),
            ("lat null", "POST", rep, loc(lat=None), "patrol", 400, "invalid_location"),
            ("unknown crs", "POST", rep, loc(crs="mars"), "patrol", 400, "invalid_crs"),
            ("crs injection", "POST", rep, loc(crs=INJECT), "patrol", 400, "invalid_crs"),
            ("negative accuracy", "POST", rep, loc(accuracy_m=-5), "patrol", 400, "invalid_field"),
            ("missing observed_at", "POST", rep, without("observed_at"), "patrol", 400, "missing_field"),
            ("observed_at garbage", "POST", rep, B(observed_at="yesterday"), "patrol", 400, "invalid_field"),
            ("observed_at no offset", "POST", rep, B(observed_at="2024-05-01T10:00:00"), "patrol", 400, "invalid_field"),
            ("observed_at Feb 30", "POST", rep, B(observed_at="2024-02-30T10:00:00Z"), "patrol", 400, "invalid_field"),
            ("observed_at far future", "POST", rep, B(observed_at="2999-01-01T00:00:00Z"), "patrol", 400, "invalid_field"),
            ("description 4001 chars", "POST", rep, B(description="流" * 4001), "patrol", 400, "invalid_field"),
            ("description 4 MB", "POST", rep, B(description="x" * (4 * 1024 * 1024)), "patrol", 413, "payload_too_large"),
            ("description number", "POST", rep, B(description=42), "patrol", 400, "invalid_field"),
            ("people_count 0", "POST", rep, B(people_count=0), "patrol", 400, "invalid_field"),
            ("people_count 101", "POST", rep, B(people_count=101), "patrol", 400, "invalid_field"),
            ("people_count 1.5", "POST", rep, B(people_count=1.5), "patrol", 400, "invalid_field"),
            ("person list", "POST", rep, B(person=["male"]), "patrol", 400, "invalid_field"),
            ("person.sex bad", "POST", rep, B(person={"sex": "x"}), "patrol", 400, "invalid_field"),
            ("person.approx_age 500", "POST", rep, B(person={"approx_age": 500}), "patrol", 400, "invalid_field"),
            ("no token", "POST", rep, B(), None, 401, "unauthorized"),
            ("bogus token", "POST", rep, B(), "bogus", 401, "unauthorized"),
            ("wrong content type", "POST", rep, ("text/plain", json.dumps(B()).encode()), "patrol", 415, "unsupported_media_type"),
            ("batch 501 items", "POST", rep + "/batch", {"reports": [B() for _ in range(501)]}, "patrol", 413, "too_many_items"),
            ("batch not a list", "POST", rep + "/batch", {"reports": {"a": 1}}, "patrol", 400, "invalid_field"),
            ("batch missing", "POST", rep + "/batch", {}, "patrol", 400, "missing_field"),
            ("png that is a script", "POST", photo, ("image/png", b"#!/bin/sh\nrm -rf /\n"), "patrol", 415, "unsupported_media_type"),
            ("photo 10 MiB + 1", "POST", photo, ("image/jpeg", b"\xFF\xD8\xFF" + b"\0" * (10 * 1024 * 1024 - 2)), "patrol", 413, "payload_too_large"),
            ("unknown report id", "GET", rep + "/987654321", None, "dispatcher", 404, "not_found"),
            ("injection in id", "GET", rep + "/1%20OR%201=1", None, "dispatcher", 404, "not_found"),
            ("injection in id events", "POST", rep + "/1';DROP%20TABLE%20reports;--/events", {"type": "acknowledge"}, "dispatcher", 404, "not_found"),
            ("huge id", "GET", rep + "/99999999999999999999999", None, "dispatcher", 404, "not_found"),
            ("out of scope", "GET", rep + "/%d" % self.open_id, None, "dispatcher_gn", 404, "not_found"),
            ("resolved -> acknowledge", "POST", ev % self.resolved_id, {"type": "acknowledge"}, "dispatcher", 409, "invalid_transition"),
            ("resolved -> new", "POST", ev % self.resolved_id, {"type": "new"}, "dispatcher", 400, "invalid_field"),
            ("resolved -> cancel", "POST", ev % self.resolved_id, {"type": "cancel"}, "dispatcher", 409, "invalid_transition"),
            ("patrol dispatches", "POST", ev % self.open_id, {"type": "dispatch", "unit_id": 1}, "patrol", 403, "forbidden"),
            ("community acknowledges", "POST", ev % self.open_id, {"type": "acknowledge"}, "community", 403, "forbidden"),
            ("type injection", "POST", ev % self.open_id, {"type": INJECT}, "dispatcher", 400, "invalid_field"),
            ("outcome injection", "POST", ev % self.open_id, {"type": "resolve", "outcome": INJECT}, "dispatcher", 400, "invalid_field"),
            ("event on unknown report", "POST", ev % 987654321, {"type": "acknowledge"}, "dispatcher", 404, "not_found"),
            ("bad crs query", "GET", rep + "/%d?crs=%%27%%3B" % self.open_id, None, "dispatcher", 400, "invalid_crs"),
        ]

    def test_table(self):
        cases = self.cases()
        self.assertGreaterEqual(len(cases), 30)
        for name, method, path, body, user, status, code in cases:
            with self.subTest(case=name):
                before = fingerprint(self.db)
                headers, raw, js = {}, None, None
                if isinstance(body, tuple):
                    headers["Content-Type"], raw = body
                elif isinstance(body, bytes):
                    headers["Content-Type"], raw = "application/json", body
                elif body is not None:
                    js = body
                token = self.tok.get(user, user) if user else None
                r = self.srv.request(method, path, json_body=js, body=raw, headers=headers, token=token)
                self.assertEqual((r.status, r.error), (status, code), "%s: %r" % (name, r))
                self.assertEqual(fingerprint(self.db), before, name)
        # and the service is still fine, the tables still there
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d" % self.open_id, token=self.tok["dispatcher"]).status, 200)

    def test_error_bodies_name_the_field(self):
        r = self.srv.request("POST", "/api/v1/reports", json_body=new_body(self.lon, 91), token=self.tok["patrol"])
        self.assertEqual(r.json()["error"]["field"], "location.lat")
        b = new_body(self.lon, self.lat)
        b["location"]["crs"] = "mars"
        r = self.srv.request("POST", "/api/v1/reports", json_body=b, token=self.tok["patrol"])
        self.assertEqual(r.json()["error"]["field"], "location.crs")
        r = self.srv.request("POST", "/api/v1/reports", json_body=new_body(self.lon, self.lat, people_count=0),
                             token=self.tok["patrol"])
        self.assertEqual(r.json()["error"]["field"], "people_count")
        self.assertIsInstance(r.json()["error"]["message"], str)
        # a fresh client_id that failed validation is not remembered: the corrected copy is created
        b = new_body(self.lon, self.lat, people_count=0)
        self.assertEqual(self.srv.request("POST", "/api/v1/reports", json_body=b, token=self.tok["patrol"]).status, 400)
        b["people_count"] = 2
        self.assertEqual(self.srv.request("POST", "/api/v1/reports", json_body=b, token=self.tok["patrol"]).status, 201)
        self.assertTrue(uuid.UUID(b["client_id"]))


if __name__ == "__main__":
    unittest.main()
