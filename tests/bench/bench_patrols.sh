# Joint patrols (issue 18): position ingest through the API with and without the live scorer's
# work (the same fixes, of units in no plan against units in plans with 1,000 targets: the trigger
# noting them and the scorer scoring them while fixes arrive), and how long after the last fix
# lands every touched window is scored (patrol_dirty empty). Scaled to run in under a minute:
# BENCH_PATROL_UNITS units per side (default 100), an hour of a fix every 10 s each.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
HERE=$ROOT/tests/bench
db=$(bench_fresh_db)
url=$(bench_server "$db" PATROLD_THREADS=40)
token=$(bench_login "$url" admin)
python3 "$HERE/patrols_load.py" "$url" "$token" "$db" "${BENCH_PATROL_UNITS:-100}"
