"""test_tiles.py - GET /tiles/{layer}/{z}/{x}/{y}.mvt against a real PostGIS and a real patrold:
the Mapbox Vector Tiles are decoded here (a small protobuf reader), their layers, features,
properties and geometry checked; division scope of the dynamic layers; 204, 400, 401; the cache of
static tiles and its invalidation when a division changes; the GCJ-02 shift."""
import math
import time
import unittest
import uuid

import harness

HAIZHOU = (119.163509, 34.572274)    # 海州区 320706 label point
GUANNAN = (119.315651, 34.087134)    # 灌南县 320724 label point


# ---- a minimal protobuf / MVT (vector_tile.proto v2) decoder ----

def varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf):
    """(field number, wire type, value) of a message; value is int or bytes."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]
            if len(v) != n:
                raise ValueError("truncated field")
            i += n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def packed(buf):
    out, i = [], 0
    while i < len(buf):
        v, i = varint(buf, i)
        out.append(v)
    return out


def zigzag(n):
    return (n >> 1) ^ -(n & 1)


def value(buf):
    import struct
    for num, wt, v in fields(buf):
        if num == 1:
            return v.decode()
        if num == 2:
            return struct.unpack("<f", v)[0]
        if num == 3:
            return struct.unpack("<d", v)[0]
        if num in (4, 5):
            return v
        if num == 6:
            return zigzag(v)
        if num == 7:
            return bool(v)
    raise ValueError("empty value")


def geometry(cmds):
    """Decodes the command stream into (type of each command, list of absolute (x, y))."""
    x = y = 0
    ops, pts, i = [], [], 0
    while i < len(cmds):
        cid, count = cmds[i] & 7, cmds[i] >> 3
        i += 1
        if cid not in (1, 2, 7):
            raise ValueError("command %d" % cid)
        ops.append((cid, count))
        if cid == 7:
            continue
        for _ in range(count):
            x += zigzag(cmds[i])
            y += zigzag(cmds[i + 1])
            i += 2
            pts.append((x, y))
    return ops, pts


def decode_tile(buf):
    """{layer name: {"extent", "features": [{"id", "type", "props", "points", "ops"}]}}."""
    layers = {}
    for num, wt, lbuf in fields(buf):
        assert num == 3 and wt == 2, "a tile holds only layers"
        name, extent, keys, values, feats, version = None, 4096, [], [], [], None
        for n, _, v in fields(lbuf):
            if n == 1:
                name = v.decode()
            elif n == 2:
                feats.append(v)
            elif n == 3:
                keys.append(v.decode())
            elif n == 4:
                values.append(value(v))
            elif n == 5:
                extent = v
            elif n == 15:
                version = v
        assert version == 2, "MVT version 2"
        out = []
        for fb in feats:
            f = {"id": None, "type": 0, "props": {}, "points": [], "ops": []}
            for n, _, v in fields(fb):
                if n == 1:
                    f["id"] = v
                elif n == 2:
                    tags = packed(v)
                    assert len(tags) % 2 == 0
                    for k in range(0, len(tags), 2):
                        f["props"][keys[tags[k]]] = values[tags[k + 1]]
                elif n == 3:
                    f["type"] = v
                elif n == 4:
                    f["ops"], f["points"] = geometry(packed(v))
            out.append(f)
        layers[name] = {"extent": extent, "features": out}
    return layers


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def pixel_of(lon, lat, z, x, y, extent=4096):
    n = 2 ** z
    fx = (lon + 180) / 360 * n
    fy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return (fx - x) * extent, (fy - y) * extent


def report_body(point, category="vagrant"):
    return {"client_id": str(uuid.uuid4()), "category": category,
            "location": {"lon": point[0], "lat": point[1]},
            "observed_at": "2024-05-01T08:00:00+08:00", "description": "街面 张三 13800000000",
            "person": {"name": "张三", "phone": "13800000000"}}


class TilesTest(harness.ServerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {u: cls.srv.login(u) for u in ("supervisor", "dispatcher", "dispatcher_gn")}
        cls.rep = {}
        for name, pt in (("haizhou", HAIZHOU), ("guannan", GUANNAN)):
            r = cls.srv.request("POST", "/api/v1/reports", json_body=report_body(pt), token=cls.tok["supervisor"])
            assert r.status == 201, r
            cls.rep[name] = r.json()["id"]
        # one unit with a position in each county (positions come from the units API in production)
        cls.units = {}
        for name, code, pt in (("haizhou", "320706000000", HAIZHOU), ("guannan", "320724000000", GUANNAN)):
            uid = cls.db.value("SELECT min(id) FROM units WHERE division_code = %s" % harness.lit(code))
            cls.db.sql("UPDATE units SET position = ST_SetSRID(ST_Point(%r, %r), 4326),"
                       " position_at = now() - interval '90 seconds' WHERE id = %d"
                       % (pt[0] + 0.001, pt[1] + 0.001, uid))
            cls.units[name] = uid

    def tile(self, layer, z, x, y, user=None, query=""):
        return self.srv.request("GET", "/tiles/%s/%s/%s/%s.mvt%s" % (layer, z, x, y, query),
                                token=self.tok[user] if user else None)

    def decoded(self, layer, z, x, y, user=None, query=""):
        r = self.tile(layer, z, x, y, user, query)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "application/vnd.mapbox-vector-tile")
        layers = decode_tile(r.body)
        self.assertEqual(list(layers), [layer])
        return layers[layer]

    def assert_inside(self, lay):
        ext = lay["extent"]
        self.assertEqual(ext, 4096)
        for f in lay["features"]:
            self.assertIn(f["type"], (1, 2, 3))
            self.assertTrue(f["points"], f)
            for px, py in f["points"]:
                self.assertTrue(-64 <= px <= ext + 64 and -64 <= py <= ext + 64, (px, py))

    def test_divisions_by_zoom(self):
        x, y = tile_of(*HAIZHOU, 9)
        low = self.decoded("divisions", 9, x, y)
        self.assert_inside(low)
        levels = {(f["props"]["level"], f["type"]) for f in low["features"]}
        self.assertIn(("county", 2), levels)          # outlines
        self.assertIn(("county", 1), levels)          # label points
        self.assertFalse({lv for lv, _ in levels} & {"town", "community"})
        names = {f["props"]["name"] for f in low["features"]}
        self.assertIn("海州区", names)
        for f in low["features"]:
            self.assertEqual(set(f["props"]), {"code", "name", "level"})
            self.assertRegex(f["props"]["code"], r"^3207\d{8}$")
        x, y = tile_of(*HAIZHOU, 13)
        high = self.decoded("divisions", 13, x, y)
        self.assert_inside(high)
        labels = {f["props"]["level"] for f in high["features"] if f["type"] == 1}
        self.assertEqual(labels, {"community"})
        self.assertIn("community", {f["props"]["level"] for f in high["features"] if f["type"] == 2})

    def test_label_point_lands_where_it_should(self):
        z = 12
        code = self.db.value("SELECT code FROM divisions WHERE level = 'community' AND geom IS NOT NULL"
                             " ORDER BY code LIMIT 1")
        lon, lat = (float(v) for v in self.db.value(
            "SELECT ST_X(p) || ',' || ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM divisions"
            " WHERE code = %s) s" % harness.lit(code)).split(","))
        x, y = tile_of(lon, lat, z)
        lay = self.decoded("divisions", z, x, y)
        pts = [f["points"][0] for f in lay["features"] if f["type"] == 1 and f["props"]["code"] == code]
        self.assertEqual(len(pts), 1)
        ex, ey = pixel_of(lon, lat, z, x, y)
        self.assertLess(abs(pts[0][0] - ex), 2)
        self.assertLess(abs(pts[0][1] - ey), 2)

    def test_stations_and_coverage(self):
        x, y = tile_of(*HAIZHOU, 10)
        st = self.decoded("stations", 10, x, y)
        self.assert_inside(st)
        self.assertTrue(st["features"])
        for f in st["features"]:
            self.assertEqual(f["type"], 1)
            self.assertIsNotNone(f["id"])
            self.assertEqual(set(f["props"]) - {"id"}, {"name", "tier", "can_dispatch"})
        n = int(self.db.value("SELECT count(*) FROM stations s WHERE ST_Intersects(ST_Transform(s.location, 3857),"
                              " ST_TileEnvelope(10, %d, %d))" % (x, y)))
        self.assertGreaterEqual(len(st["features"]), n)
        cov = self.decoded("coverage", 10, x, y)
        self.assert_inside(cov)
        self.assertTrue(all(f["type"] == 3 for f in cov["features"]))
        self.assertTrue({"station_id", "name", "tier"} <= set(cov["features"][0]["props"]))

    def test_reports_scoped_and_without_personal_data(self):
        z = 6
        x, y = tile_of(*HAIZHOU, z)
        self.assertEqual((x, y), tile_of(*GUANNAN, z))  # one tile holds both counties
        ids = lambda lay: {f["id"] for f in lay["features"]}
        sup = self.decoded("reports", z, x, y, "supervisor")
        self.assert_inside(sup)
        self.assertTrue({self.rep["haizhou"], self.rep["guannan"]} <= ids(sup))
        hz = self.decoded("reports", z, x, y, "dispatcher")
        gn = self.decoded("reports", z, x, y, "dispatcher_gn")
        self.assertIn(self.rep["haizhou"], ids(hz))
        self.assertNotIn(self.rep["guannan"], ids(hz))
        self.assertIn(self.rep["guannan"], ids(gn))
        self.assertNotIn(self.rep["haizhou"], ids(gn))
        gn_ids = set(int(v) for v in self.db.value(
            "SELECT coalesce(string_agg(id::text, ','), '') FROM reports WHERE county_code <> '320724000000'"
            " OR county_code IS NULL").split(",") if v)
        self.assertFalse(ids(gn) & gn_ids)
        for f in sup["features"]:
            self.assertEqual(set(f["props"]), {"status", "category", "escalated", "ack_deadline"} | ({"id"} & set(f["props"])))
            self.assertNotIn("张三", repr(f["props"]))
        self.assertTrue(all(f["props"]["status"] == "new" for f in sup["features"]))
        self.assertIs(sup["features"][0]["props"]["escalated"], False)

    def test_own_report_across_the_county_line(self):
        """A patrol of 海州 that files a report in 灌南 sees it on its reports tile (the visibility
        rule's creator clause: the tile reads reports as the API does); the 灌南 report of someone
        else stays out of it, and leaves it once it is no longer open."""
        patrol = self.srv.login("patrol")
        spot = (GUANNAN[0] + 0.002, GUANNAN[1] + 0.001)
        own = self.srv.create_report(report_body(spot, "minor"), patrol)
        other = self.srv.create_report(report_body((spot[0] + 0.0005, spot[1]), "minor"),
                                       self.tok["dispatcher_gn"])
        self.assertTrue(own["divisions"][1]["code"].startswith("320724"), own["divisions"])
        self.assertEqual(self.srv.request("GET", "/api/v1/reports/%d" % own["id"], token=patrol).status, 200)
        z = 13
        x, y = tile_of(*spot, z)
        r = self.srv.request("GET", "/tiles/reports/%d/%d/%d.mvt" % (z, x, y), token=patrol)
        self.assertEqual(r.status, 200, r)
        ids = {f["id"] for f in decode_tile(r.body)["reports"]["features"]}
        self.assertIn(own["id"], ids)
        self.assertNotIn(other["id"], ids)
        gn = {f["id"] for f in self.decoded("reports", z, x, y, "dispatcher_gn")["features"]}
        self.assertTrue({own["id"], other["id"]} <= gn)  # both lie in 灌南
        r = self.srv.request("POST", "/api/v1/reports/%d/events" % own["id"], json_body={"type": "cancel"},
                             token=patrol)  # a patrol withdraws its own new report
        self.assertEqual(r.status, 200, r)
        r = self.srv.request("GET", "/tiles/reports/%d/%d/%d.mvt" % (z, x, y), token=patrol)
        self.assertEqual(r.status, 204, r)

    def test_units_scoped_with_age(self):
        z = 6
        x, y = tile_of(*HAIZHOU, z)
        hz = self.decoded("units", z, x, y, "dispatcher")
        gn = self.decoded("units", z, x, y, "dispatcher_gn")
        self.assert_inside(hz)
        want = lambda code: set(int(v) for v in self.db.value(
            "SELECT string_agg(id::text, ',') FROM units WHERE division_code = %s AND position IS NOT NULL"
            % harness.lit(code)).split(","))
        self.assertEqual({f["id"] for f in hz["features"]}, want("320706000000"))
        self.assertEqual({f["id"] for f in gn["features"]}, want("320724000000"))
        self.assertIn(self.units["haizhou"], want("320706000000"))
        p = [f["props"] for f in hz["features"] if f["id"] == self.units["haizhou"]][0]
        self.assertEqual(set(p), {"name", "status", "age_s"} | ({"id"} & set(p)))
        self.assertTrue(85 <= p["age_s"] <= 600, p)
        self.assertIn("海州", p["name"])

    def test_dynamic_layers_need_sign_in(self):
        x, y = tile_of(*HAIZHOU, 8)
        for layer in ("reports", "units"):
            self.assertEqual(self.tile(layer, 8, x, y).status, 401)
            r = self.srv.request("GET", "/tiles/%s/8/%d/%d.mvt" % (layer, x, y),
                                 headers={"Authorization": "Bearer nonsense"})
            self.assertEqual(r.status, 401)
            self.assertEqual(self.tile(layer, 8, x, y, "dispatcher").headers["cache-control"],
                             "private, no-store")

    def test_empty_tile_is_204(self):
        for layer in ("divisions", "stations", "coverage"):
            r = self.tile(layer, 10, 0, 0)
            self.assertEqual(r.status, 204, (layer, r))
            self.assertEqual(r.body, b"")
        self.assertEqual(self.tile("reports", 10, 0, 0, "supervisor").status, 204)
        x, y = tile_of(*GUANNAN, 12)
        self.assertEqual(self.tile("reports", 12, x, y, "dispatcher").status, 204)  # another county

    def test_bad_tiles_are_400(self):
        bad = [("divisions", "23", "0", "0"), ("divisions", "-1", "0", "0"), ("divisions", "3", "8", "0"),
               ("divisions", "3", "0", "8"), ("divisions", "3", "a", "0"), ("divisions", "03", "0", "0"),
               ("divisions", "3", "1.5", "0"), ("divisions", "99999999999", "0", "0"),
               ("roads", "3", "0", "0"), ("divisions", "3", "0", "%20")]
        for layer, z, x, y in bad:
            r = self.tile(layer, z, x, y, "supervisor")
            self.assertEqual(r.status, 400, (layer, z, x, y, r))
            self.assertIn(r.error, ("invalid_tile", "invalid_layer"))
        x, y = tile_of(*HAIZHOU, 10)
        r = self.tile("divisions", 10, x, y, query="?crs=bd09")
        self.assertEqual((r.status, r.error), (400, "invalid_crs"))
        self.assertEqual(self.tile("divisions", 22, 2 ** 22 - 1, 2 ** 22 - 1).status, 204)

    def test_static_tiles_cached_and_dropped_on_change(self):
        z = 12
        code = self.db.value("SELECT code FROM divisions WHERE level = 'community' AND geom IS NOT NULL"
                             " ORDER BY code DESC LIMIT 1")
        lon, lat = (float(v) for v in self.db.value(
            "SELECT ST_X(p) || ',' || ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM divisions"
            " WHERE code = %s) s" % harness.lit(code)).split(","))
        x, y = tile_of(lon, lat, z)
        first = self.tile("divisions", z, x, y)
        second = self.tile("divisions", z, x, y)
        self.assertEqual(second.headers["x-tile-cache"], "hit")
        self.assertEqual(first.body, second.body)
        self.assertEqual(second.headers["cache-control"], "public, max-age=60")
        old = {f["props"]["name"] for f in decode_tile(second.body)["divisions"]["features"]
               if f["props"]["code"] == code}
        self.assertEqual(len(old), 1)
        self.db.sql("UPDATE divisions SET name = '测试新名社区' WHERE code = %s" % harness.lit(code))
        deadline = time.time() + 10
        while time.time() < deadline:
            lay = decode_tile(self.tile("divisions", z, x, y).body)["divisions"]
            names = {f["props"]["name"] for f in lay["features"] if f["props"]["code"] == code}
            if names == {"测试新名社区"}:
                break
            time.sleep(0.1)
        self.assertEqual(names, {"测试新名社区"})
        self.db.sql("UPDATE divisions SET name = %s WHERE code = %s" % (harness.lit(old.pop()), harness.lit(code)))

    def test_gcj02_shifts_features(self):
        z = 14
        lon, lat = HAIZHOU
        x, y = tile_of(lon, lat, z)
        w = self.decoded("reports", z, x, y, "supervisor")
        g = self.decoded("reports", z, x, y, "supervisor", "?crs=gcj02")
        pw = [f["points"][0] for f in w["features"] if f["id"] == self.rep["haizhou"]][0]
        pg = [f["points"][0] for f in g["features"] if f["id"] == self.rep["haizhou"]][0]
        import refcoords
        glon, glat = refcoords.wgs84_to_gcj02(lon, lat)
        ex, ey = pixel_of(glon, glat, z, x, y)
        self.assertGreater(abs(pg[0] - pw[0]) + abs(pg[1] - pw[1]), 20)   # hundreds of metres
        self.assertLess(abs(pg[0] - ex), 5)   # one shift per tile: within ~3 m at z14
        self.assertLess(abs(pg[1] - ey), 5)


if __name__ == "__main__":
    unittest.main()
