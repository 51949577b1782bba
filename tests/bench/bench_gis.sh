# Point location: the in-memory index (gis/) against PostGIS answering one point per query through
# libpq, for the Lianyungang four tiers + stations and for all valid county polygons of China.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
china=$ROOT/../shared/data/china-counties.geojson.gz
db=$(bench_fresh_db)
PATROLD_DATABASE="host=$PATROLD_TEST_PGHOST dbname=$db user=postgres" \
  "$BENCH_BUILD/bench_locate" lianyungang "${BENCH_POINTS:-200000}" 3000 2>>"$BENCH_LOG"
if [ -f "$china" ]; then
  "$BENCH_BUILD/bench_gis" --points "${BENCH_POINTS:-200000}" "$china" 2>>"$BENCH_LOG"
  cdb=$(bench_fresh_db bare)
  t0=$(date +%s.%N)
  PATROLD_DATABASE="host=$PATROLD_TEST_PGHOST dbname=$cdb user=postgres" \
    "$PATROLD_BIN" import-divisions "$china" --level county --crs gcj02 >>"$BENCH_LOG" 2>&1
  echo "china_import_s $(python3 -c "import time; print(round(time.time() - $t0, 1))")"
  PATROLD_DATABASE="host=$PATROLD_TEST_PGHOST dbname=$cdb user=postgres" \
    "$BENCH_BUILD/bench_locate" china_db "${BENCH_POINTS:-200000}" 2000 2>>"$BENCH_LOG"
else
  echo "china_skipped 1   # $china is absent: the nationwide file lives in ../shared/data"
fi
