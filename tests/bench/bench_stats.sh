# GET /api/v1/stats over a city-year of 200,000 generated reports (连云港, by county) and a
# province-year of 2,000,000 (Jiangsu, synthetic codes, by county), sequential requests: p50 and
# p99 (target p99 under 1 s for the province), beside the naive GROUP BY over the raw tables (reports
# with their report_events pivoted per report, the same figures) timed in the same run. Sizes:
# BENCH_STATS_CITY, BENCH_STATS_PROVINCE; requests per case: BENCH_STATS_RUNS (default 20).
source "$(dirname "$0")/lib.sh"
set -euo pipefail
HERE=$ROOT/tests/bench
CITY=${BENCH_STATS_CITY:-200000}
PROVINCE=${BENCH_STATS_PROVINCE:-2000000}
RUNS=${BENCH_STATS_RUNS:-20}
psql_db() { psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$db" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ms() { python3 -c "import time; print(int(time.time() * 1000))"; }

db=$(bench_fresh_db)
t0=$(ms)
psql_db -v n="$CITY" -v year=2025 -v scope=city -f "$HERE/stats_data.sql" >/dev/null
psql_db -v n="$PROVINCE" -v year=2024 -v scope=province -f "$HERE/stats_data.sql" >/dev/null
psql_db -c "INSERT INTO divisions (code, name, level) VALUES ('320000000000', '江苏省', 'province')
            ON CONFLICT DO NOTHING" \
        -c "INSERT INTO users (username, password_hash, role, division_code)
            SELECT 'province', password_hash, 'admin', '320000000000' FROM users WHERE username = 'admin'" \
        -c "VACUUM ANALYZE"
echo "stats_generate_s $(( ($(ms) - t0) / 1000 ))"
echo "stats_facts $(psql_db -c 'SELECT count(*) FROM report_facts') of $(psql_db -c 'SELECT count(*) FROM reports') reports"

url=$(bench_server "$db" PATROLD_STATEMENT_TIMEOUT_MS=600000)
city_token=$(bench_login "$url" supervisor)
province_token=$(bench_login "$url" province)

# naive: the same figures straight from reports and report_events, no facts table
naive() { # PREFIX FROM TO
  cat <<SQL
SELECT left(r.community_code, 6), count(*), sum(r.people_count),
 count(*) FILTER (WHERE r.status = 'new'), count(*) FILTER (WHERE r.status = 'acknowledged'),
 count(*) FILTER (WHERE r.status = 'dispatched'), count(*) FILTER (WHERE r.status = 'on_scene'),
 count(*) FILTER (WHERE r.status = 'resolved'), count(*) FILTER (WHERE r.status = 'cancelled'),
 count(*) FILTER (WHERE r.status = 'duplicate'),
 count(*) FILTER (WHERE r.outcome = 'escorted_home'), sum(r.people_count) FILTER (WHERE r.outcome = 'escorted_home'),
 count(*) FILTER (WHERE e.esc),
 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY extract(epoch FROM e.ack - r.received_at))
   FILTER (WHERE r.status IN ('acknowledged', 'dispatched', 'on_scene', 'resolved')),
 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY extract(epoch FROM e.dis - r.received_at))
   FILTER (WHERE r.status IN ('dispatched', 'on_scene', 'resolved')),
 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY extract(epoch FROM coalesce(e.arr, e.res) - r.received_at))
   FILTER (WHERE r.status IN ('on_scene', 'resolved')),
 percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY extract(epoch FROM e.res - r.received_at))
   FILTER (WHERE r.status = 'resolved')
FROM reports r LEFT JOIN (SELECT report_id, min(at) FILTER (WHERE type IN ('acknowledge', 'dispatch')) AS ack,
   min(at) FILTER (WHERE type = 'dispatch') AS dis, min(at) FILTER (WHERE type = 'arrive') AS arr,
   min(at) FILTER (WHERE type = 'resolve') AS res,
   bool_or(type = 'escalated' AND details ->> 'reason' = 'ack_deadline_passed') AS esc
   FROM report_events GROUP BY report_id) e ON e.report_id = r.id
WHERE r.received_at >= '$2' AND r.received_at < '$3' AND left(r.community_code, length('$1')) = '$1'
GROUP BY GROUPING SETS ((1), ())
SQL
}

# CASE TOKEN QUERY PREFIX FROM TO NAIVE_RUNS: p50/p99 of RUNS requests, the naive query's median
measure() {
  local out
  out=$(python3 - "$url" "$2" "$3" "$RUNS" <<'PY' | sed "s/^/stats_$1_/"
import http.client, sys, time, urllib.parse
url, token, query, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urllib.parse.urlparse(url)
lat = []
for i in range(runs + 1):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=900)
    t = time.perf_counter()
    c.request("GET", "/api/v1/stats?" + query, headers={"Authorization": "Bearer " + token})
    r = c.getresponse(); body = r.read()
    if r.status != 200:
        sys.exit("stats %s: %d %s" % (query, r.status, body[:300]))
    if i:  # the first one warms the connection and the caches
        lat.append((time.perf_counter() - t) * 1000)
lat.sort()
pick = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))]
print("p50_ms %d" % pick(0.5)); print("p99_ms %d" % pick(0.99)); print("requests %d" % len(lat))
PY
)
  echo "$out"
  local n=$7 best=()
  for _ in $(seq "$n"); do
    local a; a=$(ms); psql_db -c "$(naive "$4" "$5" "$6")" >/dev/null; best+=($(( $(ms) - a )))
  done
  local naive_ms p50
  naive_ms=$(printf '%s\n' "${best[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  p50=$(awk -v c="stats_$1_p50_ms" '$1 == c {print $2}' <<<"$out")
  echo "stats_$1_naive_ms $naive_ms"
  echo "stats_$1_naive_over_p50 $(python3 -c "print(round($naive_ms / max($p50, 1), 1))")"
}

measure city_year "$city_token" "division=3207&from=2025-01-01&to=2025-12-31&by=county" \
  3207 2025-01-01T00:00:00+08 2026-01-01T00:00:00+08 3
measure province_year "$province_token" "division=32&from=2024-01-01&to=2024-12-31&by=county" \
  32 2024-01-01T00:00:00+08 2025-01-01T00:00:00+08 2
