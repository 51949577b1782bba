"""Place search that knows where the caller is (GET /api/v1/places with a bearer token): with all
665,276 divisions of China imported, names inside the caller's division come first, then by tier,
then by distance to near=; without a token the route is public and ranks as before."""
import os
import time
import unittest
import urllib.parse

import harness

NATIONAL = os.path.join(harness.ROOT, "..", "shared", "data", "china-divisions.csv.gz")
if not os.path.exists(NATIONAL):
    NATIONAL = "/work/shared/data/china-divisions.csv.gz"
HAIZHOU_CENTRE = "119.17,34.60"  # the map centre of a 海州区 dispatcher


@unittest.skipUnless(os.path.exists(NATIONAL), "the national division list is absent")
class NationalHome(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.run_patrold(["import-divisions", NATIONAL], cls.db, check=True, timeout=900)
        cls.srv = harness.Server(cls.db, wait_ready=False)
        cls.srv.wait_ready(timeout=600)  # the gazetteer of all China takes a while to build
        cls.dispatcher = cls.srv.login("dispatcher")  # 海州区 320706
        cls.guannan = cls.srv.login("dispatcher_gn")  # 灌南县 320724

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        super().tearDownClass()

    def items(self, text, token=None, **params):
        params["q"] = text
        r = self.srv.request("GET", "/api/v1/places?" + urllib.parse.urlencode(params), token=token)
        self.assertEqual(r.status, 200, r)
        return r.json()["items"]

    def test_national_list_is_loaded(self):
        self.assertGreater(self.db.value("SELECT count(*) FROM divisions"), 665000)
        far = self.items("鼓楼", limit=50)
        self.assertTrue(any(h.get("code", "").startswith("3201") for h in far))  # 南京 鼓楼区

    def test_gulou_from_haizhou_finds_the_local_community_first(self):
        plain = self.items("鼓楼", limit=10)
        self.assertFalse(plain[0].get("code", "").startswith("320706"), plain[0])  # as the issue saw
        for params in ({}, {"near": HAIZHOU_CENTRE}):
            hits = self.items("鼓楼", self.dispatcher, limit=10, **params)
            self.assertTrue(hits[0]["code"].startswith("320706"), hits[0])
            self.assertIn("鼓楼", hits[0]["name"])
            self.assertIn("海州区", [p["name"] for p in hits[0]["parent_chain"]])
        # the others follow, all of them: the same set as without a token
        many = self.items("鼓楼", self.dispatcher, limit=200)
        self.assertEqual(sorted(h["code"] for h in many if h.get("code")),
                         sorted(h["code"] for h in self.items("鼓楼", limit=200) if h.get("code")))
        # another county's dispatcher does not get 海州区's community first
        gn = self.items("鼓楼", self.guannan, limit=10)
        self.assertFalse(gn[0]["code"].startswith("320706"), gn[0])

    def test_hzq_finds_lianyungang_haizhou_first(self):
        plain = self.items("hzq", limit=10)
        self.assertEqual(plain[0]["code"][:2], "21")  # 辽宁 阜新 海州区 without a token
        hits = self.items("hzq", self.dispatcher, limit=10)
        self.assertEqual(hits[0]["code"], "320706000000", hits[0])
        self.assertEqual(hits[0]["name"], "海州区")
        coded = [h["code"] for h in hits if h.get("code")]
        self.assertEqual(coded[1], "210902000000", hits)  # then the namesake, as ranked before

    def test_home_group_then_tier_then_distance(self):
        hits = self.items("社区", self.dispatcher, limit=100, near=HAIZHOU_CENTRE)
        homes = [h["code"].startswith("320706") for h in hits]
        self.assertIn(True, homes)
        first_other = homes.index(False) if False in homes else len(homes)
        self.assertTrue(all(homes[:first_other]) and not any(homes[first_other:]), homes)
        tiers = ["exact", "prefix", "substring", "pinyin"]
        for group in (hits[:first_other], hits[first_other:]):
            keys = [(tiers.index(h["match"]), h["distance_m"]) for h in group]
            self.assertEqual(keys, sorted(keys))

    def test_within_keeps_filtering(self):
        hits = self.items("鼓楼", self.dispatcher, limit=50, within="3201")
        self.assertTrue(hits)
        self.assertTrue(all(h["code"].startswith("3201") for h in hits), hits)
        self.assertEqual([h["code"] for h in hits],
                         [h["code"] for h in self.items("鼓楼", limit=50, within="3201")])

    def test_bad_and_revoked_tokens_are_refused(self):
        for h in ({"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer "}):
            r = self.srv.request("GET", "/api/v1/places?q=hzq", headers=h)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.error, "unauthorized")
        # not a bearer token: the public search, as without one
        r = self.srv.request("GET", "/api/v1/places?q=hzq&limit=10", headers={"Authorization": "Basic eDp5"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["items"], self.items("hzq", limit=10))
        # a revoked session is refused, not silently served the public order
        tok = self.srv.login("dispatcher")
        self.assertEqual(self.srv.request("POST", "/api/v1/auth/logout", token=tok).status, 204)
        r = self.srv.request("GET", "/api/v1/places?q=hzq", token=tok)
        self.assertEqual(r.status, 401, r)


if __name__ == "__main__":
    unittest.main()
