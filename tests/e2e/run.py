"""run.py - the browser suite: a fresh seeded database and a real patrold (tests/integration/harness.py),
then console.test.mjs drives Debian's chromium through playwright-core against it; stats.test.mjs (the
statistics page, as the supervisor) gets a database and a server of its own. Prints the steps and
`RESULT <passed> <failed> <skipped>` like the integration runner."""
import http.server
import os
import re
import struct
import subprocess
import sys
import threading
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402


def png():
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0\xee\xee\xdd")) + chunk(b"IEND", b""))


def basemap_server():
    """A stand-in external base map on loopback (another origin): any path is a PNG tile; the paths
    asked for are kept, so the browser's use of the setting basemap_url can be checked."""
    asked = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            body = png()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")  # as public tile servers do
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, asked


def main():
    out_dir = os.path.join(ROOT, os.environ.get("BUILD", "build"), "e2e")
    os.makedirs(out_dir, exist_ok=True)
    db = harness.fresh_db()
    tiles, asked = basemap_server()
    basemap = "http://127.0.0.1:%d/base/{z}/{x}/{y}.png" % tiles.server_address[1]
    srv = harness.Server(db, env={"PATROLD_WEB_ROOT": os.path.join(ROOT, "web"), "PATROLD_BASEMAP_URL": basemap})
    try:
        env = dict(os.environ, PATROLD_URL="http://127.0.0.1:%d" % srv.port, E2E_OUT=out_dir,
                   E2E_BASEMAP="http://127.0.0.1:%d/base/" % tiles.server_address[1])
        r = subprocess.run(["node", os.path.join(HERE, "console.test.mjs")], env=env, capture_output=True,
                           text=True, timeout=int(os.environ.get("E2E_TIMEOUT", "300")))
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or "") if isinstance(e.stdout, str) else ""
        out += "\nTIMEOUT"
    finally:
        srv.stop()
        log = srv.log_text()
        db.drop()
    tiles.shutdown()
    print(out)
    m = re.search(r"^E2E (\d+) passed, (\d+) failed$", out, re.M)
    p, f = (int(m.group(1)), int(m.group(2))) if m else (0, 1)
    # the page drew the configured external base map (its own origin, allowed by the page's policy)
    drawn = sum(bool(re.match(r"^/base/\d+/\d+/\d+\.png$", a)) for a in asked)
    print("%s the external base map (basemap_url) was drawn: %d tiles asked" % ("ok  " if drawn else "FAIL", drawn))
    p, f = (p + 1, f) if drawn else (p, f + 1)
    if f:
        print("--- patrold log (tail)\n" + log[-3000:])
    sp, sf = stats_suite(out_dir)
    print("RESULT %d %d 0" % (p + sp, f + sf))


def stats_suite(out_dir):
    """The statistics page: its own database and server."""
    db = harness.fresh_db()
    srv = harness.Server(db, env={"PATROLD_WEB_ROOT": os.path.join(ROOT, "web")})
    try:
        env = dict(os.environ, PATROLD_URL="http://127.0.0.1:%d" % srv.port, E2E_OUT=out_dir)
        r = subprocess.run(["node", os.path.join(HERE, "stats.test.mjs")], env=env, capture_output=True, text=True,
                           timeout=int(os.environ.get("E2E_TIMEOUT", "300")))
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")) + "\nTIMEOUT"
    finally:
        srv.stop()
        log = srv.log_text()
        db.drop()
    print(out)
    m = re.search(r"^E2E (\d+) passed, (\d+) failed$", out, re.M)
    p, f = (int(m.group(1)), int(m.group(2))) if m else (0, 1)
    if f:
        print("--- patrold log (tail)\n" + log[-3000:])
    return p, f


if __name__ == "__main__":
    main()
