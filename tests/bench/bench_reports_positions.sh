# Would group commit pay for position batches (issue 22)? Group commit saves the WAL flush each
# request waits for; the most it can save is all of it. So: the same position load through the API
# with synchronous_commit on (today) and off (no flush at all: the ceiling of any grouping), same
# server build, same database, one run, 16 and 64 connections, batches of 100 fixes and of 5 (a
# phone sending every few seconds). A ratio off/on near 1 means the commit is not what limits
# positions, and grouping them does not pay.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
DUR=${BENCH_SECONDS:-5}
HERE=$ROOT/tests/bench
psql_db() { psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }
ratio() { python3 -c "print(round($1 / max($2, 1), 3))"; }

db=$(bench_fresh_db)
psql_db "$db" "INSERT INTO units (name, station_id, division_code)
  SELECT 'bench' || g, s.id, s.division_code FROM generate_series(1, 64) g,
  (SELECT id, division_code FROM stations WHERE tier = 'county' ORDER BY id LIMIT 1) s"
units=$(psql_db "$db" "SELECT string_agg(id::text, ',') FROM units WHERE name LIKE 'bench%'")
url_on=$(bench_server "$db" PATROLD_THREADS=72)
url_off=$(bench_server "$db" PATROLD_THREADS=72 PGOPTIONS="-c synchronous_commit=off")
token=$(bench_login "$url_on" admin)
start=$(python3 -c 'import time; print(int(time.time()) - 22 * 3600)')
hour=0
# run URL CONNS BATCH: fixes/s of one wrk run (each run its own hour of fixes: all new rows)
run() {
  local out
  hour=$((hour + 1))
  out=$(BENCH_TOKEN=$token BENCH_UNITS=$units BENCH_T0=$((start + hour * 3600)) BENCH_THREADS=2 \
        BENCH_BATCH=$3 wrk -t2 -c"$2" -d"${DUR}s" --latency -s "$HERE/positions.lua" "$1")
  [ "$(awk '$1 == "positions_not_ok" {print $2}' <<<"$out")" = 0 ] || { echo "$out" >&2; return 1; }
  echo $(($(wrk_rps "$out") * $3)) "$(awk '$1 == "positions_p99_ms" {print $2}' <<<"$out")"
}
for batch in 100 5; do
  for conns in 16 64; do
    read -r on on_p99 < <(run "$url_on" "$conns" "$batch")
    read -r off off_p99 < <(run "$url_off" "$conns" "$batch")
    echo "positions_b${batch}_c${conns}_sync_on_fixes_per_s $on (p99 $on_p99 ms)"
    echo "positions_b${batch}_c${conns}_sync_off_fixes_per_s $off (p99 $off_p99 ms)"
    echo "positions_b${batch}_c${conns}_ratio_off_to_on $(ratio "$off" "$on")"
  done
done
