"""test_group_commit.py - group commit of report writes (service/core/group.h), against a real server:
reports posted at the same time from many connections share transactions (fewer distinct inserting
transactions, xmin, than rows; fewer group commits than requests in /metrics), and every answer still
matches the stored rows: each good report stored once with one 'created' timeline row and one live event,
each bad one refused with its own error, each replay answered with the stored report, a replay of another
county's client_id 409 without data; the same client_id posted by many connections at once is written
once; an item that the database itself refuses fails alone, never its neighbours in the group; with
report_group_commit = 0 each request has its own transaction."""
import http.client
import json
import random
import re
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import uuid

import harness
from test_edge_scope import point_in_guannan
from test_reports import new_body, point_in_haizhou

CONNS = 64


def metrics(srv):
    """{'commits': n, 'jobs': n, 'items': n} of the reports writer, from /metrics."""
    r = srv.request("GET", "/metrics")
    assert r.status == 200, r
    text = r.body.decode()
    out = {}
    for key, name in (("commits", "patrold_group_commits_total"), ("jobs", "patrold_group_jobs_total"),
                      ("items", "patrold_group_items_total")):
        m = re.search(r'^%s\{queue="reports"\} (\d+)$' % name, text, re.M)
        out[key] = int(m.group(1)) if m else 0
    return out


