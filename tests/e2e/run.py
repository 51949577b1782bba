"""run.py - the browser suite: a fresh seeded database and a real patrold (tests/integration/harness.py)
for each test file, which drives Debian's chromium through playwright-core against it:
console.test.mjs (the dispatcher console), admin.test.mjs (its administration pages) and app.test.mjs (the patrol app at /app/, reached through a
TCP proxy the test cuts and spoils, with a server it stops and starts: tests/integration/tcpproxy.py and
a control server). Prints the steps and `RESULT <passed> <failed> <skipped>` like the integration
runner. stats.test.mjs (the statistics page, as the supervisor), shift.test.mjs (a dispatcher's
shift: the report panel, its actions, the alerts) and history.test.mjs (history, track replay, phone
intake, layout), search.test.mjs (place search ranking the dispatcher's division first, over
a fixture of namesakes) and patrols.test.mjs (joint patrols: the plan page, the ledger layer,
campaign figures) get a database and a server of their own."""
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
import tcpproxy  # noqa: E402


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


def run_node(test, env, timeout):
    """Runs a test file; its output (a TIMEOUT line when it overran)."""
    try:
        r = subprocess.run(["node", os.path.join(HERE, test)], env=env, capture_output=True, text=True,
                           timeout=timeout)
        return r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return out + "\nTIMEOUT"


def counts(out):
    m = re.search(r"^E2E (\d+) passed, (\d+) failed$", out, re.M)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 1)


def tiles_drawn(asked, folder, what, p, f):
    """Counts the check that the stand-in tile server was asked for tiles under /<folder>/: the
    passed and failed counts with it."""
    drawn = sum(bool(re.match(r"^/%s/\d+/\d+/\d+\.png$" % folder, a)) for a in asked)
    print("%s %s was drawn: %d tiles asked" % ("ok  " if drawn else "FAIL", what, drawn))
    return (p + 1, f) if drawn else (p, f + 1)


def run_suite(script, timeout_s, out_dir, db, servers, env=None, drawn=None):
    """Runs test file `script` against servers[0] (PATROLD_URL; env: more of the test's environment),
    then stops the servers and drops db. drawn: (asked, folder, what) of a stand-in tile server
    whose tiles the page must have drawn. Returns the passed and failed counts."""
    try:
        test_env = dict(os.environ, PATROLD_URL="http://127.0.0.1:%d" % servers[0].port, E2E_OUT=out_dir, **(env or {}))
        out = run_node(script, test_env, timeout_s)
    finally:
        for s in reversed(servers):
            s.stop()
        log = servers[0].log_text()
        db.drop()
    print(out)
    p, f = counts(out)
    if drawn:
        p, f = tiles_drawn(*drawn, p, f)
    if f:
        print("--- patrold log (tail)\n" + log[-3000:])
    return p, f


def console_suite(out_dir):
    db = harness.fresh_db()
    tiles, asked = basemap_server()
    basemap = "http://127.0.0.1:%d/base/{z}/{x}/{y}.png" % tiles.server_address[1]
    srv = harness.Server(db, env={"PATROLD_WEB_ROOT": os.path.join(ROOT, "web"), "PATROLD_BASEMAP_URL": basemap})
    # the page draws the configured external base map (its own origin, allowed by the page's policy)
    try:
        return run_suite("console.test.mjs", int(os.environ.get("E2E_TIMEOUT", "300")), out_dir, db, [srv],
                         {"E2E_BASEMAP": "http://127.0.0.1:%d/base/" % tiles.server_address[1]},
                         (asked, "base", "the external base map (basemap_url)"))
    finally:
        tiles.shutdown()


def page_suite(script, timeout_s, out_dir, env=None):
    """A console page's browser test (admin.test.mjs, stats.test.mjs, shift.test.mjs): its own
    database and server (with the settings in env)."""
    db = harness.fresh_db()
    srv = harness.Server(db, env=dict({"PATROLD_WEB_ROOT": os.path.join(ROOT, "web")}, **(env or {})))
    return run_suite(script, timeout_s, out_dir, db, [srv])


def admin_suite(out_dir):
    """The console's administration pages, as the admin of a fresh database."""
    return page_suite("admin.test.mjs", int(os.environ.get("E2E_ADMIN_TIMEOUT", "180")), out_dir)


APP_SHELL_LIMIT = 300 * 1024  # the app shell, gzipped, without the map chunk (issue 19)


def app_shell_size():
    """Bytes of the app shell as a phone downloads it (gzip -9), without the lazy map chunk."""
    d = os.path.join(ROOT, "web", "dist", "app")
    total, files = 0, []
    for base, _, names in os.walk(d):
        for n in names:
            rel = os.path.relpath(os.path.join(base, n), d)
            if rel.endswith(".map") or rel.startswith("chunks" + os.sep + "map-"):
                continue
            with open(os.path.join(base, n), "rb") as f:
                total += len(zlib.compress(f.read(), 9))
            files.append(rel)
    return total, sorted(files)


