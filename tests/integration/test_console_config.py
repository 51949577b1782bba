"""test_console_config.py - the console's optional external base map (setting basemap_url): what
GET /api/v1/console tells the page, the page's Content-Security-Policy allowing exactly that
origin for images, and a value that could smuggle a policy refused at start."""
import unittest

import harness


def img_src(headers):
    csp = headers.get("content-security-policy", "")
    return next((d.strip() for d in csp.split(";") if d.strip().startswith("img-src")), None)


class BaseMap(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()

    def serve(self, url):
        srv = harness.Server(self.db, env={"PATROLD_BASEMAP_URL": url})
        self.addCleanup(srv.stop)
        return srv

    def test_none_by_default(self):
        srv = self.serve("")
        r = srv.request("GET", "/api/v1/console")
        self.assertEqual((r.status, r.json()), (200, {"basemap_url": None, "timezone": "Asia/Shanghai", "photo_max_px": 1600}))
        page = srv.request("GET", "/")
        self.assertEqual(page.status, 200)
        self.assertEqual(img_src(page.headers), "img-src 'self' data: blob:")

    def test_set_url_reaches_page_and_its_policy(self):
        url = "https://tiles.example.org:8443/base/{z}/{x}/{y}.png"
        srv = self.serve(url)
        self.assertEqual(srv.request("GET", "/api/v1/console").json(), {"basemap_url": url, "timezone": "Asia/Shanghai", "photo_max_px": 1600})
        page = srv.request("GET", "/")
        self.assertEqual(img_src(page.headers), "img-src 'self' data: blob: https://tiles.example.org:8443")
        # the rest of the policy is untouched
        self.assertIn("default-src 'self'", page.headers["content-security-policy"])
        self.assertIn("frame-ancestors 'none'", page.headers["content-security-policy"])

    def test_hostile_values_refused_at_start(self):
        for bad in ("javascript:alert(1)", "https://x.org/{z}/{x}/{y}.png; script-src *",
                    "https://x.org/a b", "ftp://x.org/{z}", "https:///{z}", "https://x.org/'{z}"):
            r = harness.run_patrold(["serve"], self.db, env={"PATROLD_BASEMAP_URL": bad,
                                                             "PATROLD_LISTEN": "127.0.0.1:1"}, timeout=30)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn("basemap_url", r.stderr, bad)


if __name__ == "__main__":
    unittest.main()
