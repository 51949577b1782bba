"""test_console_config.py - the console's optional external base map (setting basemap_url): what
GET /api/v1/console tells the page, the page's Content-Security-Policy allowing exactly that
origin for images, and a value that could smuggle a policy refused at start."""
import math
import unittest

import harness


def img_src(headers):
    csp = headers.get("content-security-policy", "")
    return next((d.strip() for d in csp.split(";") if d.strip().startswith("img-src")), None)


class BaseMap(harness.FreshDbCase):
    def serve(self, url):
        srv = harness.Server(self.db, env={"PATROLD_BASEMAP_URL": url})
        self.addCleanup(srv.stop)
        return srv

    def test_none_by_default(self):
        srv = self.serve("")
        r = srv.request("GET", "/api/v1/console")
        self.assertEqual((r.status, r.json()), (200, {"basemap_url": None, "basemap": None, "timezone": "Asia/Shanghai",
                                                      "photo_max_px": 1600}))
        page = srv.request("GET", "/")
        self.assertEqual(page.status, 200)
        self.assertEqual(img_src(page.headers), "img-src 'self' data: blob:")

    def test_set_url_reaches_page_and_its_policy(self):
        url = "https://tiles.example.org:8443/base/{z}/{x}/{y}.png"
        srv = self.serve(url)
        self.assertEqual(srv.request("GET", "/api/v1/console").json(),
                         {"basemap_url": url, "basemap": {"kind": "xyz", "layers": [url], "crs": "wgs84", "attribution": None},
                          "timezone": "Asia/Shanghai", "photo_max_px": 1600})
        page = srv.request("GET", "/")
        self.assertEqual(img_src(page.headers), "img-src 'self' data: blob: https://tiles.example.org:8443")
        # the rest of the policy is untouched
        self.assertIn("default-src 'self'", page.headers["content-security-policy"])
        self.assertIn("frame-ancestors 'none'", page.headers["content-security-policy"])

    def test_tianditu_preset(self):
        srv = self.serve("tianditu:0123456789abcdef0123456789abcdef")
        bm = srv.request("GET", "/api/v1/console").json()["basemap"]
        self.assertEqual((bm["kind"], bm["crs"], bm["attribution"]), ("tianditu", "wgs84", "天地图"))
        self.assertEqual(len(bm["layers"]), 2)
        for layer, name in zip(bm["layers"], ("vec", "cva")):
            self.assertTrue(layer.startswith("https://t{0-7}.tianditu.gov.cn/%s_w/wmts?" % name), layer)
            for part in ("SERVICE=WMTS", "REQUEST=GetTile", "LAYER=%s" % name, "TILEMATRIXSET=w",
                         "TILEMATRIX={z}", "TILEROW={y}", "TILECOL={x}", "tk=0123456789abcdef0123456789abcdef"):
                self.assertIn(part, layer)
        self.assertEqual(srv.request("GET", "/api/v1/console").json()["basemap_url"], bm["layers"][0])
        self.assertEqual(img_src(srv.request("GET", "/").headers), "img-src 'self' data: blob: https://*.tianditu.gov.cn")

    def test_gcj02_preset_and_the_overlay_in_gcj02(self):
        url = "https://webrd0{1-4}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
        srv = self.serve("gcj02:" + url)
        bm = srv.request("GET", "/api/v1/console").json()["basemap"]
        self.assertEqual(bm, {"kind": "gcj02", "layers": [url], "crs": "gcj02", "attribution": None})
        self.assertEqual(img_src(srv.request("GET", "/").headers), "img-src 'self' data: blob: https://*.is.autonavi.com")
        # the overlay the console then asks for: our tiles in the same grid
        lon, lat, n = 119.1635, 34.5723, 1 << 12  # 海州区
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        r = srv.request("GET", "/tiles/divisions/12/%d/%d.mvt?crs=gcj02" % (x, y))
        self.assertEqual(r.status, 200, r)
        self.assertGreater(len(r.body), 100)
        # a stand-in tile server on loopback (the browser tests' form)
        srv2 = self.serve("gcj02:http://127.0.0.1:8099/{z}/{x}/{y}.png")
        self.assertEqual(img_src(srv2.request("GET", "/").headers), "img-src 'self' data: blob: http://127.0.0.1:8099")

    def test_hostile_values_refused_at_start(self):
        for bad in ("javascript:alert(1)", "https://x.org/{z}/{x}/{y}.png; script-src *",
                    "https://x.org/a b", "ftp://x.org/{z}", "https:///{z}", "https://x.org/'{z}",
                    "tianditu:", "tianditu:key;script-src", "gcj02:", "gcj02:javascript:x", "https://a.{b-c}.org/{z}"):
            r = harness.run_patrold(["serve"], self.db, env={"PATROLD_BASEMAP_URL": bad,
                                                             "PATROLD_LISTEN": "127.0.0.1:1"}, timeout=30)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn("basemap_url", r.stderr, bad)


if __name__ == "__main__":
    unittest.main()
