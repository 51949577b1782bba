# Units and live events: position fixes through the API in batches of 100 against COPY of the same
# rows (the ceiling), dispatch candidates with 5,000 units, commit-to-event latency with 100 stream
# clients, and request throughput / report ingest with stream clients connected against none.
# Targets (issue 9): 20,000 fixes/s, candidates p99 < 2 ms, event p95 < 200 ms, ratio >= 0.8.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
DUR=${BENCH_SECONDS:-15}
HERE=$ROOT/tests/bench
STREAMS=${BENCH_STREAMS:-500}
psql_db() { psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }
ratio() { python3 -c "print(round($1 / max($2, 1), 3))"; }

# ---- fixes through the API: 64 units, batches of 100, 32 connections ----
# positions_api ROOT BIN: prints the fixes/s (after the wrk lines); the database stays in $db.
positions_api() {
  db=$(ROOT=$1 bench_fresh_db)
  psql_db "$db" "INSERT INTO units (name, station_id, division_code)
    SELECT 'bench' || g, s.id, s.division_code FROM generate_series(1, 64) g,
    (SELECT id, division_code FROM stations WHERE tier = 'county' ORDER BY id LIMIT 1) s"
  units=$(psql_db "$db" "SELECT string_agg(id::text, ',') FROM units WHERE name LIKE 'bench%'")
  url=$(ROOT=$1 PATROLD_BIN=$2 bench_server "$db" PATROLD_THREADS=40)
  token=$(bench_login "$url" admin)
  t0=$(python3 -c 'import time; print(int(time.time()) - 20 * 3600)')
  before=$(psql_db "$db" "SELECT count(*) FROM unit_positions")
  out=$(BENCH_TOKEN=$token BENCH_UNITS=$units BENCH_T0=$t0 BENCH_THREADS=2 \
        wrk -t2 -c32 -d"${DUR}s" --latency -s "$HERE/positions.lua" "$url")
  rps=$(wrk_rps "$out")
  stored=$(psql_db "$db" "SELECT count(*) - $before FROM unit_positions")
  flagged=$(psql_db "$db" "SELECT count(*) FROM unit_positions WHERE flagged")
  api=$((rps * 100))
}
# With BENCH_BASE=<commit>: the same load against that commit's binary (0b1f667: no coverage kept
# as fixes arrive, the speed check against the previous fix only), for the ratio.
base=$(bench_base)
if [ -n "$base" ]; then
  positions_api "$base" "$base/build/patrold"
  base_api=$api
  echo "positions_api_base_fixes_per_s $base_api"
  bench_cleanup
fi
positions_api "$ROOT" "$PATROLD_BIN"
echo "positions_api_fixes_per_s $api"
echo "positions_api_stored $stored"
echo "positions_api_flagged $flagged"
grep -E '^positions_' <<<"$out"
[ -n "$base" ] && echo "positions_ratio_api_to_base $(ratio "$api" "$base_api")"
bench_cleanup

# ---- the ceiling: the same rows by COPY (one session, like the API's one statement per batch) ----
copy_rows=$((stored > 100000 ? stored : 100000))
csv=$(mktemp /tmp/patrold-fixes.XXXXXX)
python3 - "$units" "$t0" "$copy_rows" >"$csv" <<'PY'
import sys, datetime
units = sys.argv[1].split(","); t0 = int(sys.argv[2]) + 86400 // 2; n = int(sys.argv[3])
for k in range(n):
    u = units[k % len(units)]; t = t0 + (k // len(units)) * 0.05
    at = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()
    print("%s\t%s\tSRID=4326;POINT(%.6f 34.6)\t\t1.5\t90\tf" % (u, at, 119.2 + (k // len(units)) * 1e-6))
PY
s=$(date +%s.%N)
psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$db" -X -q -v ON_ERROR_STOP=1 \
  -c "\\copy unit_positions (unit_id, at, geom, accuracy_m, speed_mps, heading, flagged) FROM '$csv' WITH (FORMAT text, NULL '')"
e=$(date +%s.%N)
rm -f "$csv"
copy=$(python3 -c "print(int($copy_rows / ($e - $s)))")
echo "positions_copy_rows_per_s $copy"
echo "positions_ratio_api_to_copy $(ratio "$api" "$copy")"

# ---- candidates with 5,000 units; commit-to-event latency; throughput with stream clients ----
db2=$(bench_fresh_db)
psql_db "$db2" "INSERT INTO units (name, station_id, division_code, position, position_at)
  SELECT 'cand' || g, s.id, s.division_code,
         ST_SetSRID(ST_MakePoint(119.0 + random() * 0.4, 34.45 + random() * 0.25), 4326), now()
  FROM generate_series(1, 5000 - (SELECT count(*) FROM units)) g,
  (SELECT id, division_code FROM stations WHERE tier = 'county' AND division_code = '320706000000') s"
echo "candidates_units $(psql_db "$db2" "SELECT count(*) FROM units")"
url=$(bench_server "$db2" PATROLD_THREADS=$((STREAMS + 48)) PATROLD_STREAM_MAX_CLIENTS=$((STREAMS + 8)) \
  PATROLD_STREAM_MAX_PER_USER=0 \
  PATROLD_ESCALATE_INTERVAL_MS=600000)
dtok=$(bench_login "$url" dispatcher)
rid=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $dtok" -d \
  '{"client_id":"00000000-0000-4000-8000-000000000001","category":"vagrant","location":{"lon":119.2,"lat":34.55},"observed_at":"2024-05-01T08:00:00+08:00"}' \
  "$url/api/v1/reports" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
out=$(wrk -t2 -c8 -d"${DUR}s" --latency -H "Authorization: Bearer $dtok" "$url/api/v1/reports/$rid/candidates?limit=5")
echo "candidates_rps $(wrk_rps "$out")"
awk '$1 == "50%" {print "candidates_p50_ms", $2} $1 == "99%" {print "candidates_p99_ms", $2}' <<<"$out"
python3 "$HERE/units_streams.py" "$url" "$dtok" "$rid" "$STREAMS" "$DUR"
