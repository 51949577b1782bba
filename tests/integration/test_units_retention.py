"""test_units_retention.py - unit_positions is partitioned by UTC day: the background step makes the
coming days' partitions and drops days older than position_retention_days, rows and all; a fix for
a day without a partition yet still goes in (the partition is made on the spot)."""
import datetime
import time
import unittest

import harness


def partitions(db):
    return sorted(r["relname"] for r in db.sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'unit_positions'::regclass"))


class RetentionTest(unittest.TestCase):
    def test_old_days_dropped_new_days_made(self):
        db = harness.fresh_db()
        self.addCleanup(db.drop)
        today = datetime.datetime.now(datetime.timezone.utc).date()
        unit = db.value("SELECT min(id) FROM units")
        db.sql("SELECT unit_positions_ensure(%s::date, %s::date)", str(today - datetime.timedelta(days=12)),
               str(today - datetime.timedelta(days=10)))
        for d in (12, 10, 3):
            at = "%sT12:00:00Z" % (today - datetime.timedelta(days=d))
            db.sql("SELECT unit_positions_ensure(%s::date, %s::date)", at[:10], at[:10])
            db.sql("INSERT INTO unit_positions (unit_id, at, geom) VALUES (%s, %s, ST_SetSRID(ST_MakePoint(119.2, 34.6), 4326))",
                   unit, at)
        # a future day without a partition: the insert path makes it
        db.sql("DROP TABLE IF EXISTS unit_positions_%s" % (today + datetime.timedelta(days=3)).strftime("%Y%m%d"))
        self.assertIn("unit_positions_" + (today - datetime.timedelta(days=12)).strftime("%Y%m%d"), partitions(db))
        srv = harness.Server(db, env={"PATROLD_POSITION_RETENTION_DAYS": "5"})
        self.addCleanup(srv.stop)
        deadline = time.time() + 20
        while time.time() < deadline and "unit_positions_" + (today - datetime.timedelta(days=10)).strftime("%Y%m%d") in partitions(db):
            time.sleep(0.2)
        names = partitions(db)
        for d in (12, 11, 10):
            self.assertNotIn("unit_positions_" + (today - datetime.timedelta(days=d)).strftime("%Y%m%d"), names)
        self.assertIn("unit_positions_" + (today - datetime.timedelta(days=3)).strftime("%Y%m%d"), names)
        for d in range(0, 4):
            self.assertIn("unit_positions_" + (today + datetime.timedelta(days=d)).strftime("%Y%m%d"), names)
        ats = [r["d"] for r in db.sql("SELECT at::date::text AS d FROM unit_positions WHERE unit_id = %s AND at < now() - interval '1 day'", unit)]
        self.assertEqual(ats, [str(today - datetime.timedelta(days=3))])
        # a fix older than the retention is refused, one within it is stored
        tok = srv.login("admin")
        old = {"location": {"lon": 119.2, "lat": 34.6}, "at": "%sT12:00:00Z" % (today - datetime.timedelta(days=7))}
        r = srv.request("POST", "/api/v1/units/%d/positions" % unit, json_body={"positions": [old]}, token=tok)
        self.assertEqual((r.status, r.error), (400, "invalid_field"))
        db.sql("DROP TABLE IF EXISTS unit_positions_%s" % (today - datetime.timedelta(days=2)).strftime("%Y%m%d"))
        ok = {"location": {"lon": 119.2, "lat": 34.6}, "at": "%sT12:00:00Z" % (today - datetime.timedelta(days=2))}
        r = srv.request("POST", "/api/v1/units/%d/positions" % unit, json_body={"positions": [ok]}, token=tok)
        self.assertEqual((r.status, r.json()["stored"]), (200, 1), r)


if __name__ == "__main__":
    unittest.main()
