"""test_edge_open311.py - Open311 attacked as a hostile anonymous client would: long service_code
and service_request_id lists (a stack overflow once), characters XML 1.0 forbids in a stored
description, bytes that are not UTF-8 in paths, queries, forms and headers, and errors raised by
the HTTP core before any handler runs, which must still be in the GeoReport v2 error format."""
import json
import socket
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

import harness

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CODES = ["vagrant", "beggar", "lost_elderly", "minor", "mental_illness", "injured_or_ill", "other"]


class Open311EdgeTest(harness.ServerCase):
    def tearDown(self):
        # whatever a test sent, the process is still there and answers
        self.assertIsNone(self.srv.proc.poll(), self.srv.log_text())
        self.assertEqual(self.srv.request("GET", "/healthz").status, 200)

    # ---- helpers ----
    def get(self, path, raw_query=None, **params):
        q = raw_query if raw_query is not None else urllib.parse.urlencode(params)
        return self.srv.request("GET", "/open311/v2/" + path + ("?" + q if q else ""))

    def post_raw(self, body, fmt="json", headers=None):
        return self.srv.request("POST", "/open311/v2/requests.%s" % fmt, body=body,
                                headers=FORM if headers is None else headers)

    def post(self, fields, fmt="json"):
        return self.post_raw(urllib.parse.urlencode(fields), fmt)

    def sighting(self, **extra):
        f = {"api_key": "demo", "service_code": "vagrant", "lat": "34.5722741", "long": "119.1635093",
             "description": "桥下有人露宿"}
        f.update(extra)
        return f

    def assert_spec_error(self, r, status, fmt="json"):
        """The GeoReport v2 error format: [{"code","description"}] or <errors><error>..."""
        self.assertEqual(r.status, status, r)
        if fmt == "json":
            self.assertTrue(r.headers["content-type"].startswith("application/json"), r.headers)
            body = json.loads(r.body.decode("utf-8"))
            self.assertIsInstance(body, list, r)
            self.assertEqual(len(body), 1, r)
            self.assertEqual(body[0]["code"], status)
            self.assertTrue(body[0]["description"], r)
            return body[0]["description"]
        self.assertTrue(r.headers["content-type"].startswith("text/xml"), r.headers)
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, "errors", r)
        self.assertEqual(root.find("error/code").text, str(status))
        self.assertTrue(root.find("error/description").text, r)
        return root.find("error/description").text

    # ---- 1. long lists in GET requests ----
    def test_many_service_codes(self):
        mine = {}
        for code in CODES:
            mine[code] = self.post(self.sighting(service_code=code)).json()[0]["service_request_id"]
        for n in (32, 40, 50):
            codes = [("beggar", "minor")[i % 2] for i in range(n)]   # beggar,minor,beggar,... (repeats allowed)
            for fmt in ("json", "xml"):
                r = self.get("requests." + fmt, service_code=",".join(codes))
                self.assertEqual(r.status, 200, (n, fmt, r))
                if fmt == "json":
                    got = {(x["service_request_id"], x["service_code"]) for x in r.json()}
                else:
                    got = {(e.find("service_request_id").text, e.find("service_code").text)
                           for e in ET.fromstring(r.body).findall("request")}
                self.assertEqual({c for _, c in got}, {"beggar", "minor"}, n)
                self.assertIn((mine["beggar"], "beggar"), got)
                self.assertIn((mine["minor"], "minor"), got)
        # all seven, many times over, within the byte limit: the whole set
        every = ",".join(CODES * 7)
        got = {x["service_code"] for x in self.get("requests.json", service_code=every).json()}
        self.assertEqual(got, set(CODES))
        # too many items, or too many bytes: a clear 400, never a crash or a bogus date error
        for n in (51, 300):
            for fmt in ("json", "xml"):
                msg = self.assert_spec_error(
                    self.get("requests." + fmt, service_code=",".join(["other"] * n)), 400, fmt)
                self.assertIn("service_code", msg)
                self.assertNotIn("date", msg)
        msg = self.assert_spec_error(self.get("requests.json", service_code=",".join(CODES * 50)), 400)
        self.assertIn("service_code", msg)
        self.assertNotIn("date", msg)
        # the list is still validated item by item
        self.assert_spec_error(self.get("requests.json", service_code="vagrant," * 20 + "pothole"), 400)
        self.assert_spec_error(self.get("requests.json", service_code=",,,"), 400)

    def test_many_request_ids(self):
        rid = int(self.post(self.sighting()).json()[0]["service_request_id"])
        ids = [str(rid)] + [str(rid + 100000 + i) for i in range(99)]
        got = self.get("requests.json", service_request_id=",".join(ids)).json()
        self.assertEqual([x["service_request_id"] for x in got], [str(rid)])
        for extra in (1, 150):
            more = ids + [str(rid + 200000 + i) for i in range(extra)]
            msg = self.assert_spec_error(self.get("requests.json", service_request_id=",".join(more)), 400)
            self.assertIn("service_request_id", msg)
        long_ids = ",".join(str(10 ** 17 + i) for i in range(90))   # 90 ids, 1.6 KB
        self.assert_spec_error(self.get("requests.xml", service_request_id=long_ids), 400, "xml")
        for bad in ("1,", ",1", "1,,2", "0", "1;2", "99999999999999999999", "１"):
            self.assert_spec_error(self.get("requests.json", service_request_id=bad), 400)

    # ---- 2. characters XML forbids, bytes that are not UTF-8 ----
    def test_forbidden_xml_characters_are_dropped(self):
        desc = "a\ufffeb\uffffc\x01d\x1be\x0bf\x7fg\ttab\n新浦 <&> \U0001F600"
        r = self.post(self.sighting(description=desc, service_code="other"))
        self.assertEqual(r.status, 201, r)
        rid = r.json()[0]["service_request_id"]
        self.assertEqual(self.db.value("SELECT description FROM reports WHERE id = %s", int(rid)), desc)
        want = "abcdef\x7fg\ttab\n新浦 <&> \U0001F600"   # U+007F is allowed by XML 1.0
        for path in ("requests/%s.xml" % rid, "requests.xml?service_request_id=%s" % rid, "requests.xml"):
            r = self.srv.request("GET", "/open311/v2/" + path)
            self.assertEqual(r.status, 200, r)
            root = ET.fromstring(r.body)   # one bad character made the whole feed unparseable
            mine = [e for e in root.findall("request") if e.find("service_request_id").text == rid]
            self.assertEqual(len(mine), 1, path)
            self.assertEqual(mine[0].find("description").text, want, path)
            for bad in (b"\xef\xbf\xbe", b"\xef\xbf\xbf", b"\x01", b"\x1b", b"\x0b"):
                self.assertNotIn(bad, r.body, path)
        # JSON may carry them (escaped or as UTF-8), and still parses to the stored text
        got = json.loads(self.get("requests/%s.json" % rid).body.decode("utf-8"))
        self.assertEqual(got[0]["description"], desc)
        listed = {x["service_request_id"]: x for x in self.get("requests.json").json()}
        self.assertEqual(listed[rid]["description"], desc)

    def test_invalid_utf8_is_never_echoed(self):
        """Client bytes quoted in an error message are made UTF-8; the reply is still valid."""
        for fmt in ("json", "xml"):
            self.assert_spec_error(self.get("requests." + fmt, raw_query="service_code=%ff%fe"), 400, fmt)
            self.assert_spec_error(self.get("requests." + fmt, raw_query="service_code=" + "%e6%96" * 40),
                                   400, fmt)
            # (404 here; 400 if the HTTP core refuses such paths first: both in the spec's format)
            for path in ("services/%ff%c0.", "requests/%ff.", "tokens/%e6%96."):
                r = self.get(path + fmt)
                self.assert_spec_error(r, r.status if r.status in (400, 404) else 404, fmt)
        # a service_code cut by the message limit in the middle of a character
        msg = self.assert_spec_error(self.get("requests.json", service_code="新" * 30), 400)
        self.assertTrue(msg.encode("utf-8"))

    def test_discovery_and_services_stay_valid(self):
        # the Host header is echoed in the endpoint's url only when it is a plain host[:port]
        for host in ("evil<script>", "a\"b", "\xe4\xbe\x8b.cn", "\xff\xfe", "x" * 400, "[::1]:8080"):
            for fmt in ("json", "xml"):
                r = self.srv.request("GET", "/open311/v2/discovery." + fmt, headers={"Host": host})
                self.assertEqual(r.status, 200, (host, r))
                if fmt == "json":
                    url = r.json()["endpoints"][0]["url"]
                else:
                    url = ET.fromstring(r.body).find("endpoints/endpoint/url").text
                want = "http://[::1]:8080/open311/v2" if host == "[::1]:8080" else "http://localhost/open311/v2"
                self.assertEqual(url, want, host)
        self.assertEqual(len(self.get("services.json").json()), len(CODES))
        self.assertEqual(len(ET.fromstring(self.get("services.xml").body).findall("service")), len(CODES))

    # ---- 3. hostile forms ----
    def test_hostile_forms(self):
        before = self.db.value("SELECT count(*) FROM reports")
        good = urllib.parse.urlencode(self.sighting())
        cases = [
            (good + "&description2=%", "%"),                        # % at the end
            (good.replace("description=", "description=%zz"), "%"),  # % not followed by hex digits
            (good + "&x=%4", "%"),
            (good.replace("description=", "description=%ff%fe"), "UTF-8"),
            (good.replace("description=", "description=%ed%a0%80"), "UTF-8"),   # a surrogate
            (good.replace("description=", "description=%c0%af"), "UTF-8"),      # overlong '/'
            (good.replace("description=", "description=a%00b"), "NUL"),
            ("&".join("f%d=1" % i for i in range(70)) + "&" + good, "too many fields"),
            ("a&" * 30000, "too many fields"),   # 30,000 fields in 60 KB
        ]
        for body, why in cases:
            for fmt in ("json", "xml"):
                msg = self.assert_spec_error(self.post_raw(body, fmt), 400, fmt)
                self.assertIn(why, msg, body[:80])
        self.assertEqual(self.db.value("SELECT count(*) FROM reports"), before)   # nothing written
        # empty fields and stray separators are harmless
        r = self.post_raw("&&=&==&" + good + "&&")
        self.assertEqual(r.status, 201, r)
        # "+" is a space, %2B a plus
        r = self.post_raw(good.replace("description=", "description=a+b%2Bc"))
        rid = r.json()[0]["service_request_id"]
        self.assertEqual(self.db.value("SELECT description FROM reports WHERE id = %s", int(rid)),
                         "a b+c" + self.sighting()["description"])

    # ---- 4. errors from the HTTP core in the specification's format ----
    def test_core_errors_in_spec_format(self):
        good = urllib.parse.urlencode(self.sighting())
        for fmt in ("json", "xml"):
            # wrong Content-Type
            for ct in ("application/json", "text/plain", "multipart/form-data; boundary=x"):
                self.assert_spec_error(self.post_raw(good, fmt, {"Content-Type": ct}), 415, fmt)
            self.assert_spec_error(self.post_raw(good, fmt, {}), 415, fmt)
            self.assert_spec_error(self.srv.request("POST", "/open311/v2/requests." + fmt,
                                                    json_body={"service_code": "vagrant"}), 415, fmt)
            # too large (the limit is 64 KiB)
            self.assert_spec_error(self.post_raw(good + "&pad=" + "x" * 70000, fmt), 413, fmt)
            # unknown paths and methods under /open311/
            for path in ("/open311/v2/nothing.", "/open311/v2/requests/1/extra.", "/open311/v3/discovery.",
                         "/open311/v2/services/vagrant/attributes."):
                self.assert_spec_error(self.srv.request("GET", path + fmt), 404, fmt)
            r = self.srv.request("DELETE", "/open311/v2/requests." + fmt)
            self.assert_spec_error(r, 405, fmt)
            self.assertIn("GET", r.headers.get("allow", ""))
            r = self.srv.request("PUT", "/open311/v2/services." + fmt, body="x", headers=FORM)
            self.assert_spec_error(r, 405, fmt)
            # bad api_key, in the form or the query
            self.assert_spec_error(self.post(self.sighting(api_key="guess"), fmt), 403, fmt)
            self.assert_spec_error(self.post_raw(good.replace("api_key=demo", "api_key=" + "k" * 300), fmt),
                                   403, fmt)
        # paths outside /open311/ keep the project's own error format
        r = self.srv.request("GET", "/api/v1/nothing")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "not_found")

    def test_declared_size_over_limit(self):
        """A Content-Length over the limit is refused, in the spec's format, before the body is sent."""
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=20)
        try:
            s.sendall(b"POST /open311/v2/requests.xml HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 999999999\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                self.assertTrue(chunk, data)
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = [int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
            while len(body) < length[0]:
                chunk = s.recv(4096)
                self.assertTrue(chunk, data)
                body += chunk
        finally:
            s.close()
        self.assertIn(b" 413 ", head.split(b"\r\n")[0], data[:200])
        self.assertEqual(ET.fromstring(body).find("error/code").text, "413")


if __name__ == "__main__":
    unittest.main()