def run_parallel(srv, jobs, conns=CONNS):
    """Sends jobs [(token, path, body)] (body: JSON, or a form-encoded str) over `conns` keep-alive connections at once (a barrier starts
    them together); returns [(status, parsed body)] in job order."""
    raw = [None] * len(jobs)
    queues = [list(range(i, len(jobs), conns)) for i in range(conns)]
    barrier = threading.Barrier(conns)
    errors = []

    def worker(idx):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        try:
            barrier.wait()
            for j in idx:
                token, path, body = jobs[j]
                if isinstance(body, str):  # an Open311 form (its api_key inside)
                    c.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                else:
                    c.request("POST", path, body=json.dumps(body),
                              headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
                r = c.getresponse()
                data = r.read()
                raw[j] = harness.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        except Exception as e:  # noqa: BLE001 - reported by the test thread
            errors.append(repr(e))
        finally:
            c.close()

    ts = [threading.Thread(target=worker, args=(q,)) for q in queues]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    run_parallel.took = time.time() - t0
    assert not errors, errors[:3]
    for (_, path, _), r in zip(jobs, raw):  # after the burst: checking must not slow the clients
        if harness.VALIDATE:
            srv._check_contract("POST", path, r)
    return [(r.status, r.json()) for r in raw]


class GroupCommitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.fresh_db()
        # an item that passes every check in C but that the database refuses (a data exception)
        cls.db.sql("CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                   " IF NEW.description = 'POISON' THEN RAISE EXCEPTION 'poisoned' USING ERRCODE = '22023'; END IF;"
                   " RETURN NEW; END $$")
        cls.db.sql("CREATE TRIGGER test_poison BEFORE INSERT ON reports FOR EACH ROW EXECUTE FUNCTION test_poison()")
        # duplicates within 1 m only: the 10,000 reports of the burst lie in 400 m, and twenty possible
        # duplicates in each reply would only slow the schema check of the replies (the query still runs)
        cls.srv = harness.Server(cls.db, threads=CONNS + 8,
                                 env={"PATROLD_ESCALATE_INTERVAL_MS": "600000", "PATROLD_ACCESS_LOG": "0",
                                      "PATROLD_DUP_RADIUS_M": "1"})
        cls.tok = {u: cls.srv.login(u) for u in ("patrol", "dispatcher_gn")}
        cls.hz = point_in_haizhou(cls.db)
        cls.gn = point_in_guannan(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.db.drop()

    def body(self, **over):
        lon, lat = self.hz
        rnd = random.Random(len(over) + random.random())
        return new_body(lon + rnd.uniform(-0.002, 0.002), lat + rnd.uniform(-0.002, 0.002), **over)

    def stored(self, cids):
        rows = self.db.sql("SELECT client_id::text AS cid, id, xmin::text AS x FROM reports"
                           " WHERE client_id = ANY (%s::uuid[])", "{%s}" % ",".join(cids) if cids else "{}")
        by = {}
        for r in rows:
            by.setdefault(r["cid"], []).append(r)
        return by

    def assert_created_once(self, ids):
        """Every report id in ids has exactly one 'created' timeline row and one report.created event."""
        arr = "{%s}" % ",".join(str(i) for i in ids)
        self.assertEqual(self.db.value("SELECT count(*) FROM report_events WHERE type = 'created'"
                                       " AND report_id = ANY (%s::bigint[])", arr), len(ids))
        self.assertEqual(self.db.value("SELECT count(DISTINCT report_id) FROM report_events WHERE type = 'created'"
                                       " AND report_id = ANY (%s::bigint[])", arr), len(ids))
        self.assertEqual(self.db.value("SELECT count(*) FROM events WHERE kind = 'report.created'"
                                       " AND entity_id = ANY (%s::bigint[])", arr), len(ids))
        self.assertEqual(self.db.value("SELECT count(DISTINCT entity_id) FROM events WHERE kind = 'report.created'"
                                       " AND entity_id = ANY (%s::bigint[])", arr), len(ids))

    def item(self, rnd, ours, theirs, single):
        """One report of the burst and what it must get: a body and its kind ('bad' with the field the
        error names, ('replay', id), 'foreign', 'poison' (single posts only), 'new')."""
        p = rnd.random()
        if p < 0.05:
            field, value = rnd.choice((("category", "not_a_category"), ("people_count", -3)))
            return self.body(**{field: value}), ("bad", field)
        if p < 0.10:
            o = rnd.choice(ours)
            return self.body(client_id=o["client_id"]), ("replay", o["id"])
        if p < 0.11:
            return self.body(client_id=rnd.choice(theirs)["client_id"]), "foreign"
        if single and p < 0.12:
            return self.body(description="POISON"), "poison"
        return self.body(), "new"

    def burst(self, rnd, ours, theirs):
        """10,000 reports: 1,000 single posts and 360 batches of 25 (the group takes both), shuffled.
        Returns the jobs [(token, path, body)] and their kinds (a batch: the list of its items' kinds)."""
        patrol = self.tok["patrol"]
        jobs, kinds = [], []
        for _ in range(1000):
            b, k = self.item(rnd, ours, theirs, True)
            jobs.append((patrol, "/api/v1/reports", b))
            kinds.append(k)
        for _ in range(360):
            pairs = [self.item(rnd, ours, theirs, False) for _ in range(25)]
            jobs.append((patrol, "/api/v1/reports/batch", {"reports": [b for b, _ in pairs]}))
            kinds.append([k for _, k in pairs])
        order = list(range(len(jobs)))
        rnd.shuffle(order)
        return [jobs[i] for i in order], [kinds[i] for i in order]

    def check_answer(self, body, kind, status, reply, created):
        """One answer (a single post's status and reply, or a batch item's result with status None)
        against its kind; a created report goes into created {client_id: id}."""
        single = status is not None
        if kind == "new":
            rep = reply if single else reply["report"]
            self.assertEqual(status if single else reply["status"], 201 if single else "created", reply)
            self.assertEqual(rep["client_id"], body["client_id"])
            self.assertNotIn(body["client_id"], created)
            created[body["client_id"]] = rep["id"]
            return
        if isinstance(kind, tuple) and kind[0] == "replay":
            rep = reply if single else reply["report"]
            self.assertEqual(status if single else reply["status"], 200 if single else "existing", reply)
            self.assertEqual(rep["id"], kind[1], reply)
            return
        err = reply["error"]
        if not single:
            self.assertEqual((reply["status"], reply["report"]), ("error", None), reply)
        if kind == "foreign":
            self.assertEqual((status, err["code"]), (409 if single else None, "client_id_conflict"), reply)
            self.assertNotIn("description", json.dumps(reply))
        elif kind == "poison":
            self.assertEqual((status, err["code"]), (500, "db_error"), reply)
        else:
            self.assertEqual(status, 400 if single else None, reply)
            self.assertTrue(err["field"].startswith(kind[1]), reply)

    def test_burst_shares_commits_and_every_answer_matches_the_rows(self):
        patrol, gn = self.tok["patrol"], self.tok["dispatcher_gn"]
        # stored before the burst: ours (replayed during it) and another county's (replayed: 409)
        ours = [self.srv.create_report(self.body(), patrol) for _ in range(40)]
        theirs = [self.srv.create_report(new_body(*self.gn), gn) for _ in range(10)]
        n_events = self.db.value("SELECT count(*) FROM events WHERE kind = 'report.created'")
        n_timeline = self.db.value("SELECT count(*) FROM report_events WHERE type = 'created'")
        jobs, kinds = self.burst(random.Random(7), ours, theirs)
        self.assertEqual(sum(len(b["reports"]) if "reports" in b else 1 for _, _, b in jobs), 10000)

        m0 = metrics(self.srv)
        t0 = time.time()
        answers = run_parallel(self.srv, jobs)
        took = time.time() - t0
        t1 = time.time()
        m1 = metrics(self.srv)

        created = {}  # client_id -> id
        for (tok, path, body), kind, (status, reply) in zip(jobs, kinds, answers):
            if isinstance(kind, list):
                self.assertEqual(status, 200, reply)
                res = reply["results"]
                self.assertEqual([x["index"] for x in res], list(range(len(kind))))
                for item, k, x in zip(body["reports"], kind, res):
                    self.check_answer(item, k, None, x, created)
            else:
                self.check_answer(body, kind, status, reply, created)

        t2 = time.time()
        # the rows: each created report once, under the id it was answered with; nothing else stored
        rows = self.stored(list(created))
        self.assertEqual({c: [r["id"] for r in rs] for c, rs in rows.items()}, {c: [i] for c, i in created.items()})
        refused = [b["client_id"] for (_, p, b), k in zip(jobs, kinds) if k == "poison"
                   or isinstance(k, tuple) and k[0] == "bad"]
        refused += [i["client_id"] for (_, p, b), k in zip(jobs, kinds) if isinstance(k, list)
                    for i, ik in zip(b["reports"], k) if isinstance(ik, tuple) and ik[0] == "bad"]
        self.assertEqual(self.stored(refused), {})
        self.assertEqual(self.db.value("SELECT count(*) FROM reports"), len(created) + len(ours) + len(theirs))
        # no event missing or doubled: one of each per created report, none for the rest
        self.assert_created_once(list(created.values()))
        self.assertEqual(self.db.value("SELECT count(*) FROM events WHERE kind = 'report.created'") - n_events,
                         len(created))
        self.assertEqual(self.db.value("SELECT count(*) FROM report_events WHERE type = 'created'") - n_timeline,
                         len(created))

        # shared transactions: the database's own record (xmin) and the writer's counters
        xacts = len({r[0]["x"] for r in rows.values()})
        commits, reqs = m1["commits"] - m0["commits"], m1["jobs"] - m0["jobs"]
        print("\ngroup commit: %d reports created by %d requests (10,000 reports) in %d transactions"
              " (%d group commits); posting %.1f s, the replies' schemas %.1f s, checking answers %.1f s, rows %.1f s"
              % (len(created), len(jobs), xacts, commits, run_parallel.took, took - run_parallel.took, t2 - t1,
                 time.time() - t2), file=sys.stderr)
        self.assertGreater(len(created), 8500)
        self.assertEqual(reqs, len(jobs))
        self.assertEqual(m1["items"] - m0["items"], 10000)
        self.assertLess(commits, reqs * 0.8, "requests were not grouped")
        self.assertLess(xacts, len(created) * 0.8, "rows were not written in shared transactions")

    def test_one_client_id_from_many_connections_at_once_is_written_once(self):
        body = self.body()
        answers = run_parallel(self.srv, [(self.tok["patrol"], "/api/v1/reports", body)] * 32, conns=32)
        statuses = sorted(s for s, _ in answers)
        self.assertEqual(statuses, [200] * 31 + [201], answers[:3])
        ids = {r["id"] for _, r in answers}
        self.assertEqual(len(ids), 1)
        self.assertEqual([r["id"] for r in self.stored([body["client_id"]])[body["client_id"]]], list(ids))
        self.assert_created_once(list(ids))

    def test_open311_requests_share_the_report_writer(self):
        """Open311 service requests are written by the same writer as the app's reports: in the same
        transactions, with their contact details, each answered with its own id."""
        lon, lat = self.hz
        forms = [urllib.parse.urlencode({"api_key": "demo", "service_code": "lost_elderly", "lat": "%.7f" % lat,
                                         "long": "%.7f" % lon, "description": "open311 %d" % i,
                                         "email": "r%d@example.cn" % i, "phone": "1380013%04d" % i})
                 for i in range(32)]
        forms[5] = forms[5].replace("service_code=lost_elderly", "service_code=nope")
        apps = [self.body() for _ in range(32)]
        jobs = [(None, "/open311/v2/requests.json", f) for f in forms] + \
               [(self.tok["patrol"], "/api/v1/reports", b) for b in apps]
        m0 = metrics(self.srv)
        answers = run_parallel(self.srv, jobs, conns=64)
        m1 = metrics(self.srv)
        self.assertEqual(answers[5][0], 404, answers[5])
        self.assertEqual(answers[5][1][0]["code"], 404)
        ids = {}
        for i, (status, reply) in enumerate(answers[:32]):
            if i != 5:
                self.assertEqual(status, 201, reply)
                ids[int(reply[0]["service_request_id"])] = i
        self.assertEqual({s for s, _ in answers[32:]}, {201})
        self.assertEqual(m1["jobs"] - m0["jobs"], 63)  # every request but the unknown service's
        rows = self.db.sql("SELECT id, source, created_by, contact, description, xmin::text AS x FROM reports"
                           " WHERE id = ANY (%s::bigint[])", "{%s}" % ",".join(map(str, ids)))
        self.assertEqual(len(rows), 31)
        for row in rows:
            i = ids[row["id"]]
            self.assertEqual((row["source"], row["created_by"], row["description"]), ("open311", None, "open311 %d" % i))
            self.assertEqual(row["contact"], {"email": "r%d@example.cn" % i, "phone": "1380013%04d" % i})
        self.assert_created_once(list(ids))
        self.assertEqual(self.db.value("SELECT count(*) FROM report_events WHERE type = 'created'"
                                       " AND report_id = ANY (%s::bigint[]) AND actor = 'open311:demo'",
                                       "{%s}" % ",".join(map(str, ids))), 31)
        app_x = {r["x"] for rs in self.stored([b["client_id"] for b in apps]).values() for r in rs}
        self.assertLess(len({r["x"] for r in rows} | app_x), 63, "Open311 requests were not grouped")

    def test_poisoned_item_fails_alone_in_a_batch(self):
        items = [self.body() for _ in range(30)]
        items[17] = self.body(description="POISON")
        r = self.srv.request("POST", "/api/v1/reports/batch", json_body={"reports": items}, token=self.tok["patrol"])
        self.assertEqual(r.status, 200, r)
        res = r.json()["results"]
        self.assertEqual([x["status"] for x in res], ["created"] * 17 + ["error"] + ["created"] * 12)
        self.assertEqual(res[17]["error"]["code"], "db_error")
        rows = self.stored([i["client_id"] for i in items])
        self.assertEqual(len(rows), 29)
        self.assertNotIn(items[17]["client_id"], rows)


class OneByOneTest(unittest.TestCase):
    """report_group_commit = 0: the request writes on its own slot, one transaction each."""

    def test_each_request_its_own_transaction(self):
        db = harness.fresh_db()
        srv = harness.Server(db, threads=40, env={"PATROLD_REPORT_GROUP_COMMIT": "0", "PATROLD_ACCESS_LOG": "0"})
        try:
            tok = srv.login("patrol")
            lon, lat = point_in_haizhou(db)
            bodies = [new_body(lon, lat) for _ in range(300)]
            answers = run_parallel(srv, [(tok, "/api/v1/reports", b) for b in bodies], conns=32)
            self.assertEqual({s for s, _ in answers}, {201})
            self.assertEqual(metrics(srv)["commits"], 0)
            x = db.value("SELECT count(DISTINCT xmin::text) FROM reports WHERE client_id = ANY (%s::uuid[])",
                         "{%s}" % ",".join(b["client_id"] for b in bodies))
            self.assertEqual(x, 300)
        finally:
            srv.stop()
            db.drop()


class StuckWriterTest(unittest.TestCase):
    def test_requests_behind_a_stuck_writer_are_answered_in_time(self):
        db = harness.fresh_db()
        srv = harness.Server(db, threads=24, env={"PATROLD_DB_POOL_WAIT_MS": "1000", "PATROLD_ACCESS_LOG": "0",
                                                  "PATROLD_STATEMENT_TIMEOUT_MS": "3000"})
        lock = None
        try:
            tok = srv.login("patrol")
            lon, lat = point_in_haizhou(db)
            # another session holds the reports table: the writer's insert waits on it
            lock = subprocess.Popen(["psql", "-h", harness._pghost(), "-U", "postgres", "-d", db.name, "-Xq",
                                     "-c", "BEGIN; LOCK TABLE reports IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 10
            while not db.value("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                               " WHERE c.relname = 'reports' AND l.mode = 'AccessExclusiveLock' AND l.granted"):
                self.assertLess(time.time(), deadline, "the lock was not taken")
                time.sleep(0.05)
            bodies = [new_body(lon, lat) for _ in range(16)]
            t0 = time.time()
            answers = run_parallel(srv, [(tok, "/api/v1/reports", b) for b in bodies], conns=16)
            took = time.time() - t0
            codes = sorted({(s, r["error"]["code"]) for s, r in answers})
            self.assertEqual(set(codes) - {(503, "busy"), (503, "db_timeout")}, set(), codes)
            self.assertIn((503, "busy"), codes)        # queued behind the stuck group: withdrawn after 1 s
            self.assertIn((503, "db_timeout"), codes)  # in the stuck group: the statement timeout
            self.assertLess(took, 6, "requests were held for the whole lock")
            lock.wait(15)
            self.assertEqual(db.value("SELECT count(*) FROM reports WHERE client_id = ANY (%s::uuid[])",
                                      "{%s}" % ",".join(b["client_id"] for b in bodies)), 0)
            # the writer goes on: the same reports sent again are created
            answers = run_parallel(srv, [(tok, "/api/v1/reports", b) for b in bodies], conns=16)
            self.assertEqual({s for s, _ in answers}, {201})
        finally:
            if lock is not None and lock.poll() is None:
                lock.kill()
                lock.wait()
            srv.stop()
            db.drop()


if __name__ == "__main__":
    unittest.main()
