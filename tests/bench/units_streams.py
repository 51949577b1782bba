"""units_streams.py URL TOKEN REPORT_ID STREAMS SECONDS - live-event benchmarks (bench_units.sh):
commit-to-event latency with 100 stream clients, and request throughput / report ingest with STREAMS
stream clients connected against none. Prints `name value` lines."""
import http.client
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

url, token, rid, nstreams, dur = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
u = urllib.parse.urlparse(url)
HERE = os.path.dirname(os.path.abspath(__file__))


class Streams:
    """n text/event-stream clients read by one thread; records when each report event arrives."""

    def __init__(self, n):
        self.sel = selectors.DefaultSelector()
        self.arrivals = {}  # report id -> [arrival times]
        self.lock = threading.Lock()
        self.socks = []
        for _ in range(n):
            s = socket.create_connection((u.hostname, u.port))
            s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode())
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, [b""])
            self.socks.append(s)
        self.stop = False
        self.ok = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            for key, _ in self.sel.select(0.2):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    self.sel.unregister(key.fileobj)
                    continue
                now = time.time()
                buf = key.data[0] + data
                *lines, key.data[0] = buf.split(b"\n")
                for line in lines:
                    if line.startswith(b"HTTP/1.1 200"):
                        self.ok += 1
                    if line.startswith(b"data: "):
                        ev = json.loads(line[6:])
                        if ev["kind"] == "report.created":
                            with self.lock:
                                self.arrivals.setdefault(ev["entity_id"], []).append(now)

    def close(self):
        self.stop = True
        self.t.join()
        for s in self.socks:
            s.close()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")


def post_report(c):
    body = json.dumps({"client_id": str(uuid.uuid4()), "category": "vagrant", "location": {"lon": 119.2, "lat": 34.55},
                       "observed_at": "2024-05-01T08:00:00+08:00"})
    t0 = time.time()
    c.request("POST", "/api/v1/reports", body=body, headers={"Content-Type": "application/json",
                                                             "Authorization": "Bearer " + token})
    r = c.getresponse()
    data = r.read()
    return t0, json.loads(data)["id"] if r.status == 201 else None


# ---- candidates: 2,000 sequential requests; total latency and the in-memory ranking's own time ----
c = http.client.HTTPConnection(u.hostname, u.port)
tot, rank = [], []
for i in range(2000):
    t0 = time.time()
    c.request("GET", "/api/v1/reports/%s/candidates?limit=5" % rid, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    r.read()
    tot.append(time.time() - t0)
    m = re.search(r"dur=([\d.]+)", r.getheader("Server-Timing") or "")
    if m:
        rank.append(float(m.group(1)) / 1000)
print("candidates_seq_p50_ms %.3f" % (pct(tot, 50) * 1000))
print("candidates_seq_p99_ms %.3f" % (pct(tot, 99) * 1000))
print("candidates_rank_p50_ms %.3f" % (pct(rank, 50) * 1000))
print("candidates_rank_p99_ms %.3f" % (pct(rank, 99) * 1000))
c.close()

# ---- commit-to-event latency with 100 clients ----
st = Streams(100)
time.sleep(1)
c = http.client.HTTPConnection(u.hostname, u.port)
sent = {}
for i in range(200):
    t0, rid2 = post_report(c)
    if rid2:
        sent[rid2] = t0
    time.sleep(0.02)
time.sleep(1)
lat = [a - sent[r] for r, arr in st.arrivals.items() if r in sent for a in arr]
print("events_clients %d" % st.ok)
print("events_delivered %d of %d" % (len(lat), len(sent) * 100))
print("events_latency_p50_ms %.1f" % (pct(lat, 50) * 1000))
print("events_latency_p95_ms %.1f" % (pct(lat, 95) * 1000))
st.close()


def wrk(args):
    out = subprocess.run(["wrk"] + args, capture_output=True, text=True).stdout
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    return float(m.group(1)) if m else 0.0


def measure(tag):
    get = wrk(["-t2", "-c16", "-d%ds" % dur, "-H", "Authorization: Bearer " + token, url + "/api/v1/reports/" + rid])
    env = dict(os.environ, BENCH_TOKEN=token, BENCH_RUN=str(int(time.time()) % 100000), BENCH_PREFIX="x")
    ing = subprocess.run(["wrk", "-t2", "-c16", "-d%ds" % dur, "-s", os.path.join(HERE, "reports.lua"), url],
                         capture_output=True, text=True, env=env).stdout
    m = re.search(r"^Requests/sec:\s+([\d.]+)", ing, re.M)
    ing = float(m.group(1)) if m else 0.0
    print("streams_%s_get_rps %d" % (tag, get))
    print("streams_%s_ingest_rps %d" % (tag, ing))
    return get, ing


g0, i0 = measure("none")
st = Streams(nstreams)
time.sleep(2)
print("streams_connected %d" % st.ok)
g1, i1 = measure("connected")
st.close()
print("streams_ratio_get %.3f" % (g1 / max(g0, 1)))
print("streams_ratio_ingest %.3f" % (i1 / max(i0, 1)))
