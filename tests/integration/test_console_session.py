"""What every console session asks besides its data (issue 20): /favicon.ico is an icon, not a 404,
with and without a session; GET /api/v1/auth/me names the user's division for the header."""
import struct
import unittest

import harness


class ConsoleSession(harness.ServerCase):
    def test_favicon_is_an_icon_in_every_session(self):
        tok = self.srv.login("dispatcher")
        for token in (None, tok):
            r = self.srv.request("GET", "/favicon.ico", token=token)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["content-type"], "image/x-icon")
            reserved, kind, count = struct.unpack("<HHH", r.body[:6])
            self.assertEqual((reserved, kind), (0, 1))  # an ICO directory
            sizes = set()
            for i in range(count):
                w, h, _, _, _, _, length, offset = struct.unpack("<BBBBHHII", r.body[6 + 16 * i:22 + 16 * i])
                self.assertEqual(r.body[offset:offset + 8], b"\x89PNG\r\n\x1a\n")
                self.assertLessEqual(offset + length, len(r.body))
                sizes.add(w)
            self.assertIn(32, sizes)
            self.assertIn(16, sizes)
            # revalidated like every static file: unchanged is a 304
            again = self.srv.request("GET", "/favicon.ico", headers={"If-None-Match": r.headers["etag"]})
            self.assertEqual(again.status, 304)
        self.assertEqual(self.srv.request("HEAD", "/favicon.ico").status, 200)

    def test_me_names_the_division(self):
        for who, code, name in (("dispatcher", "320706000000", "海州区"), ("dispatcher_gn", "320724000000", "灌南县"),
                                ("patrol", "320706000000", "海州区")):
            me = self.srv.request("GET", "/api/v1/auth/me", token=self.srv.login(who))
            self.assertEqual(me.status, 200, me)
            self.assertEqual((me.json()["division_code"], me.json()["division_name"]), (code, name))
        admin = self.srv.request("GET", "/api/v1/auth/me", token=self.srv.login("admin")).json()
        self.assertEqual(admin["division_name"],
                         self.db.value("SELECT name FROM divisions WHERE code = %s" % harness.lit(admin["division_code"])))
        self.assertIsNotNone(admin["division_name"])


if __name__ == "__main__":
    unittest.main()
