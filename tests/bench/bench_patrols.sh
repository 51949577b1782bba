# Joint patrols (issue 18): the scorer at a county's scale. 1,000 targets in 10 plans, each plan's
# window BENCH_PATROL_HOURS long (default 8, a patrol day) with its history stored before, then the
# last 3 x BENCH_PATROL_SLICE_S seconds (default 600: one of warm-up) posted through the API, a fix every 10 s, in
# ABBA order: units in no plan, units in plans, in plans, in no plan (BENCH_PATROL_UNITS each
# side, default 500). Prints ingest fixes/s with and without plans (their ratio), how long after
# the last fix lands every touched window is scored (patrol_dirty empty), and the PostGIS
# oracle's time for the same windows (ST_Intersection of each step with each target).
source "$(dirname "$0")/lib.sh"
set -euo pipefail
HERE=$ROOT/tests/bench
db=$(bench_fresh_db)
url=$(bench_server "$db" PATROLD_THREADS=40)
token=$(bench_login "$url" admin)
python3 "$HERE/patrols_load.py" "$url" "$token" "$db" "${BENCH_PATROL_UNITS:-500}" \
  "${BENCH_PATROL_HOURS:-8}" "${BENCH_PATROL_SLICE_S:-600}"
