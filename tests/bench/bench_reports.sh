# POST /api/v1/reports throughput, synchronous_commit on (scripts/pg.sh): single reports with wrk (16
# and 64 connections) and 100-item batches (16 connections), measured in this run both with group
# commit (report_group_commit = 1: concurrent requests share a transaction, service/core/group.h) and
# with one transaction per request (0), alternating for BENCH_ROUNDS rounds in ABBA order (the
# machine's other load then touches both alike), each after a short warm-up (the first request on
# each connection opens its PostgreSQL session); then the ceiling of one transaction per report: the
# same database work driven by pgbench (64 clients; pgbench_reports.sql: the token lookup and the
# very insert statement the service runs).
# Prints per round reports_{group,onebyone}_rN_{c16,c64,batch100}_rps (and _p50_ms, _p99_ms of the
# single posts), the means reports_{group,onebyone}_*_rps, reports_ratio_group_to_onebyone_*,
# reports_pgbench_tps and the ratios of the group commit means to it. Targets: single (64
# connections) >= 2x pgbench, batches >= 10x, p99 < 50 ms.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
DUR=${BENCH_SECONDS:-30}
WARM=${BENCH_WARMUP_SECONDS:-3}
HERE=$ROOT/tests/bench
psql_db() { psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }
ratio() { python3 -c "print(round($1 / max($2, 1), 3))"; }

# bench_single URL TOKEN CONNS PREFIX RUN: wrk posting single reports for DUR seconds; prints
# PREFIX_rps, _p50_ms, _p99_ms, _errors, _not_created.
bench_single() {
  local out
  out=$(BENCH_TOKEN=$2 BENCH_RUN=$5 BENCH_PREFIX=$4 wrk -t2 -c"$3" -d"${DUR}s" --latency -s "$HERE/reports.lua" "$1")
  echo "$4_rps $(wrk_rps "$out")"
  grep -E "^$4_" <<<"$out"
}

# bench_batches URL TOKEN SIZE CONNS PREFIX: SIZE-item batches on CONNS connections for DUR seconds;
# prints PREFIX_rps (reports created per second), PREFIX_errors.
bench_batches() {
  python3 - "$@" "$DUR" <<'PY'
import http.client, json, random, sys, threading, time, urllib.parse, uuid
url, token, size, conns, prefix, dur = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
u = urllib.parse.urlparse(url)
created = [0] * conns
errors = [0] * conns
deadline = time.time() + dur

def body(rnd):
    return json.dumps({"reports": [{
        "client_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "category": "vagrant",
        "location": {"lon": round(118.6 + rnd.random() * 0.9, 6), "lat": round(34.1 + rnd.random() * 0.7, 6)},
        "observed_at": "2024-05-01T08:00:00+08:00", "description": "bench batch"} for _ in range(size)]})

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
ts = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
dt = time.time() - t0
print("%s_rps %d\n%s_errors %d" % (prefix, int(sum(created) / dt), prefix, sum(errors)))
PY
}

# bench_mode MODE GROUP: one server with report_group_commit = GROUP; single posts on 16 and 64
# connections, batches of 100 on 16; lines named reports_MODE_* (MODE: group_r1, onebyone_r1...).
bench_mode() {
  local db url token before
  db=$(bench_fresh_db)
  url=$(bench_server "$db" PATROLD_THREADS=72 PATROLD_REPORT_GROUP_COMMIT="$2")
  token=$(bench_login "$url" patrol)
  BENCH_TOKEN=$token BENCH_RUN=1 BENCH_PREFIX=reports_warmup \
    wrk -t2 -c64 -d"${WARM}s" --latency -s "$HERE/reports.lua" "$url" >/dev/null
  before=$(psql_db "$db" "SELECT count(*) FROM reports")
  bench_single "$url" "$token" 16 "reports_$1_c16" 2
  bench_single "$url" "$token" 64 "reports_$1_c64" 3
  echo "reports_$1_stored $(psql_db "$db" "SELECT count(*) - $before FROM reports")"
  bench_batches "$url" "$token" 100 16 "reports_$1_batch100"
  bench_cleanup
}

# ---- reports through HTTP: group commit and one transaction per request, alternating ----
# BENCH_ROUNDS rounds (default 2) of both modes, one after the other, so that a change in the
# machine's other load touches both; the figures are the means over the rounds.
all=""
for round in $(seq "${BENCH_ROUNDS:-2}"); do
  specs="group:1 onebyone:0"; [ $((round % 2)) -eq 0 ] && specs="onebyone:0 group:1"  # ABBA order
  for spec in $specs; do
    out=$(bench_mode "${spec%:*}_r$round" "${spec#*:}")
    echo "$out"
    all+="$out"$'\n'
  done
done
mean() { awk -v re="^reports_$1_r[0-9]+_$2\$" '$1 ~ re {s += $2; n++} END {print (n ? int(s / n) : 0)}' <<<"$all"; }
for m in c16 c64 batch100; do
  echo "reports_group_${m}_rps $(mean group "${m}_rps")"
  echo "reports_onebyone_${m}_rps $(mean onebyone "${m}_rps")"
  echo "reports_ratio_group_to_onebyone_$m $(ratio "$(mean group "${m}_rps")" "$(mean onebyone "${m}_rps")")"
done
for m in c16 c64; do
  echo "reports_group_${m}_p99_ms_mean $(mean group "${m}_p99_ms")"
  echo "reports_onebyone_${m}_p99_ms_mean $(mean onebyone "${m}_p99_ms")"
done
single=$(mean group c64_rps)
batch=$(mean group batch100_rps)

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
echo "reports_ratio_batch_to_pgbench $(ratio "$batch" "$tps")"

# ---- context: every acknowledged report waits for a WAL flush; how many can this disk do? ----
tmpf=$(mktemp /tmp/patrold-fsync.XXXXXX)
fs=$("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_test_fsync" -s 1 -f "$tmpf" 2>/dev/null |
     awk '$1 == "fdatasync" {print int($2); exit}') || true
rm -f "$tmpf"
echo "reports_disk_fdatasync_per_s ${fs:-unknown}"
