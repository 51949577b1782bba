"""patrols_load.py URL TOKEN DB UNITS - the load of bench_patrols.sh (stdlib only): prints
`name value` lines."""
import http.client
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse

URL, TOKEN, DB, N = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
HOST = os.environ["PATROLD_TEST_PGHOST"]
P = (119.163509, 34.572274)
M_LON, M_LAT = 1 / (111320 * math.cos(math.radians(P[1]))), 1 / 110540
T0 = (int(time.time()) // 60) * 60 - 3 * 3600
PLANS, TARGETS_PER_PLAN = 10, 100


def sql(q):
    return subprocess.run(["psql", "-h", HOST, "-U", "postgres", "-d", DB, "-X", "-q", "-At", "-c", q],
                          check=True, capture_output=True, text=True).stdout.strip()


def conn():
    u = urllib.parse.urlparse(URL)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def request(c, method, path, body):
    c.request(method, path, json.dumps(body), {"Authorization": "Bearer " + TOKEN,
                                                "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def at(k, s):
    """unit k's position s seconds into the hour: a line 1.2 m/s east, units 200 m apart north."""
    return P[0] + (s * 1.2) * M_LON, P[1] + (k * 200) * M_LAT


def units(prefix):
    return [int(x) for x in sql(
        "WITH u AS (INSERT INTO units (name, station_id, division_code) SELECT '%s' || g, s.id, s.division_code"
        " FROM generate_series(1, %d) g, (SELECT id, division_code FROM stations WHERE division_code ="
        " '320706000000' ORDER BY id LIMIT 1) s RETURNING id) SELECT string_agg(id::text, ',' ORDER BY id) FROM u"
        % (prefix, N)).split(",")]


def post_all(ids):
    """Every unit's hour (a fix every 10 s) in batches of 100, 4 connections. Returns fixes/s."""
    jobs = [(k, u, b) for k, u in enumerate(ids) for b in range(0, 3600, 1000)]
    lock, done = threading.Lock(), [0]

    def worker():
        c = conn()
        while True:
            with lock:
                if not jobs:
                    return
                k, u, b = jobs.pop()
            pts = [{"location": dict(zip(("lon", "lat"), at(k, s))), "at": iso(T0 + s)}
                   for s in range(b, min(b + 1000, 3600), 10)]
            request(c, "POST", "/api/v1/units/%d/positions" % u, {"positions": pts})
            with lock:
                done[0] += len(pts)
    t = time.time()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for x in threads:
        x.start()
    for x in threads:
        x.join()
    return done[0] / (time.time() - t)


def main():
    free, planned = units("free"), units("planned")
    c = conn()
    per = max(1, len(planned) // PLANS)
    for p in range(PLANS):
        mine = planned[p * per:(p + 1) * per]
        targets = [{"area": {"point": dict(zip(("lon", "lat"), at(p * per + (i % per), (i * 36) % 3600))),
                             "radius_m": 50}, "visits_per_week": 1, "min_dwell_min": 1}
                   for i in range(TARGETS_PER_PLAN)]
        request(c, "POST", "/api/v1/patrol-plans", {
            "name": "bench %d" % p, "division_code": "320706", "unit_ids": mine,
            "windows": [{"starts_at": iso(T0), "ends_at": iso(T0 + 3600)}], "targets": targets})
    deadline = time.time() + 60
    while sql("SELECT count(*) FROM patrol_dirty") != "0" and time.time() < deadline:
        time.sleep(0.05)   # the plans' own first scoring done before the load
    base = post_all(free)
    scored = post_all(planned)
    landed = time.time()
    while sql("SELECT count(*) FROM patrol_dirty") != "0" and time.time() < deadline + 60:
        time.sleep(0.02)
    lag = time.time() - landed
    visits = sql("SELECT count(*) FROM patrol_visits")
    print("patrols_units_each_side %d" % N)
    print("patrols_targets %d" % (PLANS * TARGETS_PER_PLAN))
    print("patrols_ingest_fixes_per_s_no_plans %.0f" % base)
    print("patrols_ingest_fixes_per_s_scored %.0f" % scored)
    print("patrols_ingest_ratio_scored_vs_none %.3f" % (scored / base))
    print("patrols_scored_after_last_fix_s %.2f" % lag)
    print("patrols_visits_stored %s" % visits)


main()
