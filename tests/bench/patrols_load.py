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
HOURS, SLICE = float(sys.argv[5]), int(sys.argv[6])   # the window's length; one pass's seconds
HOST = os.environ["PATROLD_TEST_PGHOST"]
P = (119.163509, 34.572274)
M_LON, M_LAT = 1 / (111320 * math.cos(math.radians(P[1]))), 1 / 110540
WIN = int(HOURS * 3600)
T0 = (int(time.time()) // 60) * 60 - WIN - 120   # the window [T0, T0 + WIN) has ended
HIST = WIN - 3 * SLICE                           # stored before the passes; three slices posted
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
    """unit k's position s seconds into the window: a line 1.2 m/s east, units 200 m apart north."""
    return P[0] + (s * 1.2) * M_LON, P[1] + (k * 200) * M_LAT


def units(prefix):
    return [int(x) for x in sql(
        "WITH u AS (INSERT INTO units (name, station_id, division_code) SELECT '%s' || g, s.id, s.division_code"
        " FROM generate_series(1, %d) g, (SELECT id, division_code FROM stations WHERE division_code ="
        " '320706000000' ORDER BY id LIMIT 1) s RETURNING id) SELECT string_agg(id::text, ',' ORDER BY id) FROM u"
        % (prefix, N)).split(",")]


def preload(ids):
    """Every unit's fixes of [T0, T0 + HIST) (unit k of ids on line k, as post_all) stored straight (as if posted earlier and scored: the
    triggers off), so the passes land at the end of a full window."""
    sql("SELECT unit_positions_ensure(to_timestamp(%d)::date - 1, current_date + 1)" % T0)
    sql("SET session_replication_role = replica; INSERT INTO unit_positions (unit_id, at, geom)"
        " SELECT u.id, to_timestamp(%d + s), ST_SetSRID(ST_MakePoint(%.9f + s * 1.2 * %.12f,"
        " %.9f + (u.k - 1) * 200 * %.12f), 4326) FROM unnest('{%s}'::bigint[]) WITH ORDINALITY u(id, k),"
        " generate_series(0, %d, 10) s; ANALYZE unit_positions"
        % (T0, P[0], M_LON, P[1], M_LAT, ",".join(map(str, ids)), HIST - 10))


def post_all(ids, s0):
    """Every unit's fixes of [T0 + s0, T0 + s0 + SLICE) (a fix every 10 s), in time order, one
    batch of at most 100 per request, 4 connections. Returns fixes/s."""
    jobs = [(k, u, b) for k, u in enumerate(ids) for b in range(s0, s0 + SLICE, 1000)]
    jobs.reverse()
    lock, done = threading.Lock(), [0]

    def worker():
        c = conn()
        while True:
            with lock:
                if not jobs:
                    return
                k, u, b = jobs.pop()
            pts = [{"location": dict(zip(("lon", "lat"), at(k, s))), "at": iso(T0 + s)}
                   for s in range(b, min(b + 1000, s0 + SLICE), 10)]
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


def settled(limit):
    """Seconds until every noted change is scored (patrol_dirty empty), polled every 20 ms."""
    t = time.time()
    while sql("SELECT count(*) FROM patrol_dirty") != "0" and time.time() < t + limit:
        time.sleep(0.02)
    return time.time() - t


ORACLE = """WITH f AS (SELECT unit_id, at, geom, lag(at) OVER w AS at0, lag(geom) OVER w AS g0
 FROM unit_positions WHERE unit_id IN (SELECT unit_id FROM patrol_plan_units WHERE plan_id =
 (SELECT min(id) FROM patrol_plans)) AND at >= to_timestamp(%d)
 AND at < to_timestamp(%d) AND NOT flagged WINDOW w AS (PARTITION BY unit_id ORDER BY at)),
 s AS (SELECT f.unit_id, extract(epoch FROM f.at - f.at0) AS dt, ST_Transform(ST_MakeLine(f.g0, f.geom), 4549)
 AS seg FROM f WHERE f.g0 IS NOT NULL AND f.at - f.at0 < interval '%d seconds'),
 a AS MATERIALIZED (SELECT t.id, t.plan_id, ST_Transform(t.geom, 4549) AS area FROM patrol_targets t)
 SELECT count(*), round(sum(dt * ST_Length(ST_Intersection(s.seg, a.area)) / ST_Length(s.seg))::numeric)
 FROM s JOIN patrol_plan_units pu ON pu.unit_id = s.unit_id JOIN a ON a.plan_id = pu.plan_id
 AND ST_Intersects(s.seg, a.area) WHERE ST_Length(s.seg) > 0"""


def main():
    free, planned = units("free"), units("planned")
    c = conn()
    per = max(1, len(planned) // PLANS)
    for p in range(PLANS):
        mine = planned[p * per:(p + 1) * per]
        targets = [{"area": {"point": dict(zip(("lon", "lat"), at(p * per + (i % per), (i * WIN // 100) % WIN))),
                             "radius_m": 50}, "visits_per_week": 1, "min_dwell_min": 1}
                   for i in range(TARGETS_PER_PLAN)]
        request(c, "POST", "/api/v1/patrol-plans", {
            "name": "bench %d" % p, "division_code": "320706", "unit_ids": mine,
            "windows": [{"starts_at": iso(T0), "ends_at": iso(T0 + WIN)}], "targets": targets})
    t = time.time()
    preload(free), preload(planned)
    loaded = time.time() - t
    first = settled(300)   # the plans' own first scoring (of the stored history) done before the load
    post_all(free, HIST), post_all(planned, HIST)   # warm-up (connections, caches), not counted
    warm = settled(300)
    # ABBA: without plans, with, with, without; each side's slices in time order
    a1 = post_all(free, HIST + SLICE)
    b1 = post_all(planned, HIST + SLICE)
    lag1 = settled(300)
    b2 = post_all(planned, HIST + 2 * SLICE)
    lag2 = settled(300)
    a2 = post_all(free, HIST + 2 * SLICE)
    visits = sql("SELECT count(*) FROM patrol_visits WHERE plan_id = (SELECT min(id) FROM patrol_plans)")
    stored = sql("SELECT round(sum(dwell_s)) FROM patrol_visits WHERE plan_id = (SELECT min(id) FROM patrol_plans)")
    print("patrols_units_each_side %d" % N)
    print("patrols_targets %d" % (PLANS * TARGETS_PER_PLAN))
    print("patrols_window_hours %g" % HOURS)
    print("patrols_fixes_per_window_of_plans %d" % (N * WIN // 10))
    print("patrols_preload_s %.1f" % loaded)
    print("patrols_first_scoring_s %.2f warm_up_pass_scored_after_s %.2f" % (first, warm))
    print("patrols_ingest_fixes_per_s_no_plans %.0f %.0f" % (a1, a2))
    print("patrols_ingest_fixes_per_s_scored %.0f %.0f" % (b1, b2))
    print("patrols_ingest_ratio_scored_vs_none %.3f" % ((b1 + b2) / (a1 + a2)))
    print("patrols_scored_after_last_fix_s %.2f %.2f" % (lag1, lag2), flush=True)
    # the oracle on the first plan's window (a tenth of the work; 10 x its time for all plans)
    t = time.time()
    oracle = sql(ORACLE % (T0, T0 + WIN, 60))
    oracle_s = time.time() - t
    print("patrols_oracle_postgis_one_plan_s %.2f" % oracle_s)
    print("patrols_oracle_all_plans_vs_scored_after_last_fix %.1f" % (10 * oracle_s / max(lag2, 0.01)))
    print("patrols_oracle_segments_inside_s %s (first plan)" % oracle.replace("|", " "))
    print("patrols_visits_stored %s dwell_s %s (first plan: the oracle's inside_s on the same tracks)"
          % (visits, stored))

main()
