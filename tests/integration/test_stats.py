"""test_stats.py - figures for the bureau (issue 21): GET /api/v1/stats, the monthly report, the
Chinese CSV, coverage and patrol figures.

A month (November 2026, the city's days) of reports in two counties is written with known receipt
and event times, outcomes, escalations and people (and reports just outside the month, in the city's
time zone); every figure of /api/v1/stats for the city and both counties, in total and per grouping,
is checked against a recount made here from reports and report_events (SQL and Python written
independently of the service's facts); following each figure's `records` (every page) gives
exactly its count; the monthly report is read with openpyxl (another stack): sheet names, Chinese
headers, Excel dates, totals equal to /api/v1/stats."""
import collections
import datetime
import io
import json
import math
import random
import subprocess
import time
import unittest
import urllib.parse
import uuid

import harness

CST = datetime.timezone(datetime.timedelta(hours=8))
MONTH = "2026-11"
START = datetime.datetime(2026, 11, 1, tzinfo=CST)
END = datetime.datetime(2026, 12, 1, tzinfo=CST)
HZ, GN, CITY = "320706", "320724", "3207"
OUTCOMES = ["admitted_to_station", "escorted_home", "sent_to_hospital", "refused_help", "not_found",
            "handed_to_police"]
CATEGORIES = ["vagrant", "beggar", "lost_elderly", "minor", "mental_illness", "injured_or_ill", "other"]
# the lifecycles generated: events after receipt, and the final status
SCENARIOS = {
    "resolved": (["acknowledge", "dispatch", "arrive", "resolve"], "resolved"),
    "resolved_direct": (["dispatch", "arrive", "resolve"], "resolved"),
    "resolved_no_arrive": (["acknowledge", "dispatch", "resolve"], "resolved"),
    "cancelled_new": (["cancel"], "cancelled"),
    "cancelled_ack": (["acknowledge", "cancel"], "cancelled"),
    "cancelled_on_scene": (["acknowledge", "dispatch", "arrive", "cancel"], "cancelled"),
    "duplicate": (["acknowledge", "mark_duplicate"], "duplicate"),
    "open_new": ([], "new"),
    "open_ack": (["acknowledge"], "acknowledged"),
    "open_dispatched": (["acknowledge", "dispatch"], "dispatched"),
    "open_on_scene": (["dispatch", "arrive"], "on_scene"),
}
WEIGHTS = {"resolved": 10, "resolved_direct": 3, "resolved_no_arrive": 3, "cancelled_new": 2,
           "cancelled_ack": 2, "cancelled_on_scene": 1, "duplicate": 2, "open_new": 2, "open_ack": 2,
           "open_dispatched": 2, "open_on_scene": 2}
TO_STATUS = {"acknowledge": "acknowledged", "dispatch": "dispatched", "arrive": "on_scene",
             "resolve": "resolved", "cancel": "cancelled", "mark_duplicate": "duplicate"}


def iso(t):
    return t.isoformat()


def q(v):
    return harness.lit(v)


def report_sql(rnd, county, comm, stations, received, scenario, esc):
    """The SQL that writes one report with its events, then moves it to its final status."""
    code, town, lon, lat = comm
    cid = str(uuid.uuid4())
    steps, final = SCENARIOS[scenario]
    tier, station = ("town", stations[town]) if town in stations else ("county", stations[county])
    events, t, status = [], received, "new"
    for n, from_tier in enumerate(esc):  # deadline escalations first (before any acknowledgement)
        t = t + datetime.timedelta(seconds=600 + 300 * n)
        to_tier, to_station = ("county", stations[county]) if from_tier == "town" else ("city", stations["city"])
        details = {"from_tier": from_tier, "to_tier": to_tier, "reason": "ack_deadline_passed"}
        events.append(("escalated", t, status, status, details))
        tier, station = to_tier, to_station
    if rnd.random() < 0.1 and tier != "city":  # a manual escalation: not a deadline
        t = t + datetime.timedelta(seconds=120)
        events.append(("escalated", t, status, status, {"from_tier": tier, "to_tier": "city"}))
        tier, station = "city", stations["city"]
    for step in steps:
        t = t + datetime.timedelta(seconds=rnd.randint(20, 3000))
        events.append((step, t, status, TO_STATUS[step], {}))
        status = TO_STATUS[step]
    outcome = rnd.choice(OUTCOMES) if final == "resolved" else None
    values = ", ".join("(%s, %s::timestamptz, %s, %s, %s::jsonb)" % (q(e[0]), q(iso(e[1])), q(e[2]), q(e[3]),
                                                                      q(json.dumps(e[4]))) for e in events)
    sql = ("WITH r AS (INSERT INTO reports (client_id, category, status, geom, observed_at, received_at,"
           " updated_at, people_count, city_code, county_code, town_code, community_code, station_id, tier)"
           " VALUES (%s, %s, 'new', ST_SetSRID(ST_MakePoint(%r, %r), 4326), %s, %s, %s, %d, '320700000000',"
           " %s, %s, %s, %d, %s) RETURNING id)" % (
               q(cid), q(rnd.choice(CATEGORIES)), lon, lat, q(iso(received)), q(iso(received)), q(iso(received)),
               rnd.randint(1, 4), q(county + "000000"), q(town), q(code), station, q(tier)))
    if events:
        sql += (" INSERT INTO report_events (report_id, type, actor, at, from_status, to_status, details)"
                " SELECT r.id, v.t, 'test', v.at, v.f, v.s, v.d FROM r, (VALUES %s) v(t, at, f, s, d);" % values)
    else:
        sql += " SELECT 1 FROM r;"
    sql += (" UPDATE reports SET status = %s, outcome = %s, updated_at = %s WHERE client_id = %s;"
            % (q(final), q(outcome), q(iso(t)), q(cid)))
    return sql


def month_data(db):
    """Writes the month: ~150 reports in 海州区 and 灌南县, and four just outside or inside its edges."""
    rnd = random.Random(21)
    stations = {"city": db.value("SELECT id FROM stations WHERE tier = 'city'")}
    for row in db.sql("SELECT id, division_code FROM stations WHERE tier IN ('county', 'town')"):
        stations[row["division_code"]] = row["id"]
    for c in (HZ, GN):  # county keys by prefix too
        stations[c] = stations[c + "000000"]
    comms = {c: [(r["code"], r["town"], r["lon"], r["lat"]) for r in db.sql(
        "SELECT code, left(code, 9) || '000' AS town, ST_X(ST_PointOnSurface(geom)) AS lon,"
        " ST_Y(ST_PointOnSurface(geom)) AS lat FROM divisions WHERE level = 'community' AND code LIKE %s"
        " ORDER BY code", c + "%")] for c in (HZ, GN)}
    scen = [s for s, w in WEIGHTS.items() for _ in range(w)]
    parts = []
    edges = [START - datetime.timedelta(seconds=1), START, END - datetime.timedelta(seconds=1), END,
             datetime.datetime(2026, 11, 1, 7, 0, tzinfo=CST)]  # 7:00 local is still 31 October in UTC
    for i in range(150 + len(edges)):
        county = HZ if i % 5 < 3 else GN
        received = edges[i - 150] if i >= 150 else START + datetime.timedelta(seconds=rnd.randint(0, 30 * 86400 - 1))
        esc = rnd.choice([[], [], [], ["town"], ["town", "county"]])
        parts.append(report_sql(rnd, county, rnd.choice(comms[county]), stations, received, rnd.choice(scen), esc))
    psql_script(db, "BEGIN;\n" + "\n".join(parts) + "\nCOMMIT;\nANALYZE;\n")  # as autovacuum would


