# Divisions vector tiles over zooms 8-14 (a fixed sample of up to 150 tiles per zoom): tiles/s from
# patrold with its tile cache warm, with the cache off (every tile made by PostGIS), and the very
# tile statement run directly in PostgreSQL by pgbench (prepared, same sample) as the baseline.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DUR=${BENCH_SECONDS:-10}
work=$(mktemp -d); chmod 755 "$work"
db=$(bench_fresh_db)
"$BENCH_BUILD/bench_tiles" plan 150 >"$work/plan.tsv"
awk -F'\t' '{printf "/tiles/divisions/%s/%s/%s.mvt\n", $2, $3, $4}' "$work/plan.tsv" >"$work/paths"
ntiles=$(wc -l <"$work/paths")
cached=$(bench_server "$db" PATROLD_THREADS=40)
uncached=$(bench_server "$db" PATROLD_THREADS=40 PATROLD_TILE_CACHE_MB=0)
# warm the cache: every tile once
while read -r p; do curl -s -o /dev/null "$cached$p"; done <"$work/paths"
run() { BENCH_PATHS=$work/paths BENCH_PREFIX=$2 wrk -t2 -c32 -d"${DUR}s" -s "$HERE/tiles.lua" "$1"; }
c=$(run "$cached" cached); u=$(run "$uncached" uncached)
cr=$(wrk_rps "$c"); ur=$(wrk_rps "$u")
# the baseline: the same statement, prepared, 8 clients on 2 threads; one script per zoom (a random
# tile of that zoom in the same area) weighted like the sample
scripts=()
for z in $(cut -f2 "$work/plan.tsv" | sort -n | uniq); do
  "$BENCH_BUILD/bench_tiles" pgbench "$z" >"$work/z$z.sql"
  scripts+=(-f "$work/z$z.sql@$(awk -F'\t' -v z="$z" '$2 == z' "$work/plan.tsv" | wc -l)")
done
pg=$(pgbench -h "$PATROLD_TEST_PGHOST" -U postgres -n -M prepared -c 8 -j 2 -T "$DUR" "${scripts[@]}" "$db" 2>&1) ||
  { echo "$pg" >&2; exit 1; }
sr=$(awk '/^tps = / {print int($3)}' <<<"$pg")
echo "tiles_sample $ntiles"
printf '%s\n%s\n' "$c" "$u" | grep '^tiles_' || true
echo "tiles_divisions_cached_per_s $cr"
echo "tiles_divisions_uncached_per_s $ur"
echo "tiles_divisions_direct_sql_per_s $sr"
echo "tiles_ratio_cached_to_sql $(python3 -c "print(round($cr/max($sr,1), 1))")"
echo "tiles_ratio_uncached_to_sql $(python3 -c "print(round($ur/max($sr,1), 2))")"
rm -rf "$work"
