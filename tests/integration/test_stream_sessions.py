"""test_stream_sessions.py - event streams bound to the session that opened them (issue 23, finding
6), one user's share of the streams (finding 7), the headers of the 200 stream reply (finding 8)
and HEAD (finding 10), on two instances of one database."""
import socket
import time
import unittest

import harness
from test_events import Sse
from test_reports import new_body, point_in_haizhou

ORIGIN = "https://console.example.cn"


def user_add(db, name, password, role="dispatcher", division="320706"):
    r = harness.run_patrold(["user", "add", name, "--role", role, "--division", division], db,
                            input=password + "\n")
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stderr


def status_of(srv, query, headers=None):
    """The status a new stream request gets (the connection is closed at once)."""
    s = Sse(srv.port, "/api/v1/events" + query, headers)
    s.close()
    return s.status


def closed_within(s, seconds):
    """Seconds until the server ended stream s (read to its end), or None if it was still open
    after `seconds`. Events and keep-alives that come meanwhile are read and dropped."""
    t0 = time.time()
    deadline = t0 + seconds
    try:
        while True:
            if s.readline(deadline) == b"":
                return time.time() - t0
    except (socket.timeout, TimeoutError):
        return None
    except OSError:  # reset by the server: ended too
        return time.time() - t0


class StreamSessionsTest(harness.FreshDbCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = {"PATROLD_ACCESS_LOG": "0", "PATROLD_CORS_ORIGINS": "https://other.example " + ORIGIN}
        cls.a = harness.Server(cls.db, env=env, threads=512)
        cls.b = harness.Server(cls.db, env=env, threads=64)
        cls.hz = point_in_haizhou(cls.db)
        cls.admin = cls.a.login("admin")

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()
        super().tearDownClass()

    def stream(self, srv, token=None, query="", headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        s = Sse(srv.port, "/api/v1/events" + query, h)
        self.addCleanup(s.close)
        return s

    def stream_token(self, srv, token):
        r = srv.request("POST", "/api/v1/events/token", token=token)
        self.assertEqual(r.status, 200, r)
        return r.json()["token"]

    def open_streams(self, token):
        """Streams of one session: Bearer on A and B, a stream token on B; all set up."""
        st = self.stream_token(self.a, token)
        streams = [self.stream(self.a, token), self.stream(self.b, token),
                   self.stream(self.b, query="?access_token=" + st)]
        self.assertEqual([s.status for s in streams], [200] * 3)
        return streams, st

    def assert_closed_within_1s(self, streams, what):
        took = [closed_within(s, 3.0) for s in streams]
        print("\nmeasured: %s -> its streams closed after %s s (A, B, B by stream token)"
              % (what, ", ".join("%.2f" % t if t is not None else "never" for t in took)))
        self.assertTrue(all(t is not None and t < 1.0 for t in took), took)

    def test_logout_closes_only_that_sessions_streams(self):
        t1, t2 = self.a.login("dispatcher"), self.b.login("dispatcher")
        mine, st = self.open_streams(t1)
        other = self.stream(self.a, t2)  # the same user at another desk: another session
        self.assertEqual(self.a.request("POST", "/api/v1/auth/logout", token=t1).status, 204)
        self.assert_closed_within_1s(mine, "logout")
        self.assertEqual(status_of(self.b, "?access_token=" + st), 401)
        rid = self.a.create_report(new_body(*self.hz), self.admin)["id"]
        got = other.collect(lambda g: any(e["data"]["entity_id"] == rid for e in g))
        self.assertTrue(any(e["event"] == "report.created" and e["data"]["entity_id"] == rid for e in got), got)
        self.assertFalse([e for e in got if e["event"] == "session.revoked"], got)

    def test_stream_token_lives_as_long_as_its_session(self):
        """A stream token expires with its session (EventSource reconnects with the same URL), and a
        stream ends when its session expires."""
        r = self.a.request("POST", "/api/v1/auth/login", {"username": "supervisor", "password": "demo"})
        tok = r.json()["token"]
        t = self.a.request("POST", "/api/v1/events/token", token=tok).json()
        self.assertEqual(t["expires_at"], r.json()["expires_at"])
        self.assertEqual(t["token"], self.stream_token(self.b, tok))  # one per session, any instance
        self.db.sql("UPDATE sessions SET expires_at = now() + interval '2 seconds'"
                    " WHERE id = %s", int(t["token"].split(".")[0]))
        s = self.stream(self.b, query="?access_token=" + t["token"])
        self.assertEqual(s.status, 200)
        took = closed_within(s, 5.0)
        self.assertIsNotNone(took)
        self.assertLess(took, 3.5)
        self.assertEqual(status_of(self.a, "?access_token=" + t["token"]), 401)

    def test_password_change_closes_streams_and_old_stream_tokens(self):
        user_add(self.db, "desk_pw", "first-password-1")
        tok = self.a.login("desk_pw", "first-password-1")
        streams, st = self.open_streams(tok)
        r = self.b.request("POST", "/api/v1/auth/password", token=tok,
                           json_body={"current_password": "first-password-1", "new_password": "second-password-2"})
        self.assertEqual(r.status, 200, r)
        self.assert_closed_within_1s(streams, "password change")
        for srv in (self.a, self.b):  # minted before the change: opens nothing on either instance
            self.assertEqual(status_of(srv, "?access_token=" + st), 401)
        fresh = self.stream_token(self.a, self.a.login("desk_pw", "second-password-2"))
        self.assertEqual(self.stream(self.b, query="?access_token=" + fresh).status, 200)

    def test_user_add_revocation_closes_streams(self):
        user_add(self.db, "desk_cmd", "first-password-1")
        streams, st = self.open_streams(self.b.login("desk_cmd", "first-password-1"))
        self.assertIn("1 session(s) revoked", user_add(self.db, "desk_cmd", "other-password-2"))
        self.assert_closed_within_1s(streams, "patrold user add")
        self.assertEqual(status_of(self.a, "?access_token=" + st), 401)

    def test_session_revoked_is_never_sent(self):
        """Revocations are rows of the events table: a stream from the very beginning (the table)
        and a live one never show them."""
        live = self.stream(self.a, self.admin)
        t = self.b.login("patrol")
        self.stream(self.b, t)
        self.assertEqual(self.b.request("POST", "/api/v1/auth/logout", token=t).status, 204)
        marker = self.a.create_report(new_body(*self.hz), self.admin)["id"]
        n = self.db.value("SELECT count(*) FROM events WHERE kind = 'session.revoked'")
        self.assertGreaterEqual(n, 1)
        for s in (live, self.stream(self.b, self.admin, "?after=0")):
            got = s.collect(lambda g: any(e["data"]["entity_id"] == marker and e["event"] == "report.created"
                                          for e in g), timeout=15)
            self.assertTrue(got)
            self.assertEqual({e["event"] for e in got} - {"report.created", "report.updated", "unit.updated"},
                             set(), got)

    def test_one_user_cannot_take_every_stream(self):
        """Finding 7: one community user opening 400 streams locked the dispatchers out (503
        too_many_streams); now 8 of one user per instance (429 with Retry-After), and a stream its
        client closed frees its place within two keep-alives (3 s each)."""
        tok = self.a.login("community")
        held, refused = [], []
        try:
            for _ in range(400):
                s = Sse(self.a.port, "/api/v1/events", {"Authorization": "Bearer " + tok})
                (held if s.status == 200 else refused).append(s)
                if s.status != 200:
                    s.close()
            statuses = {s.status for s in refused}
            print("\nmeasured: one community user, 400 stream requests: %d opened, %d refused %s"
                  % (len(held), len(refused), sorted(statuses)))
            self.assertEqual(len(held), 8)
            self.assertEqual(statuses, {429})
            self.assertEqual(refused[0].headers.get("retry-after"), "7")
            for user in ("dispatcher", "dispatcher_gn", "supervisor"):
                self.assertEqual(self.stream(self.a, self.a.login(user)).status, 200, user)
            for s in held:
                s.close()
            t0, status = time.time(), 429
            while status == 429 and time.time() - t0 < 15:
                time.sleep(0.25)
                status = status_of(self.a, "", {"Authorization": "Bearer " + tok})
            print("measured: 8 streams closed by their client -> the user may open one again after %.1f s"
                  % (time.time() - t0))
            self.assertEqual(status, 200)
            self.assertLess(time.time() - t0, 7.5)
        finally:
            for s in held:
                s.close()

    def test_stream_reply_headers(self):
        """Finding 8: the 200 stream reply carries CORS for a listed origin, Vary and the security
        headers, as its 401 does."""
        tok = self.a.login("dispatcher")
        ok = self.stream(self.a, tok, headers={"Origin": ORIGIN})
        denied = Sse(self.a.port, "/api/v1/events", {"Origin": ORIGIN})
        denied.close()
        foreign = self.stream(self.a, tok, headers={"Origin": "https://evil.example"})
        for s, status in ((ok, 200), (denied, 401)):
            self.assertEqual(s.status, status)
            self.assertEqual(s.headers.get("access-control-allow-origin"), ORIGIN, s.headers)
            self.assertIn("Origin", s.headers.get("vary", ""))
            for h in ("content-security-policy", "x-frame-options", "x-content-type-options",
                      "referrer-policy", "x-request-id"):
                self.assertIn(h, s.headers, (status, h))
        self.assertTrue(ok.headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(ok.headers.get("cache-control"), "no-store")
        self.assertEqual(foreign.status, 200)
        self.assertNotIn("access-control-allow-origin", foreign.headers)
        self.assertIn("Origin", foreign.headers.get("vary", ""))

    def test_head_is_headers_only(self):
        """Finding 10: HEAD /api/v1/events answers the headers and ends, without a stream place."""
        tok = self.b.login("community")
        held = [self.stream(self.b, tok) for _ in range(8)]  # the user's every place on B
        self.assertEqual([s.status for s in held], [200] * 8)
        for auth, want in ((tok, 200), (None, 401)):
            sock = socket.create_connection(("127.0.0.1", self.b.port), timeout=5)
            self.addCleanup(sock.close)
            req = "HEAD /api/v1/events HTTP/1.1\r\nHost: x\r\n" + (
                "Authorization: Bearer %s\r\n" % auth if auth else "") + "\r\n"
            sock.sendall(req.encode())
            data, t0 = b"", time.time()
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                self.assertTrue(chunk, data)
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 %d" % want), head)
            if want == 200:  # then the server closes: no body, no stream
                self.assertIn(b"text/event-stream", head)
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                self.assertEqual(body, b"")
                self.assertLess(time.time() - t0, 2)


if __name__ == "__main__":
    unittest.main()