def psql_script(db, sql):
    """Runs a long SQL script (too long for a command-line argument) on db."""
    r = subprocess.run(["psql", "-h", harness._pghost(), "-U", "postgres", "-d", db.name, "-X", "-q", "-At",
                        "-v", "ON_ERROR_STOP=1", "-f", "-"], input=sql, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("psql failed: %s" % r.stderr[:2000])


# ---- the independent recount ----

RECOUNT_SQL = """
SELECT r.id, r.county_code, r.town_code, r.station_id, r.tier, r.category, r.status, r.outcome,
       r.people_count AS people, extract(epoch FROM r.received_at)::float8 AS rec,
       to_char(r.received_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day,
       to_char(r.received_at AT TIME ZONE 'Asia/Shanghai', 'IYYY-"W"IW') AS week,
       to_char(r.received_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month,
       coalesce((SELECT json_agg(json_build_object('type', e.type, 'at', extract(epoch FROM e.at)::float8,
                 'reason', e.details ->> 'reason', 'from', e.details ->> 'from_tier'))
                 FROM report_events e WHERE e.report_id = r.id), '[]') AS ev
FROM reports r
WHERE r.received_at >= '2026-11-01T00:00:00+08:00' AND r.received_at < '2026-12-01T00:00:00+08:00'
"""


def times_of(row):
    """(ack, dispatch, on_scene, resolve) seconds after receipt of one report, or None each."""
    first = lambda types: min((e["at"] for e in row["ev"] if e["type"] in types), default=None)
    ack, dis, arr, res = first({"acknowledge", "dispatch"}), first({"dispatch"}), first({"arrive"}), first({"resolve"})
    if row["status"] != "resolved":
        res = None
    arr = arr if arr is not None else res
    return [None if t is None else round(t - row["rec"]) for t in (ack, dis, arr, res)]


POPULATION = {"ack_s": {"acknowledged", "dispatched", "on_scene", "resolved"},
              "dispatch_s": {"dispatched", "on_scene", "resolved"},
              "on_scene_s": {"on_scene", "resolved"}, "resolve_s": {"resolved"}}
TIMES = ["ack_s", "dispatch_s", "on_scene_s", "resolve_s"]


def pcont(values, p):
    v = sorted(values)
    if not v:
        return None
    h = (len(v) - 1) * p
    lo, hi = math.floor(h), math.ceil(h)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


def figures(rows):
    """Every figure of a list of report rows, as the reply should have them (counts and times)."""
    out = {"reports": len(rows), "people": sum(r["people"] for r in rows),
           "by_status": collections.Counter(r["status"] for r in rows),
           "by_outcome": collections.Counter(r["outcome"] for r in rows if r["outcome"]),
           "outcome_people": collections.Counter(),
           "escalations": 0, "from": collections.Counter()}
    for r in rows:
        if r["outcome"]:
            out["outcome_people"][r["outcome"]] += r["people"]
        tiers = {e["from"] for e in r["ev"] if e["type"] == "escalated" and e["reason"] == "ack_deadline_passed"}
        out["escalations"] += bool(tiers)
        for t in tiers:
            out["from"][t] += 1
    for k, name in enumerate(TIMES):
        vals = [times_of(r)[k] for r in rows if r["status"] in POPULATION[name]]
        assert None not in vals, "test data: a report in %s without its time" % name
        out[name] = (pcont(vals, 0.5), pcont(vals, 0.9), len(vals))
    return out


def group_key(by, r):
    return {"tier": r["tier"], "county": r["county_code"], "town": r["town_code"], "station": str(r["station_id"]),
            "category": r["category"], "week": r["week"], "day": r["day"], "month": r["month"]}[by]


def in_division(r, prefix):
    return (r["town_code"] or r["county_code"] or "").startswith(prefix)


class StatsMonth(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        month_data(cls.db)
        cls.srv = harness.Server(cls.db)
        cls.sup = cls.srv.login("supervisor")
        cls.rows = cls.db.sql(RECOUNT_SQL)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def stats(self, query, token=None, status=200):
        r = self.srv.request("GET", "/api/v1/stats?" + query, token=token or self.sup)
        self.assertEqual(r.status, status, r)
        return r.json()

    def check(self, got, want, where):
        self.assertEqual(got["reports"], want["reports"], where)
        self.assertEqual(got["people"], want["people"], where)
        for s, v in got["by_status"].items():
            self.assertEqual(v["reports"], want["by_status"][s], "%s status %s" % (where, s))
        for o, v in got["by_outcome"].items():
            self.assertEqual((v["reports"], v["people"]), (want["by_outcome"][o], want["outcome_people"][o]),
                             "%s outcome %s" % (where, o))
        self.assertEqual(got["escalations"]["reports"], want["escalations"], where)
        for t, v in got["escalations"]["from"].items():
            self.assertEqual(v["reports"], want["from"][t], "%s escalated from %s" % (where, t))
        for name in TIMES:
            p50, p90, n = want[name]
            self.assertEqual(got[name]["n"], n, "%s %s n" % (where, name))
            for key, w in (("p50", p50), ("p90", p90)):
                if w is None:
                    self.assertIsNone(got[name][key], "%s %s" % (where, name))
                else:
                    self.assertAlmostEqual(got[name][key], w, places=6, msg="%s %s %s" % (where, name, key))

    def test_the_month_holds_its_edges(self):
        """Receipt times at both edges of the month, in the city's zone: 00:00 of the 1st is in, the
        second before it and 00:00 of 1 December are out; 07:00 of the 1st (31 October in UTC) is in."""
        got = self.stats("division=3207&from=2026-11-01&to=2026-11-30")
        self.assertEqual(got["total"]["reports"], len(self.rows))
        self.assertEqual(len(self.rows), 153)
        self.assertEqual(got["period"], {"from": "2026-11-01T00:00:00+08:00", "to": "2026-12-01T00:00:00+08:00"})
        self.assertEqual((got["from"], got["to"]), ("2026-11-01", "2026-11-30"))
        october = self.stats("division=3207&from=2026-10-01&to=2026-10-31")
        self.assertEqual(october["total"]["reports"], 1)

    def test_every_figure_against_a_recount(self):
        for div in (CITY, HZ, GN):
            mine = [r for r in self.rows if in_division(r, div)]
            self.assertTrue(mine)
            for by in (None, "tier", "county", "town", "station", "category", "week", "day"):
                query = "division=%s&from=2026-11-01&to=2026-11-30&min_reports=1" % div
                got = self.stats(query + ("&by=" + by if by else ""))
                with self.subTest(division=div, by=by):
                    self.check(got["total"], figures(mine), "%s total" % div)
                    if not by:
                        self.assertEqual(got["groups"], [])
                        continue
                    want = collections.defaultdict(list)
                    for r in mine:
                        want[group_key(by, r)].append(r)
                    keys = [g["key"] for g in got["groups"]]
                    if by in ("week", "day"):  # every period, also those without reports
                        days = [datetime.date(2026, 11, d) for d in range(1, 31)]
                        periods = sorted({d.isoformat() if by == "day" else "%d-W%02d" % d.isocalendar()[:2]
                                          for d in days})
                        self.assertEqual(keys, periods)
                        self.assertTrue(set(want) <= set(keys))
                    else:
                        self.assertEqual(sorted(keys), sorted(want))
                    for g in got["groups"]:
                        self.check(g, figures(want.get(g["key"], [])), "%s by %s %s" % (div, by, g["key"]))

    def count_records(self, url):
        """How many reports the list query returns, every page."""
        n, cursor = 0, None
        for _ in range(100):
            r = self.srv.request("GET", url + "&limit=500" + ("&cursor=" + cursor if cursor else ""), token=self.sup)
            self.assertEqual(r.status, 200, (url, r))
            body = r.json()
            n += len(body["items"])
            cursor = body["next"]
            if not cursor:
                return n
        self.fail("more than 100 pages: %s" % url)

    def follow(self, fig, where):
        """Every count of one group's figures equals what its records return."""
        checks = [(fig["records"], fig["reports"], "reports")]
        checks += [(v["records"], v["reports"], "status " + k) for k, v in fig["by_status"].items() if v["reports"]]
        checks += [(v["records"], v["reports"], "outcome " + k) for k, v in fig["by_outcome"].items() if v["reports"]]
        checks += [(fig["escalations"]["records"], fig["escalations"]["reports"], "escalations")]
        checks += [(v["records"], v["reports"], "escalated from " + k)
                   for k, v in fig["escalations"]["from"].items() if v["reports"]]
        checks += [(fig[t]["records"], fig[t]["n"], t) for t in TIMES]
        for url, n, what in checks:
            self.assertTrue(url.startswith("/api/v1/reports?"), url)
            self.assertEqual(self.count_records(url), n, "%s %s: %s" % (where, what, url))

    def test_records_return_exactly_each_count(self):
        got = self.stats("division=3207&from=2026-11-01&to=2026-11-30&by=county&min_reports=1")
        self.follow(got["total"], "city")
        for g in got["groups"]:
            self.follow(g, g["key"])
        for by in ("tier", "week", "station"):
            got = self.stats("division=%s&from=2026-11-01&to=2026-11-30&by=%s&min_reports=1" % (HZ, by))
            for g in got["groups"]:
                self.assertEqual(self.count_records(g["records"]), g["reports"], (by, g["key"]))
            self.follow(got["groups"][0], "%s by %s" % (HZ, by))

    def test_rankings_leave_out_small_groups(self):
        got = self.stats("division=3207&from=2026-11-01&to=2026-11-30&by=town&min_reports=6")
        self.assertEqual(got["min_reports"], 6)
        self.assertTrue(got["left_out"], "no town under 6 reports: the test data should have some")
        for g in got["groups"]:
            self.assertGreaterEqual(g["reports"], 6)
        for g in got["left_out"]:
            self.assertLess(g["reports"], 6)
            self.assertEqual(g["reason"], "under_min_reports")
            self.assertEqual(self.count_records(g["records"]), g["reports"])
        self.assertEqual(sum(g["reports"] for g in got["groups"] + got["left_out"]), got["total"]["reports"])
        self.assertFalse({g["key"] for g in got["groups"]} & {g["key"] for g in got["left_out"]})
        weeks = self.stats("division=3207&from=2026-11-01&to=2026-11-30&by=week&min_reports=1000")
        self.assertEqual((weeks["min_reports"], weeks["left_out"]), (None, []))  # a trend is no ranking

    def test_labels_and_order(self):
        vocab = self.srv.request("GET", "/api/v1/vocabulary").json()
        tiers = [t["code"] for t in vocab["tiers"]]
        got = self.stats("division=3207&from=2026-11-01&to=2026-11-30&by=tier&min_reports=1")
        keys = [g["key"] for g in got["groups"]]
        self.assertEqual(keys, [t for t in tiers if t in keys])
        label = {t["code"]: t["label"] for t in vocab["tiers"]}
        self.assertEqual([g["label"] for g in got["groups"]], [label[k] for k in keys])
        got = self.stats("division=3207&from=2026-11-01&to=2026-11-30&by=county&min_reports=1")
        names = {r["code"]: r["name"] for r in self.db.sql("SELECT code, name FROM divisions WHERE level = 'county'")}
        self.assertEqual({g["key"]: g["label"] for g in got["groups"]}, {k: names[k] for k in (HZ + "000000", GN + "000000")})

    def test_roles_and_scope(self):
        tok = {w: self.srv.login(w) for w in ("dispatcher", "patrol", "admin")}
        self.assertEqual(self.srv.request("GET", "/api/v1/stats", token=tok["dispatcher"]).status, 403)
        self.assertEqual(self.srv.request("GET", "/api/v1/stats", token=tok["patrol"]).status, 403)
        self.assertEqual(self.srv.request("GET", "/api/v1/stats").status, 401)
        self.assertEqual(self.srv.request("GET", "/api/v1/stats?division=320724", token=tok["admin"]).status, 200)
        harness.run_patrold(["user", "add", "sup_hz", "--role", "supervisor", "--division", "320706"], self.db,
                            check=True, input="county-sup-pass-1\n")
        hz = self.srv.login("sup_hz", "county-sup-pass-1")
        mine = self.stats("from=2026-11-01&to=2026-11-30", token=hz)
        self.assertEqual(mine["division"]["code"], "320706000000")
        self.assertEqual(mine["total"]["reports"], len([r for r in self.rows if in_division(r, HZ)]))
        for path in ("/api/v1/stats?division=320724", "/api/v1/stats?division=3207",
                     "/api/v1/stats/monthly.xlsx?division=320724&month=2026-11",
                     "/api/v1/stats/coverage.geojson?division=320724",
                     "/api/v1/analysis/siting?division=320724"):
            r = self.srv.request("GET", path, token=hz)
            self.assertEqual((r.status, r.error), (404, "not_found"), path)

    def test_bad_input(self):
        cases = [("/api/v1/stats?from=2026-11-30&to=2026-11-01", "to"),
                 ("/api/v1/stats?from=2010-01-01&to=2026-11-30", "to"),
                 ("/api/v1/stats?from=2026-02-30", "from"),
                 ("/api/v1/stats?by=province", "by"),
                 ("/api/v1/stats?division=32070", "division"),
                 ("/api/v1/stats?min_reports=0", "min_reports"),
                 ("/api/v1/stats?by=day&from=2024-01-01&to=2026-11-30", "by"),
                 ("/api/v1/stats/monthly.xlsx?month=2026-13", "month"),
                 ("/api/v1/stats/monthly.xlsx", "month"),
                 ("/api/v1/analysis/siting?k=51", "k"),
                 ("/api/v1/analysis/siting?radius_m=5", "radius_m"),
                 ("/api/v1/analysis/siting?division=320706&candidate=119.31,34.08", "candidate")]
        for path, field in cases:
            r = self.srv.request("GET", path, token=self.sup)
            self.assertEqual(r.status, 400, (path, r))
            self.assertEqual(r.json()["error"]["field"], field, (path, r))

    def test_a_request_over_the_budget_is_refused_before_it_runs(self):
        with harness.Server(self.db, env={"PATROLD_STATS_MAX_REPORTS": "20",
                                          "PATROLD_SITING_MAX_REPORTS": "20"}) as small:
            tok = small.login("supervisor")
            for path in ("/api/v1/stats?from=2026-11-01&to=2026-11-30",
                         "/api/v1/stats/monthly.xlsx?month=2026-11",
                         "/api/v1/analysis/siting?from=2026-11-01&to=2026-11-30"):
                r = small.request("GET", path, token=tok)
                self.assertEqual((r.status, r.error), (400, "over_budget"), (path, r))
            # a period that holds fewer than the budget is answered
            r = small.request("GET", "/api/v1/stats?from=2026-11-01&to=2026-11-02", token=tok)
            self.assertEqual(r.status, 200, r)

    def test_facts_are_written_once_when_a_report_ends(self):
        """Through the API: the fact row appears when the report is resolved, with the times its JSON
        shows, and nothing changes it afterwards."""
        tok = self.srv.login("dispatcher")
        rep = self.srv.create_report({"client_id": str(uuid.uuid4()), "category": "minor",
                                      "location": {"lon": 119.163509, "lat": 34.572274},
                                      "observed_at": "2026-12-01T08:00:00+08:00", "people_count": 2}, tok)
        rid = rep["id"]
        for body in ({"type": "acknowledge"}, {"type": "dispatch", "unit_id": self.unit(tok, rid)},
                     {"type": "arrive"}):
            self.assertEqual(self.db.value("SELECT count(*) FROM report_facts WHERE report_id = %s", rid), 0)
            self.assert_open_fact(rid)  # the open report's row follows it (migration 0023)
            self.assertEqual(self.srv.request("POST", "/api/v1/reports/%d/events" % rid, body, token=tok).status, 200)
        self.assert_open_fact(rid)
        r = self.srv.request("POST", "/api/v1/reports/%d/events" % rid, {"type": "resolve", "outcome": "escorted_home"},
                             token=tok)
        self.assertEqual(r.status, 200, r)
        rep = r.json()
        fact = self.db.sql("SELECT * FROM report_facts WHERE report_id = %s", rid)[0]
        self.assertEqual(self.db.value("SELECT count(*) FROM report_open_facts WHERE report_id = %s", rid), 0)
        self.assertEqual((fact["status"], fact["outcome"], fact["people"], fact["category"]),
                         ("resolved", "escorted_home", 2, "minor"))
        rec = datetime.datetime.fromisoformat(rep["received_at"])
        for key, col in (("acknowledged_at", "ack_s"), ("dispatched_at", "dispatch_s"),
                         ("on_scene_at", "on_scene_s"), ("resolved_at", "resolve_s")):
            self.assertIsNotNone(rep[key], key)
            self.assertEqual(fact[col], round((datetime.datetime.fromisoformat(rep[key]) - rec).total_seconds()), key)

    def assert_open_fact(self, rid):
        """The open report's kept row equals its fact rebuilt now from the report and its events."""
        cols = ", ".join("f." + c for c in ("status", "ack_s", "dispatch_s", "on_scene_s", "resolve_s", "esc_from",
                                             "tier", "station_id", "people", "code", "received_at"))
        kept = self.db.sql("SELECT %s FROM report_open_facts f WHERE f.report_id = %%s" % cols, rid)
        now = self.db.sql("SELECT %s FROM reports r CROSS JOIN LATERAL report_fact(r) f WHERE r.id = %%s" % cols, rid)
        self.assertEqual(kept, now)
        self.assertEqual(len(kept), 1)

    def unit(self, tok, rid):
        return self.srv.request("GET", "/api/v1/reports/%d/candidates" % rid, token=tok).json()["items"][0]["unit_id"]

    def test_csv_in_chinese_with_the_times(self):
        tok = self.srv.login("dispatcher")
        base = "/api/v1/reports.csv?division=320706&received_from=2026-11-01T00:00:00%2B08:00" \
               "&received_to=2026-12-01T00:00:00%2B08:00"
        en = self.srv.request("GET", base, token=tok)
        zh = self.srv.request("GET", base + "&labels=zh", token=tok)
        self.assertEqual((en.status, zh.status), (200, 200))
        import csv
        en_rows = list(csv.reader(io.StringIO(en.body.decode("utf-8-sig"))))
        zh_rows = list(csv.reader(io.StringIO(zh.body.decode("utf-8-sig"))))
        self.assertEqual(len(en_rows), len(zh_rows))
        self.assertEqual(len(en_rows) - 1, len([r for r in self.rows if in_division(r, HZ)]))
        head = en_rows[0]
        for col in ("acknowledged_at", "dispatched_at", "on_scene_at", "resolved_at"):
            self.assertIn(col, head)
        for h in zh_rows[0]:
            self.assertRegex(h, "[\u4e00-\u9fff]", "a header without Chinese: %r" % h)
        vocab = self.srv.request("GET", "/api/v1/vocabulary").json()
        status_label = {t["code"]: t["label"] for t in vocab["statuses"]}
        i, a = head.index("status"), head.index("acknowledged_at")
        by_id = {int(r[0]): r for r in en_rows[1:]}
        for row in zh_rows[1:]:
            en_row = by_id[int(row[0])]
            self.assertEqual(row[i], status_label[en_row[i]])
            self.assertEqual(row[a], en_row[a])
        one = next(r for r in en_rows[1:] if r[a])
        rep = self.srv.request("GET", "/api/v1/reports/%s" % one[0], token=tok).json()
        self.assertEqual(one[a], rep["acknowledged_at"])

    def test_monthly_report_read_by_openpyxl(self):
        r = self.srv.request("GET", "/api/v1/stats/monthly.xlsx?division=3207&month=2026-11", token=self.sup)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("application/vnd.openxmlformats"))
        self.assertEqual(r.body[:2], b"PK")
        vocab = {t["code"]: t["label"] for t in self.srv.request("GET", "/api/v1/vocabulary").json()["stats_terms"]}
        stats = self.stats("division=3207&from=2026-11-01&to=2026-11-30&by=county&min_reports=1")
        # Debian's openpyxl under /usr/bin/python3: a reader from another stack
        script = r"""
import io, json, sys, datetime, openpyxl
wb = openpyxl.load_workbook(io.BytesIO(sys.stdin.buffer.read()))
out = {"sheets": wb.sheetnames, "frozen": [ws.freeze_panes for ws in wb.worksheets]}
out["rows"] = {ws.title: [[c.value.isoformat() if isinstance(c.value, datetime.datetime) else c.value
                           for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
out["date_cells"] = {ws.title: sum(1 for row in ws.iter_rows() for c in row if c.is_date) for ws in wb.worksheets}
print(json.dumps(out))
"""
        p = subprocess.run(["/usr/bin/python3", "-c", script], input=r.body, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        book = json.loads(p.stdout)
        names = [vocab[k] for k in ("xlsx_summary", "xlsx_times", "xlsx_outcomes", "xlsx_escalations",
                                    "xlsx_patrols", "xlsx_reports")]
        self.assertEqual(book["sheets"], names)
        self.assertTrue(all(f == "B3" for f in book["frozen"]), book["frozen"])
        summary = book["rows"][vocab["xlsx_summary"]]
        self.assertIn(vocab["xlsx_title"], summary[0][0])
        for h in summary[1]:
            self.assertRegex(h, "[\u4e00-\u9fff]")
        total = next(row for row in summary if row[0] == vocab["total"])
        statuses = [t["code"] for t in self.srv.request("GET", "/api/v1/vocabulary").json()["statuses"]]
        want = [stats["total"]["reports"], stats["total"]["people"]] + \
               [stats["total"]["by_status"][s]["reports"] for s in statuses] + [stats["total"]["escalations"]["reports"]]
        self.assertEqual(total[1:len(want) + 1], want)
        self.assertAlmostEqual(total[len(want) + 1], stats["total"]["ack_s"]["p50"] / 60, places=6)
        per_county = {row[0]: row[1] for row in summary[2:] if row[0] != vocab["total"]}
        self.assertEqual(per_county, {g["label"]: g["reports"] for g in stats["groups"]})
        listed = book["rows"][vocab["xlsx_reports"]]
        self.assertEqual(len(listed) - 2, stats["total"]["reports"])
        self.assertGreaterEqual(book["date_cells"][vocab["xlsx_reports"]], stats["total"]["reports"])
        received = {row[0]: row[1] for row in listed[2:]}
        some = self.db.sql("SELECT id, to_char(received_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
                           " AS at FROM reports WHERE received_at >= %s AND received_at < %s ORDER BY id LIMIT 5",
                           iso(START), iso(END))
        for row in some:
            self.assertEqual(received[row["id"]], row["at"])
        audit = self.db.value("SELECT count(*) FROM %s WHERE action = 'export.xlsx'" % self.audit_table())
        self.assertGreaterEqual(audit, 1)

    def audit_table(self):
        return self.db.value("SELECT coalesce(to_regclass('audit'), to_regclass('audit_reads'))::text")


if __name__ == "__main__":
    unittest.main()


OCT_FROM, OCT_TO = "2026-10-01T00:00:00+08:00", "2026-11-01T00:00:00+08:00"
TOWN = "320706001"  # a town of 海州区
# scored windows: (plan, start, end, status, active minutes, km); two of plan 901 visited in October
# (the 10-10 one by units 4 and 5 together), one not visited, one in September; plan 902 elsewhere
PATROL_WINDOWS = ((901, "2026-10-02T21:00:00+08:00", "2026-10-02T23:00:00+08:00", "done", 90.0, 3.5),
                  (901, "2026-10-10T09:00:00+08:00", "2026-10-10T11:00:00+08:00", "done", 100.0, 2.25),
                  (901, "2026-10-15T09:00:00+08:00", "2026-10-15T11:00:00+08:00", "missed", 0.0, 0.0),
                  (901, "2026-09-20T09:00:00+08:00", "2026-09-20T11:00:00+08:00", "done", 60.0, 1.0),
                  (902, "2026-10-05T09:00:00+08:00", "2026-10-05T11:00:00+08:00", "done", 60.0, 1.0))
# visits: (target, plan, window start, n, units): target 9011 twice on 10-02, by both units on 10-10
PATROL_VISITS = ((9011, 901, PATROL_WINDOWS[0][1], 1, (4,)), (9011, 901, PATROL_WINDOWS[0][1], 2, (4,)),
                 (9012, 901, PATROL_WINDOWS[0][1], 1, (5,)), (9011, 901, PATROL_WINDOWS[1][1], 1, (4, 5)),
                 (9011, 901, PATROL_WINDOWS[3][1], 1, (5,)), (9021, 902, PATROL_WINDOWS[4][1], 1, (4,)))


class SitingCoveragePatrols(harness.FreshDbCase):
    """Siting against PostGIS ST_DWithin and a brute force over the same grid; coverage and patrol
    figures against recounts; October 2026 in 海州区."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        db = cls.db
        # demand: a cluster of 10 people, a cluster of 3 far away, a cancelled report, one outside the period
        pts = db.sql("SELECT ST_X(p) AS lon, ST_Y(p) AS lat, code FROM (SELECT ST_PointOnSurface(geom) AS p, code"
                     " FROM divisions WHERE level = 'community' AND code LIKE '320706%%' ORDER BY code) c")
        cls.a, cls.b = pts[0], pts[-1]
        rows = [(cls.a, 2, "resolved", "2026-10-03T10:00:00+08:00")] * 5 + \
               [(cls.b, 1, "new", "2026-10-20T10:00:00+08:00")] * 3 + \
               [(cls.a, 9, "cancelled", "2026-10-05T10:00:00+08:00"), (cls.b, 9, "resolved", "2026-09-30T10:00:00+08:00")]
        sql = []
        for i, (p, people, status, at) in enumerate(rows):
            sql.append("INSERT INTO reports (client_id, category, status, geom, observed_at, received_at, people_count,"
                       " city_code, county_code, town_code, community_code, station_id, tier) VALUES (%s, 'vagrant',"
                       " %s, ST_SetSRID(ST_MakePoint(%r + %d * 0.0001, %r), 4326), %s, %s, %d, '320700000000',"
                       " '320706000000', left(%s, 9) || '000', %s, 3, 'county');"
                       % (q(str(uuid.uuid4())), q(status), p["lon"], i % 3, p["lat"], q(at), q(at), people, q(p["code"]),
                          q(p["code"])))
        # coverage: the town's communities; fixes in the period in all but four, two of those before it
        cls.comms = db.sql("SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat"
                           " FROM divisions WHERE level = 'community' AND code LIKE %s ORDER BY code", TOWN + "%")
        sql.append("SELECT unit_positions_ensure('2026-09-01', '2026-11-02');")
        fixes = []
        for i, c in enumerate(cls.comms[6:] + cls.comms[2:4]):
            fixes.append((c, "2026-10-%02dT09:%02d:00+08:00" % (2 + i % 25, i % 60) if i < len(cls.comms) - 6 else
                          "2026-09-%02dT08:00:00+08:00" % (10 + i % 10)))
        # the period's edges, days of the city (UTC+8) against the coverage's UTC days: the UTC day
        # 10-31 runs from 10-31 08:00 to 11-01 08:00 here, the UTC day 09-30 to 10-01 08:00
        fixes += [(cls.comms[4], "2026-10-31T20:00:00+08:00"), (cls.comms[4], "2026-11-01T02:00:00+08:00"),
                  (cls.comms[5], "2026-10-01T02:00:00+08:00"), (cls.comms[5], "2026-09-30T23:00:00+08:00"),
                  (cls.comms[2], "2026-11-01T03:00:00+08:00"), (cls.comms[3], "2026-09-30T23:30:00+08:00")]
        for c, at in fixes:
            sql.append("INSERT INTO unit_positions (unit_id, at, geom) VALUES (4, %s, ST_SetSRID(ST_MakePoint(%r, %r), 4326));"
                       % (q(at), c["lon"], c["lat"]))
        # patrols: three shifts of 海州 units in October (one across the period's end), one in September
        users = [r["id"] for r in db.sql("SELECT id FROM users ORDER BY id LIMIT 3")]
        for unit, start, end, members in ((4, "2026-10-02T20:00:00+08:00", "2026-10-03T02:00:00+08:00", users[:2]),
                                          (5, "2026-10-10T08:00:00+08:00", "2026-10-10T12:30:00+08:00", users[:3]),
                                          (4, "2026-10-31T22:00:00+08:00", "2026-11-01T04:00:00+08:00", users[:1]),
                                          (5, "2026-09-10T08:00:00+08:00", "2026-09-10T12:00:00+08:00", users[:3])):
            sql.append("WITH s AS (INSERT INTO shifts (unit_id, starts_at, ends_at) VALUES (%d, %s, %s) RETURNING id)"
                       " INSERT INTO shift_members SELECT s.id, u FROM s, unnest(%s::bigint[]) u;"
                       % (unit, q(start), q(end), q("{%s}" % ",".join(map(str, members)))))
        # joint patrols as the scorer stores them: plan 901 of 海州 (units 4 and 5 of station 3, a
        # campaign's), plan 902 of another county; unit 4 also on shift during the 10-10 patrol
        sql.append("WITH s AS (INSERT INTO shifts (unit_id, starts_at, ends_at) VALUES (4, '2026-10-10T08:30:00+08:00',"
                   " '2026-10-10T11:30:00+08:00') RETURNING id) INSERT INTO shift_members SELECT s.id, u FROM s,"
                   " unnest(%s::bigint[]) u;" % q("{%s}" % ",".join(map(str, users[:2]))))
        sql.append("INSERT INTO campaigns (id, name, division_code, starts_on, ends_on) VALUES"
                   " (71, '寒冬送温暖', '320706000000', '2026-09-01', '2026-10-31');")
        sql.append("INSERT INTO patrol_plans (id, name, division_code, campaign_id, starts_on) VALUES"
                   " (901, '联合夜巡', '320706000000', 71, '2026-09-01'), (902, '别县', (SELECT code FROM divisions"
                   " WHERE level = 'county' AND code LIKE '3207%' AND code <> '320706000000' ORDER BY code LIMIT 1), NULL, '2026-09-01');")
        sql.append("INSERT INTO patrol_plan_units VALUES (901, 4), (901, 5), (902, 4);")
        sql.append("INSERT INTO patrol_targets (id, plan_id, name, geom, visits_per_week, min_dwell_min) SELECT t, p,"
                   " 'T' || t, ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(119.2, 34.6), 4326), 0.001)), 2, 10 FROM"
                   " (VALUES (9011, 901), (9012, 901), (9021, 902)) x(t, p);")
        for plan, start, end, status, active, km in PATROL_WINDOWS:
            sql.append("INSERT INTO patrol_scored_windows (plan_id, starts_at, ends_at, status, active_min, km, revision)"
                       " VALUES (%d, %s, %s, %s, %r, %r, 1);" % (plan, q(start), q(end), q(status), active, km))
        for target, plan, patrol, n, units in PATROL_VISITS:
            sql.append("INSERT INTO patrol_visits (target_id, plan_id, patrol, n, starts_at, ends_at, dwell_s, unit_ids,"
                       " agencies, counted) VALUES (%d, %d, %s, %d, %s, %s::timestamptz + interval '20 minutes', 1200,"
                       " %s, '{}', true);" % (target, plan, q(patrol), n, q(patrol), q(patrol),
                                              q("{%s}" % ",".join(map(str, units)))))
        psql_script(db, "BEGIN;\n" + "\n".join(sql) + "\nCOMMIT;\nANALYZE;\n")
        # the fixes are of fixed dates (autumn 2026): kept whatever today is, not dropped after 90 days
        cls.srv = harness.Server(db, env={"PATROLD_POSITION_RETENTION_DAYS": "36500"})
        cls.sup = cls.srv.login("supervisor")
        # the fixes were stored before the server first ran: its coverage thread paints their days
        # (coverage_days) from them; the roll-up reads those days, so wait until they are painted
        deadline = time.time() + 60
        while not db.value("SELECT EXISTS (SELECT 1 FROM coverage_grids) AND NOT EXISTS (SELECT 1 FROM coverage_repaint)"):
            assert time.time() < deadline, "the coverage days were not painted"
            time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def get(self, path):
        r = self.srv.request("GET", path, token=self.sup)
        self.assertEqual(r.status, 200, r)
        return r.json()

    DEMAND = ("FROM reports r WHERE r.received_at >= '%s' AND r.received_at < '%s' AND r.county_code = '320706000000'"
              " AND r.status NOT IN ('cancelled', 'duplicate')" % (OCT_FROM, OCT_TO))
    STATIONS = ("SELECT s.location FROM stations s JOIN divisions d ON d.code = '320706000000'"
                " WHERE s.tier IN ('city', 'county') AND ST_Intersects(s.coverage, d.geom)")

    def recount(self, lon, lat, radius, with_current=False):
        """Reports and people within radius (CGCS2000 GK metres, EPSG:4549) of a point, by PostGIS."""
        near = "ST_DWithin(ST_Transform(r.geom, 4549), ST_Transform(ST_SetSRID(ST_MakePoint(%r, %r), 4326), 4549), %r)" \
               % (lon, lat, radius)
        if with_current:
            near = "(%s OR EXISTS (SELECT 1 FROM (%s) s WHERE ST_DWithin(ST_Transform(r.geom, 4549)," \
                   " ST_Transform(s.location, 4549), %r)))" % (near, self.STATIONS, radius)
        row = self.db.sql("SELECT count(*) AS n, coalesce(sum(r.people_count), 0) AS people " + self.DEMAND
                          + " AND " + near)[0]
        return row["n"], row["people"]

    def test_a_candidate_against_st_dwithin(self):
        radius = 3000
        got = self.get("/api/v1/analysis/siting?division=320706&from=2026-10-01&to=2026-10-31&radius_m=%d"
                       "&candidate=%r,%r" % (radius, self.a["lon"], self.a["lat"]))
        total = self.db.sql("SELECT count(*) AS n, sum(r.people_count) AS people " + self.DEMAND)[0]
        self.assertEqual((got["demand"]["reports"], got["demand"]["people"]), (total["n"], total["people"]))
        self.assertEqual((total["n"], total["people"]), (8, 13))
        n, people = self.recount(self.a["lon"], self.a["lat"], radius)
        self.assertEqual((got["candidate"]["reports"], got["candidate"]["people"]), (n, people))
        self.assertGreater(people, 0)
        self.assertAlmostEqual(got["candidate"]["share"], people / total["people"], places=9)
        cur = self.db.sql("SELECT count(*) AS n, coalesce(sum(r.people_count), 0) AS people " + self.DEMAND +
                          " AND EXISTS (SELECT 1 FROM (%s) s WHERE ST_DWithin(ST_Transform(r.geom, 4549),"
                          " ST_Transform(s.location, 4549), %d))" % (self.STATIONS, radius))[0]
        self.assertEqual((got["current"]["reports"], got["current"]["people"]), (cur["n"], cur["people"]))
        n2, people2 = self.recount(self.a["lon"], self.a["lat"], radius, with_current=True)
        self.assertEqual((got["candidate"]["with_current"]["reports"], got["candidate"]["with_current"]["people"]),
                         (n2, people2))
        self.assertAlmostEqual(got["change"], (people2 - cur["people"]) / total["people"], places=9)
        self.assertEqual(self.count_records(got["demand"]["records"]), total["n"])

    def count_records(self, url):
        r = self.srv.request("GET", url + "&limit=500", token=self.sup)
        self.assertEqual(r.status, 200, r)
        return len(r.json()["items"])

    def grid(self, step):
        """The candidate grid as the issue defines it: every multiple of step metres of EPSG:4549 inside
        海州区, and which demand reports each covers (not already covered by a current station)."""
        return self.db.sql(
            "WITH d AS (SELECT ST_Transform(geom, 4549) AS g FROM divisions WHERE code = '320706000000'),"
            " p AS (SELECT i * %s AS x, j * %s AS y FROM d, generate_series(ceil(ST_XMin(g) / %s)::int,"
            " floor(ST_XMax(g) / %s)::int) i, generate_series(ceil(ST_YMin(g) / %s)::int, floor(ST_YMax(g) / %s)::int) j"
            " WHERE ST_Intersects(d.g, ST_SetSRID(ST_MakePoint(i * %s, j * %s), 4549)))"
            " SELECT p.x, p.y, ST_X(ST_Transform(ST_SetSRID(ST_MakePoint(p.x, p.y), 4549), 4326)) AS lon,"
            " ST_Y(ST_Transform(ST_SetSRID(ST_MakePoint(p.x, p.y), 4549), 4326)) AS lat,"
            " (SELECT coalesce(json_object_agg(r.id, r.people_count), '{}') " + self.DEMAND.replace("%", "%%") +
            " AND ST_DWithin(ST_Transform(r.geom, 4549), ST_SetSRID(ST_MakePoint(p.x, p.y), 4549), 3000)"
            " AND NOT EXISTS (SELECT 1 FROM (" + self.STATIONS + ") s WHERE ST_DWithin(ST_Transform(r.geom, 4549),"
            " ST_Transform(s.location, 4549), 3000))) AS covers FROM p ORDER BY p.y, p.x",
            step, step, step, step, step, step, step, step)

    def test_proposals_equal_the_exact_answer(self):
        grid = self.grid(5000)
        self.assertGreater(len(grid), 10)
        total = self.db.sql("SELECT sum(r.people_count) AS people " + self.DEMAND)[0]["people"]
        cur = self.get("/api/v1/analysis/siting?division=320706&from=2026-10-01&to=2026-10-31&radius_m=3000")
        base = cur["current"]["people"]
        weight = lambda sites: sum({k: v for g in sites for k, v in grid[g]["covers"].items()}.values())
        best1 = max(range(len(grid)), key=lambda g: (weight([g]), -g))
        best2 = max(((a, b) for a in range(len(grid)) for b in range(a + 1, len(grid))), key=lambda s: weight(s))
        for k, best in ((1, [best1]), (2, list(best2))):
            got = self.get("/api/v1/analysis/siting?division=320706&from=2026-10-01&to=2026-10-31&radius_m=3000"
                           "&grid_m=5000&k=%d" % k)["proposals"]
            with self.subTest(k=k):
                self.assertEqual(got["candidates"], len(grid))
                self.assertIsNotNone(got["exact"])  # few enough combinations: the server enumerates them
                self.assertAlmostEqual(got["share"], (base + weight(best)) / total, places=9)
                self.assertAlmostEqual(got["exact"]["share"], (base + weight(best)) / total, places=9)
                self.assertLessEqual(got["greedy_share"], got["share"] + 1e-12)
                if k == 1:
                    site = got["sites"][0]["location"]
                    self.assertAlmostEqual(site["lon"], grid[best1]["lon"], places=6)
                    self.assertAlmostEqual(site["lat"], grid[best1]["lat"], places=6)
                    self.assertEqual(got["sites"][0]["people"], weight([best1]))

    def test_coverage_against_a_recount(self):
        got = self.get("/api/v1/stats?division=%s&from=2026-10-01&to=2026-10-31" % TOWN)["coverage"]
        rows = self.db.sql(
            "SELECT d.code, (SELECT to_json(max(p.at)) #>> '{}' FROM unit_positions p WHERE ST_Intersects(d.geom, p.geom)"
            " AND p.at < %s AND NOT p.flagged) AS last FROM divisions d WHERE d.level = 'community' AND d.code LIKE %s"
            " ORDER BY d.code", OCT_TO, TOWN + "%")
        start = datetime.datetime.fromisoformat(OCT_FROM)
        visited = [r for r in rows if r["last"] and datetime.datetime.fromisoformat(r["last"]) >= start]
        self.assertEqual((got["available"], got["source"]), (True, "coverage_days"))
        self.assertEqual((got["communities"], got["visited"]), (len(rows), len(visited)))
        self.assertEqual(self.comms[4]["code"] in [r["code"] for r in visited], True)  # 10-31 20:00, the edge day
        self.assertEqual(self.comms[5]["code"] in [r["code"] for r in visited], True)  # 10-01 02:00, the first day
        self.assertEqual(len(rows) - len(visited), 4)
        self.assertAlmostEqual(got["share"], len(visited) / len(rows), places=9)
        unvisited = sorted((r for r in rows if r not in visited), key=lambda r: (r["last"] is not None, r["last"] or "", r["code"]))
        instant = lambda t: t and datetime.datetime.fromisoformat(t)  # the recount's session is UTC
        self.assertEqual([(c["code"], instant(c["last_patrolled_at"])) for c in got["longest_unvisited"]],
                         [(r["code"], instant(r["last"])) for r in unvisited])
        self.assertEqual([c["code"] for c in got["longest_unvisited"][:2]], [c["code"] for c in self.comms[:2]])
        fc = self.get("/api/v1/stats/coverage.geojson?division=%s&from=2026-10-01&to=2026-10-31" % TOWN)
        self.assertEqual(len(fc["features"]), len(rows))
        self.assertEqual(sorted(f["id"] for f in fc["features"] if f["properties"]["visited"]),
                         sorted(r["code"] for r in visited))
        self.assertTrue(all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in fc["features"]))

    def patrol_recount(self, day=None):
        """The patrol figures of 海州 in October (or one day of it) recounted from the raw tables."""
        wins = self.db.sql("SELECT s.plan_id, s.starts_at, s.ends_at, s.active_min, s.km, to_char(s.starts_at AT TIME"
                           " ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS day FROM patrol_scored_windows s"
                           " JOIN patrol_plans p ON p.id = s.plan_id WHERE p.division_code LIKE '320706%%'"
                           " AND s.starts_at >= %s AND s.starts_at < %s", OCT_FROM, OCT_TO)
        n = staff = places = 0
        hours = km = 0.0
        for w in wins:
            if day and w["day"] != day:
                continue
            visits = self.db.sql("SELECT target_id, unit_ids FROM patrol_visits WHERE plan_id = %s AND patrol = %s",
                                 w["plan_id"], w["starts_at"])
            if not visits:
                continue
            took = sorted({u for v in visits for u in v["unit_ids"]})
            n += 1
            places += len({v["target_id"] for v in visits})
            staff += self.db.value("SELECT count(DISTINCT m.user_id) FROM shifts s JOIN shift_members m ON"
                                   " m.shift_id = s.id WHERE s.unit_id = ANY(%s::bigint[]) AND s.starts_at < %s"
                                   " AND s.ends_at > %s", "{%s}" % ",".join(map(str, took)), w["ends_at"], w["starts_at"])
            hours += w["active_min"] / 60
            km += w["km"]
        return n, staff, places, hours, km

    def test_patrol_figures_against_a_recount(self):
        got = self.get("/api/v1/stats?division=320706&from=2026-10-01&to=2026-10-31&by=station&min_reports=1")
        p = got["total"]["patrols"]
        n, staff, places, hours, km = self.patrol_recount()
        self.assertEqual((p["patrols"], p["staff_turns"], p["places_visited"]), (n, staff, places))
        self.assertAlmostEqual(p["hours"], hours, places=2)
        self.assertAlmostEqual(p["km"], km, places=3)
        # by hand: the 10-02 patrol (unit 4's two members, targets 9011 and 9012), the 10-10 joint
        # patrol of units 4 and 5 counted once (their members 0-2 once each, one target, its hours
        # and km once); neither the unvisited window, September's, nor the other county's
        self.assertEqual((p["patrols"], p["staff_turns"], p["places_visited"]), (2, 5, 3))
        self.assertAlmostEqual(p["hours"], (90 + 100) / 60, places=2)
        self.assertAlmostEqual(p["km"], 5.75, places=3)
        self.assertEqual(p["source"], "patrol_scored_windows")
        by_station = {g["key"]: g["patrols"] for g in got["groups"]}
        self.assertEqual(by_station["3"], p)  # units 4 and 5 are of station 3
        tier = self.db.value("SELECT tier FROM stations WHERE id = 3")
        for by, key in (("county", "320706000000"), ("tier", tier)):
            groups = self.get("/api/v1/stats?division=320706&from=2026-10-01&to=2026-10-31&by=%s&min_reports=1" % by)
            self.assertEqual({g["key"]: g["patrols"] for g in groups["groups"]}.get(key), p, by)
        weeks = self.get("/api/v1/stats?division=320706&from=2026-10-01&to=2026-10-31&by=week")["groups"]
        self.assertEqual(sum(g["patrols"]["patrols"] for g in weeks), p["patrols"])
        self.assertEqual(sum(g["patrols"]["staff_turns"] for g in weeks), p["staff_turns"])
        days = self.get("/api/v1/stats?division=320706&from=2026-10-01&to=2026-10-31&by=day")
        per_day = {g["key"]: g["patrols"] for g in days["groups"] if g["patrols"]["patrols"]}
        self.assertEqual(sorted(per_day), ["2026-10-02", "2026-10-10"])
        for day, f in per_day.items():
            self.assertEqual((f["patrols"], f["staff_turns"], f["places_visited"]), self.patrol_recount(day)[:3])
        # the campaign's summary counts the same patrols the same way (its dates: September too)
        r = self.srv.request("GET", "/api/v1/campaigns/71/summary", token=self.sup)
        self.assertEqual(r.status, 200, r)
        sep = self.get("/api/v1/stats?division=320706&from=2026-09-01&to=2026-10-31")["total"]["patrols"]
        c = r.json()["total"]
        self.assertEqual((c["patrols"], c["staff_turns"], c["places_visited"]),
                         (sep["patrols"], sep["staff_turns"], sep["places_visited"]))
        self.assertEqual(sep["patrols"], 3)
        self.assertAlmostEqual(c["km"], sep["km"], places=3)
        self.assertAlmostEqual(c["hours"], sep["hours"], places=2)
        # the city: 海州's two and the other county's one
        city = self.get("/api/v1/stats?division=3207&from=2026-10-01&to=2026-10-31")["total"]["patrols"]
        self.assertEqual(city["patrols"], 3)
        # the monthly report's patrol sheet: the same figures in its total row
        r = self.srv.request("GET", "/api/v1/stats/monthly.xlsx?division=320706&month=2026-10", token=self.sup)
        self.assertEqual(r.status, 200, r)
        vocab = {t["code"]: t["label"] for t in self.srv.request("GET", "/api/v1/vocabulary").json()["stats_terms"]}
        script = ("import io, json, sys, openpyxl\n"
                  "wb = openpyxl.load_workbook(io.BytesIO(sys.stdin.buffer.read()))\n"
                  "ws = wb[sys.argv[1]]\n"
                  "print(json.dumps([[c.value for c in row] for row in ws.iter_rows()], default=str))\n")
        out = subprocess.run(["/usr/bin/python3", "-c", script, vocab["xlsx_patrols"]], input=r.body,
                             capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        total = next(row for row in json.loads(out.stdout) if row[0] == vocab["total"])
        self.assertEqual(total[1:4], [2, 5, 3])
        self.assertAlmostEqual(total[4], (90 + 100) / 60, places=2)
        self.assertAlmostEqual(total[5], 5.75, places=3)
        cat = self.get("/api/v1/stats?division=320706&from=2026-10-01&to=2026-10-31&by=category&min_reports=1")
        self.assertTrue(all(g["patrols"] is None for g in cat["groups"]))
