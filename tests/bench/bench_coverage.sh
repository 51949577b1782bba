# Patrol coverage (issue 23, finding 5): ~400,000 fixes over 90 days posted through the API in
# batches of 1,000 (the ingest rate with the coverage kept as fixes arrive), then city-wide coverage
# over 27 and 90 days (p50/p99, every request a new `since` minute) and the server's RSS and peak RSS.
# With BENCH_BASE=<commit> (0b1f667: coverage computed per request with GEOS) the same load runs
# against that commit's binary first (BENCH_BASE_RUNS90 requests of 90 days: each took ~100 s) and
# the ratios are printed. Targets: 90 days under 1 s, peak RSS under 300 MB.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
HERE=$ROOT/tests/bench
psql_db() { psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }

# load ROOT BIN LABEL RUNS90 RUNS27: a fresh database of ROOT's migrations, 20 units, the load.
load() {
  local root=$1 bin=$2 label=$3 db url token units homes pid
  db=$(ROOT=$root bench_fresh_db)
  units=$(psql_db "$db" "WITH u AS (INSERT INTO units (name, station_id, division_code)
    SELECT 'cov' || g, s.id, s.division_code FROM generate_series(1, 20) g,
    (SELECT id, division_code FROM stations WHERE division_code = '320706000000' ORDER BY id LIMIT 1) s
    RETURNING id) SELECT string_agg(id::text, ',' ORDER BY id) FROM u")
  homes=$(psql_db "$db" "WITH c AS (SELECT row_number() OVER (ORDER BY code) - 1 AS i, ST_PointOnSurface(geom) p,
    count(*) OVER () n FROM divisions WHERE level = 'community' AND code LIKE '320706%' AND geom IS NOT NULL)
    SELECT string_agg(ST_X(p) || ':' || ST_Y(p), ',' ORDER BY k) FROM generate_series(0, 19) k JOIN c ON c.i = (k * 7) % c.n")
  # the 90 days' partitions made first: ingest measures fixes, not partition creation (which the
  # base commit raced on when four clients made one day's at once)
  psql_db "$db" "SELECT unit_positions_ensure((now() AT TIME ZONE 'UTC')::date - 92, (now() AT TIME ZONE 'UTC')::date + 1)" >/dev/null
  url=$(ROOT=$root PATROLD_BIN=$bin bench_server "$db" PATROLD_THREADS=40)
  pid=$(tail -1 "$BENCH_PIDFILE")
  token=$(bench_login "$url" admin)
  python3 "$HERE/coverage_load.py" "$url" "$token" "$units" "$pid" "$4" "$5" "$label" "$homes"
  kill "$pid"
}

out=""
base=$(bench_base)
if [ -n "$base" ]; then
  out=$(load "$base" "$base/build/patrold" base "${BENCH_BASE_RUNS90:-3}" "${BENCH_BASE_RUNS27:-5}")
  echo "$out"
fi
new=$(load "$ROOT" "$PATROLD_BIN" new "${BENCH_COVERAGE_RUNS:-20}" "${BENCH_COVERAGE_RUNS:-20}")
echo "$new"
if [ -n "$base" ]; then
  python3 - "$out" "$new" <<'PY'
import sys
v = {}
for text in sys.argv[1:]:
    for line in text.splitlines():
        k, _, x = line.partition(" ")
        try: v[k] = float(x)
        except ValueError: pass
for d in ("27d", "90d"):
    for p in ("p50", "p99"):
        print("coverage_ratio_%s_%s_base_to_new %.1f" % (d, p, v["coverage_base_%s_%s_s" % (d, p)] / max(v["coverage_new_%s_%s_s" % (d, p)], 1e-3)))
print("coverage_ratio_ingest_new_to_base %.3f" % (v["coverage_new_ingest_fixes_per_s"] / v["coverage_base_ingest_fixes_per_s"]))
print("coverage_ratio_peak_rss_base_to_new %.1f" % (v["coverage_base_peak_rss_mb"] / v["coverage_new_peak_rss_mb"]))
PY
fi
