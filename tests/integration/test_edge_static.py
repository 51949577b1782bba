"""test_edge_static.py - the web apps' files as a hostile client sees them (issue 23, findings 8
and 9): only the built files of web_root are served (the page, the bundles, icons), never sources,
source maps, package files or node_modules; every static reply, 304 included, carries the security
headers and the CORS headers of a listed origin."""
import os
import shutil
import tempfile
import time
import unittest

import harness
from test_edge_core import SECURITY

ORIGIN = "https://console.example"

# what `make web` leaves in web/ (and a few more things a folder of sources holds)
TREE = {
    "index.html": b"<!doctype html><title>t</title><script defer src=\"/dist/app.js\"></script>",
    "dist/app.js": b"console.log('bundle');",
    "dist/app.css": b"body{margin:0}",
    "dist/app.js.map": b'{"version":3,"sources":["../src/app.js"]}',
    "dist/.hidden.js": b"secret",
    "icons/icon-192.png": b"\x89PNG\r\n\x1a\nfake",
    "package.json": b'{"name":"console"}',
    "package-lock.json": b"{}",
    "node_modules/.package-lock.json": b"{}",
    "node_modules/ol/index.js": b"export {}",
    "src/app.js": b"import 'ol';",
    "src/app.css": b"body{}",
    "build.mjs": b"import * as esbuild from 'esbuild';",
    ".gitignore": b"node_modules/",
    "dist/sub/deep.js": b"nested",
}
SERVED = {"/": "index.html", "/index.html": "index.html", "/dist/app.js": "dist/app.js",
          "/dist/app.css": "dist/app.css", "/icons/icon-192.png": "icons/icon-192.png"}
TYPES = {"index.html": ("text/html",), "dist/app.js": ("text/javascript", "application/javascript"),
         "dist/app.css": ("text/css",), "icons/icon-192.png": ("image/png",)}
# finding 9's own list first
REFUSED = ["/package.json", "/node_modules/.package-lock.json", "/src/app.js", "/build.mjs", "/dist/app.js.map",
           "/package-lock.json", "/node_modules/ol/index.js", "/src/app.css", "/.gitignore", "/dist/.hidden.js",
           "/dist/sub/deep.js", "/dist/", "/dist", "/src/", "/dist/../package.json", "/dist/%2e%2e/package.json",
           "/index.html/", "//package.json"]


class StaticFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="web-")
        for rel, data in TREE.items():
            path = os.path.join(cls.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        cls.db = harness.fresh_db()
        cls.srv = harness.Server(cls.db, env={"PATROLD_WEB_ROOT": cls.root, "PATROLD_CORS_ORIGINS": ORIGIN})
        cls.repo = harness.Server(cls.db)  # the repository's own web/ (harness default web_root)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.repo.stop()
        cls.db.drop()
        shutil.rmtree(cls.root, ignore_errors=True)

    def check_headers(self, r, what):
        for k, v in SECURITY.items():
            self.assertEqual(r.headers.get(k), v, "%s: %s" % (what, k))
        self.assertIn("frame-ancestors 'none'", r.headers.get("content-security-policy", ""), what)
        self.assertEqual(r.headers.get("access-control-allow-origin"), ORIGIN, what)
        self.assertIn("Origin", r.headers.get("vary", ""), what)
        self.assertTrue(r.headers.get("x-request-id"), what)

    def test_only_built_files_are_served(self):
        for path, rel in SERVED.items():
            r = self.srv.request("GET", path)
            self.assertEqual((r.status, r.body), (200, TREE[rel]), path)
            self.assertTrue(r.headers.get("content-type", "").startswith(TYPES[rel]), (path, r.headers))
            h = self.srv.request("HEAD", path)
            self.assertEqual((h.status, h.body, h.headers.get("content-length")), (200, b"", str(len(TREE[rel]))))
        for path in REFUSED:
            r = self.srv.request("GET", path)
            self.assertNotIn(r.body, TREE.values(), path)
            self.assertIn(r.status, (400, 404), path)
            self.assertNotIn(b"sources", r.body, path)
        # the same paths in the repository's web/ (the finding's list), whether or not it is built
        for path in REFUSED[:5]:
            r = self.repo.request("GET", path)
            self.assertEqual((r.status, r.error), (404, "not_found"), path)

    def test_every_static_reply_carries_cors_and_security_headers(self):
        hdr = {"Origin": ORIGIN}
        for path in SERVED:
            r = self.srv.request("GET", path, headers=hdr)
            self.assertEqual(r.status, 200, path)
            self.check_headers(r, "200 " + path)
            etag = r.headers.get("etag")
            self.assertTrue(etag and r.headers.get("last-modified"), r.headers)
            self.assertEqual(r.headers.get("cache-control"), "no-cache")  # revalidated each time
            n = self.srv.request("GET", path, headers=dict(hdr, **{"If-None-Match": etag}))
            self.assertEqual((n.status, n.body), (304, b""), path)
            self.check_headers(n, "304 " + path)
            self.assertEqual(n.headers.get("etag"), etag)
            self.assertEqual(self.srv.request("GET", path, headers={"If-None-Match": '"other"'}).status, 200)
        r = self.srv.request("GET", "/package.json", headers=hdr)
        self.check_headers(r, "404")

    def test_a_changed_file_gets_a_new_validator(self):
        path = os.path.join(self.root, "dist", "app.css")
        etag = self.srv.request("GET", "/dist/app.css").headers["etag"]
        time.sleep(0.01)
        with open(path, "wb") as f:
            f.write(b"body{margin:1px}")
        try:
            r = self.srv.request("GET", "/dist/app.css", headers={"If-None-Match": etag})
            self.assertEqual((r.status, r.body), (200, b"body{margin:1px}"))
            self.assertNotEqual(r.headers["etag"], etag)
        finally:
            with open(path, "wb") as f:
                f.write(TREE["dist/app.css"])


if __name__ == "__main__":
    unittest.main()
