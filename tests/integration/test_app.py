"""test_app.py - the patrol app as patrold serves it (what `make web` built into web/dist/app/): /app/
and /app/index.html are its page with every reply's security headers, /app moves to /app/, the
manifest with its type and icons of the sizes it declares, the service worker at a path whose scope
covers /app/ and whose precache list names only files that are served, and the city's photo size
in GET /api/v1/console. The browser test (tests/e2e/app.test.mjs) drives the app itself."""
import json
import os
import re
import struct
import unittest

import harness

DIST = os.path.join(harness.ROOT, "web", "dist", "app")


class AppServed(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(os.path.join(DIST, "index.html")):
            raise AssertionError("web/dist/app/ is not built: run `make web`")
        super().setUpClass()
        cls.srv = harness.Server(cls.db, env={"PATROLD_APP_PHOTO_MAX_PX": "1200"})

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def get(self, path):
        return self.srv.request("GET", path)

    def test_page_at_app_and_its_index(self):
        for path in ("/app/", "/app/index.html"):
            r = self.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.headers["content-type"].startswith("text/html"), r.headers)
            self.assertIn("default-src 'self'", r.headers.get("content-security-policy", ""))
            self.assertIn(b'<link rel="manifest" href="/app/manifest.webmanifest">', r.body)
            self.assertIn(b'<script type="module" src="/app/app.js">', r.body)
        r = self.get("/app")
        self.assertEqual((r.status, r.headers.get("location")), (301, "/app/"))
        self.assertEqual(self.srv.request("HEAD", "/app/").status, 200)
        for path in ("/app/main.js", "/app/chunks/"):  # a source, a folder: not served
            self.assertEqual(self.get(path).status, 404, path)

    def test_manifest_and_icons(self):
        r = self.get("/app/manifest.webmanifest")
        self.assertEqual((r.status, r.headers["content-type"].split(";")[0]), (200, "application/manifest+json"))
        m = json.loads(r.body)
        self.assertEqual((m["start_url"], m["scope"], m["display"], m["lang"]), ("/app/", "/app/", "standalone", "zh-CN"))
        self.assertRegex(m["name"], r"[\u4e00-\u9fff]")  # a Chinese name
        sizes = set()
        for icon in m["icons"]:
            b = self.get(icon["src"])
            self.assertEqual((b.status, b.headers["content-type"], b.body[1:4]), (200, "image/png", b"PNG"), icon)
            w, h = struct.unpack(">II", b.body[16:24])
            self.assertEqual("%dx%d" % (w, h), icon["sizes"])
            sizes.add(icon["sizes"])
        self.assertLessEqual({"192x192", "512x512"}, sizes)
        self.assertTrue(any(i.get("purpose") == "maskable" for i in m["icons"]))

    def test_service_worker_and_its_precache(self):
        r = self.get("/app/sw.js")
        self.assertEqual(r.status, 200)
        self.assertIn("javascript", r.headers["content-type"])
        urls = json.loads(re.search(rb"(\[\"/app/[^\]]*\])", r.body).group(1))
        self.assertIn("/app/index.html", urls)
        self.assertIn("/app/app.js", urls)
        self.assertTrue(any(re.match(r"/app/chunks/map-.*\.js$", u) for u in urls), urls)  # the map, for offline use
        for u in urls:
            self.assertFalse(u.endswith(".map"), u)
            self.assertEqual(self.get(u).status, 200, u)

    def test_console_settings_carry_the_photo_size(self):
        r = self.get("/api/v1/console")
        self.assertEqual(r.json()["photo_max_px"], 1200)


if __name__ == "__main__":
    unittest.main()
