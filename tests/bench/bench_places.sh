# Place names with all 665,276 divisions of China loaded: search latency through HTTP for 1-, 2-,
# 3-character, pinyin and code-prefix queries against PostgreSQL answering the same queries (LIKE
# with a pg_trgm index); the gazetteer's memory; reverse requests/s through HTTP against the
# PostGIS query the reverse endpoint used to run for its nearby places.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
list=$ROOT/../shared/data/china-divisions.csv.gz
if [ ! -f "$list" ]; then
  echo "places_skipped 1   # $list is absent: the nationwide list lives in ../shared/data"
  exit 0
fi
secs=${BENCH_PLACES_SECONDS:-5}
# in process, no HTTP: build time, memory, search latency of the gazetteer alone
"$BENCH_BUILD/bench_gazetteer" "$list" 200 | grep -v '^  '
db=$(bench_fresh_db)
conn="host=$PATROLD_TEST_PGHOST dbname=$db user=postgres"
t0=$(date +%s.%N)
PATROLD_DATABASE=$conn "$PATROLD_BIN" import-divisions "$list" >>"$BENCH_LOG" 2>&1
echo "places_import_s $(python3 -c "import time; print(round(time.time() - $t0, 1))")"
echo "places_divisions $(psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$db" -XAtc 'SELECT count(*) FROM divisions')"

# the server, waiting for both indexes (building the gazetteer of all China takes a while)
port=$(bench_port)
log=$(mktemp /tmp/patrold-places-bench.XXXXXX)
PATROLD_DATABASE=$conn PATROLD_LISTEN=127.0.0.1:$port PATROLD_ACCESS_LOG=0 \
  PATROLD_MIGRATIONS_DIR="$ROOT/migrations" PATROLD_SEED_DIR="$ROOT/migrations/seed" \
  "$PATROLD_BIN" serve >"$log" 2>&1 &
pid=$!
bench_track $pid
url=http://127.0.0.1:$port
for _ in $(seq 1200); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "$url/readyz" >/dev/null || { echo "places: patrold did not get ready"; cat "$log" >&2; exit 1; }
sed -n 's/^gazetteer: .*(\([0-9.]*\) MiB) built in \([0-9]*\) ms.*/places_index_mib \1\nplaces_index_build_ms \2/p' "$log" | tail -2
echo "places_server_rss_mib $(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' /proc/$pid/status)"

# the same fixed mix for both sides
declare -A mix=(
  [c1]="村 镇 新 海 河 山"
  [c2]="朝阳 新浦 东风 社区 人民 海州"
  [c3]="新浦街 朝阳社 人民路 开发区 解放路 幸福村"
  [pinyin]="haizhou hzq xinpu chaoyang cy bjs"
  [code]="3207 320706 110101 4403 320706001 44"
)
enc() { python3 -c 'import sys, urllib.parse; print(",".join(urllib.parse.quote(w) for w in sys.argv[1:]))' "$@"; }
for cat in c1 c2 c3 pinyin code; do
  # shellcheck disable=SC2086
  BENCH_PREFIX=places_http_$cat BENCH_QUERIES=$(enc ${mix[$cat]}) \
    wrk -t1 -c1 -d"${secs}s" -s "$ROOT/tests/bench/places.lua" "$url" | grep "^places_"
done

# PostgreSQL: LIKE with pg_trgm (and a pattern index for codes), ranked like the API
psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$db" -Xqc \
  "CREATE INDEX ON divisions USING gin (name gin_trgm_ops); CREATE INDEX ON divisions (code bpchar_pattern_ops); ANALYZE divisions" >>"$BENCH_LOG" 2>&1
work=$(mktemp -d /tmp/patrold-places-pg.XXXXXX)
pct() { # pct FILE: p50 and p99 in ms of pgbench's per-transaction log (3rd field, microseconds)
  awk '{print $3}' "$1"* | sort -n | awk '{a[NR]=$1} END {printf "%.3f %.3f\n", a[int(NR*0.5)+1]/1000, a[int(NR*0.99)+1]/1000}'
}
for cat in c1 c2 c3 code; do
  # shellcheck disable=SC2206
  words=(${mix[$cat]})
  arr=$(printf "'%s'," "${words[@]}"); arr="ARRAY[${arr%,}]"
  if [ "$cat" = code ]; then
    sql="SELECT code, name, level FROM divisions WHERE code LIKE ($arr)[:i] || '%' ORDER BY length(rtrim(code, '0')), code LIMIT 10;"
  else
    sql="SELECT code, name, level FROM divisions, (SELECT ($arr)[:i] AS q) s WHERE name LIKE '%' || q || '%' ORDER BY name = q DESC, name LIKE q || '%' DESC, length(name), code LIMIT 10;"
  fi
  printf '\\set i random(1, %d)\n%s\n' "${#words[@]}" "$sql" >"$work/$cat.sql"
  (cd "$work" && pgbench -n -h "$PATROLD_TEST_PGHOST" -U postgres -c1 -T"$secs" -l --log-prefix="$cat" \
     -f "$work/$cat.sql" "$db" >>"$BENCH_LOG" 2>&1)
  read -r p50 p99 < <(pct "$work/$cat")
  echo "places_pg_${cat}_p50_ms $p50"
  echo "places_pg_${cat}_p99_ms $p99"
done
rm -rf "$work"

# reverse: HTTP (from memory) against the PostGIS query of the nearby places, same concurrency
wrk -t2 -c4 -d"${secs}s" -s "$ROOT/tests/bench/reverse.lua" "$url" | grep "^places_"
cat >"$log.sql" <<'SQL'
\set x random(1186000, 1198000)
\set y random(340000, 350000)
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:x / 10000.0, :y / 10000.0), 4326) AS g) SELECT * FROM ((SELECT 'place' AS src, id::text AS id, name, kind, ST_X(geom), ST_Y(geom), ST_Distance(geom::geography, p.g::geography) AS d FROM places, p ORDER BY geom <-> p.g LIMIT 5) UNION ALL (SELECT 'station', id::text, name, 'station', ST_X(location), ST_Y(location), ST_Distance(location::geography, p.g::geography) FROM stations, p ORDER BY location <-> p.g LIMIT 5)) n ORDER BY d LIMIT 5;
SQL
out=$(pgbench -n -h "$PATROLD_TEST_PGHOST" -U postgres -c4 -j2 -T"$secs" -f "$log.sql" "$db" 2>>"$BENCH_LOG")
echo "places_reverse_postgis_rps $(awk '/^tps/ {print int($3)}' <<<"$out")   # the SQL alone: an upper bound for the old endpoint"
rm -f "$log" "$log.sql"
