# POST /api/v1/reports throughput: single reports with wrk (64 connections), 500-item batches, and the
# ceiling: the same database work driven by pgbench (64 clients) against the same cluster
# (pgbench_reports.sql: the token lookup and the very insert statement the service runs).
# Prints reports_single_rps, _p50_ms, _p99_ms (steady state, after a short warm-up that is printed as
# reports_warmup_*: the first request on each of the 64 connections opens its PostgreSQL session),
# reports_batch_rps, reports_pgbench_tps and the ratios to it. Targets: >= 3000/s single, 20000/s
# batched, p99 < 50 ms, single >= half of pgbench.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
DUR=${BENCH_SECONDS:-30}
WARM=${BENCH_WARMUP_SECONDS:-3}
HERE=$ROOT/tests/bench
psql_db() { psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }
ratio() { python3 -c "print(round($1 / max($2, 1), 3))"; }

# ---- single reports through HTTP ----
db=$(bench_fresh_db)
url=$(bench_server "$db" PATROLD_THREADS=72)
token=$(bench_login "$url" patrol)
BENCH_TOKEN=$token BENCH_RUN=1 BENCH_PREFIX=reports_warmup \
  wrk -t2 -c64 -d"${WARM}s" --latency -s "$HERE/reports.lua" "$url" |
  awk '/^Requests\/sec/ {print "reports_warmup_rps", int($2)} /^reports_warmup_p99/'
before=$(psql_db "$db" "SELECT count(*) FROM reports")
out=$(BENCH_TOKEN=$token BENCH_RUN=2 wrk -t2 -c64 -d"${DUR}s" --latency -s "$HERE/reports.lua" "$url")
single=$(wrk_rps "$out")
echo "reports_single_rps $single"
grep -E '^reports_single_' <<<"$out"
stored=$(psql_db "$db" "SELECT count(*) - $before FROM reports")
echo "reports_single_stored $stored"

# ---- 500-item batches on 4 connections ----
batch=$(python3 - "$url" "$token" "$DUR" <<'PY'
import http.client, json, random, sys, threading, time, urllib.parse, uuid
url, token, dur = sys.argv[1], sys.argv[2], float(sys.argv[3])
u = urllib.parse.urlparse(url)
created = [0] * 4
errors = [0] * 4
deadline = time.time() + dur

def body(rnd):
    return json.dumps({"reports": [{
        "client_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "category": "vagrant",
        "location": {"lon": round(118.6 + rnd.random() * 0.9, 6), "lat": round(34.1 + rnd.random() * 0.7, 6)},
        "observed_at": "2024-05-01T08:00:00+08:00", "description": "bench batch"} for _ in range(500)]})

def run(i):
    rnd = random.Random(time.time_ns() + i)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    pending = body(rnd)
    while time.time() < deadline:
        c.request("POST", "/api/v1/reports/batch", body=pending,
                  headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        r = c.getresponse()
        data = r.read()
        pending = body(rnd)          # made while nothing else is timed... roughly: the client is light
        if r.status != 200:
            errors[i] += 1
            continue
        res = json.loads(data)["results"]
        created[i] += sum(1 for x in res if x["status"] == "created")
        errors[i] += sum(1 for x in res if x["status"] != "created")   # "existing" would be a repeated id

t0 = time.time()
ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
dt = time.time() - t0
print("%d %d" % (int(sum(created) / dt), sum(errors)))
PY
)
echo "reports_batch_rps ${batch% *}"
echo "reports_batch_errors ${batch#* }"
bench_cleanup

# ---- the ceiling: the same database work with pgbench ----
db2=$(bench_fresh_db)
read -r city county town community station uid < <(psql_db "$db2" "
  SELECT c.city_code, c.county_code, c.town_code, c.community_code, coalesce(s.id, 1), u.id
  FROM (SELECT d.code AS community_code, t.code AS town_code, t.parent_code AS county_code,
               k.parent_code AS city_code
        FROM divisions d JOIN divisions t ON t.code = d.parent_code JOIN divisions k ON k.code = t.parent_code
        WHERE d.level = 'community' AND d.code LIKE '320706%' ORDER BY d.code LIMIT 1) c
  LEFT JOIN LATERAL (SELECT id FROM stations ORDER BY id LIMIT 1) s ON true
  JOIN users u ON u.username = 'patrol'" | tr '|' ' ')
tokhash=$(psql_db "$db2" "INSERT INTO sessions (token_hash, user_id, expires_at)
  VALUES (sha256('pgbench'::bytea), $uid, now() + interval '1 day') RETURNING token_hash")
pg=$(pgbench -h "$PATROLD_TEST_PGHOST" -U postgres -n -M prepared -c 64 -j 2 -T "$DUR" \
     -D city="$city" -D county="$county" -D town="$town" -D community="$community" -D station="$station" \
     -D uid="$uid" -D tokhash="$tokhash" -f "$HERE/pgbench_reports.sql" "$db2" 2>&1) || { echo "$pg" >&2; exit 1; }
tps=$(awk '/^tps = / {print int($3); exit}' <<<"$pg")
echo "reports_pgbench_tps $tps"
echo "reports_pgbench_latency_ms $(awk '/^latency average/ {print $4; exit}' <<<"$pg")"
echo "reports_ratio_single_to_pgbench $(ratio "$single" "$tps")"
echo "reports_ratio_batch_to_pgbench $(ratio "${batch% *}" "$tps")"

# ---- context: every acknowledged report waits for a WAL flush; how many can this disk do? ----
tmpf=$(mktemp /tmp/patrold-fsync.XXXXXX)
fs=$("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_test_fsync" -s 1 -f "$tmpf" 2>/dev/null |
     awk '$1 == "fdatasync" {print int($2); exit}') || true
rm -f "$tmpf"
echo "reports_disk_fdatasync_per_s ${fs:-unknown}"