def app_suite(out_dir):
    """The patrol app: its server behind a TCP proxy, and a control server through which the test
    spoils the proxy, stops and starts the server and reads the database."""
    db = harness.fresh_db()
    srv = harness.Server(db, env={"PATROLD_WEB_ROOT": os.path.join(ROOT, "web")})
    proxy = tcpproxy.TcpProxy(srv.port)

    def start(_):
        srv.start()
        return {"port": srv.port}

    routes = dict(tcpproxy.proxy_routes(proxy), **{
        "/server/kill": lambda _: {"rc": srv.proc.kill() or srv.proc.wait()},
        "/server/start": start,
        "/sql": lambda b: db.sql(b["sql"]),
    })
    control = tcpproxy.control_server(routes)
    try:
        env = dict(os.environ, PATROLD_URL="http://127.0.0.1:%d" % srv.port, E2E_OUT=out_dir,
                   APP_URL="http://127.0.0.1:%d" % proxy.port,
                   E2E_CONTROL="http://127.0.0.1:%d" % control.server_address[1])
        out = run_node("app.test.mjs", env, int(os.environ.get("E2E_APP_TIMEOUT", "480")))
    finally:
        control.shutdown()
        proxy.close()
        srv.stop()
        log = srv.log_text()
        db.drop()
    print(out)
    p, f = counts(out)
    size, files = app_shell_size()
    ok = 0 < size < APP_SHELL_LIMIT
    print("%s the app shell is %.1f KB gzipped without the map (limit %d KB): %s"
          % ("ok  " if ok else "FAIL", size / 1024, APP_SHELL_LIMIT // 1024, " ".join(files)))
    print("measured: app shell %.1f KB gzipped (%d files)" % (size / 1024, len(files)))
    p, f = (p + 1, f) if ok else (p, f + 1)
    if f:
        print("--- patrold log (tail)\n" + log[-3000:])
    return p, f


def stats_suite(out_dir):
    """The statistics page."""
    return page_suite("stats.test.mjs", int(os.environ.get("E2E_TIMEOUT", "300")), out_dir)


def shift_suite(out_dir):
    """A dispatcher's shift (issue 20): a town station has 2 s to acknowledge (a report is soon
    overdue), a county 200 s (a countdown in its last minutes), and nothing escalates by itself."""
    return page_suite("shift.test.mjs", int(os.environ.get("E2E_TIMEOUT", "300")), out_dir,
                      {"PATROLD_ACK_TOWN_S": "2", "PATROLD_ACK_COUNTY_S": "200",
                       "PATROLD_ESCALATE_INTERVAL_MS": "600000"})


def history_suite(out_dir):
    """The console for a shift (issue 20): history, track replay, phone intake, layout. A server
    without a base map (the admin is told), and beside it, on the same database, one whose base map
    is a GCJ-02 raster (setting `gcj02:<template>`, tiles from a stand-in here): the console asks
    our own tiles with ?crs=gcj02 there (E2E_GCJ_URL)."""
    db = harness.fresh_db()
    web = {"PATROLD_WEB_ROOT": os.path.join(ROOT, "web")}
    srv = harness.Server(db, env=web)
    tiles, asked = basemap_server()
    gcj = harness.Server(db, env=dict(web, PATROLD_BASEMAP_URL="gcj02:http://127.0.0.1:%d/gcj/{z}/{x}/{y}.png"
                                      % tiles.server_address[1]))
    try:
        return run_suite("history.test.mjs", int(os.environ.get("E2E_TIMEOUT", "300")), out_dir, db, [srv, gcj],
                         {"E2E_GCJ_URL": "http://127.0.0.1:%d" % gcj.port}, (asked, "gcj", "the GCJ-02 base map"))
    finally:
        tiles.shutdown()


# Namesakes of the seeded city's names (issue 20), as the national list holds them: 鼓楼区 of 南京
# and of 福州 beside 海州区's 鼓楼社区, 海州区 of 辽宁阜新 beside 连云港's (no boundaries, as there).
NAMESAKES = [("210000000000", "辽宁省", "province", None), ("210900000000", "阜新市", "city", "210000000000"),
             ("210902000000", "海州区", "county", "210900000000"),
             ("320100000000", "南京市", "city", "320000000000"), ("320106000000", "鼓楼区", "county", "320100000000"),
             ("350000000000", "福建省", "province", None), ("350100000000", "福州市", "city", "350000000000"),
             ("350102000000", "鼓楼区", "county", "350100000000")]


def search_suite(out_dir):
    """Place search that knows where the dispatcher is (issue 20): the seeded city and a few
    namesakes (NAMESAKES), loaded before the server builds its gazetteer."""
    db = harness.fresh_db()
    for row in NAMESAKES:
        db.sql("INSERT INTO divisions (code, name, level, parent_code) VALUES (%s, %s, %s, %s)", *row)
    srv = harness.Server(db, env={"PATROLD_WEB_ROOT": os.path.join(ROOT, "web")})
    codes = ",".join(c for c, _, level, _ in NAMESAKES if level == "county")
    return run_suite("search.test.mjs", int(os.environ.get("E2E_TIMEOUT", "120")), out_dir, db, [srv],
                     {"E2E_NAMESAKES": codes})


def patrols_suite(out_dir):
    """Joint patrols (issue 18): a plan made on the 巡查计划 page, the ledger layer turned by the live
    scorer when the units' tracks arrive, the campaign summary page."""
    return page_suite("patrols.test.mjs", int(os.environ.get("E2E_TIMEOUT", "300")), out_dir)


def main():
    out_dir = os.path.join(ROOT, os.environ.get("BUILD", "build"), "e2e")
    os.makedirs(out_dir, exist_ok=True)
    only = sys.argv[1:]  # e.g. `run.py app admin`: those suites
    p = f = 0
    for name, suite in (("console", console_suite), ("admin", admin_suite), ("app", app_suite),
                        ("stats", stats_suite), ("shift", shift_suite), ("history", history_suite),
                        ("search", search_suite), ("patrols", patrols_suite)):
        if only and name not in only:
            continue
        sp, sf = suite(out_dir)
        p, f = p + sp, f + sf
    print("RESULT %d %d 0" % (p, f))


if __name__ == "__main__":
    main()
