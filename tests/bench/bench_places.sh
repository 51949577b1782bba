# Place names with all 665,276 divisions of China loaded: search latency through HTTP for 1-, 2-,
# 3-character, pinyin and code-prefix queries against PostgreSQL answering the same queries (LIKE
# with a pg_trgm index); the gazetteer's memory; reverse requests/s through HTTP against the
# PostGIS query the reverse endpoint used to run for its nearby places; reverse and place search
# beside /healthz on the same server (the HTTP floor); the memory at the peak of a reload.
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

# The floor: reverse and place search (the whole mix above) beside /healthz on this server, in
# interleaved rounds so that a change of load on the shared machine falls on all three alike;
# medians of the rounds, and the server's CPU time per request (steadier than requests/s). The
# /healthz runs go through places.lua too: the same client work per request.
fdir=$(mktemp -d /tmp/patrold-places-floor.XXXXXX)
floor_run() { # floor_run NAME WRK-ARGS...: appends "rps requests cpu_ticks not_ok" to $fdir/NAME
  local name=$1 c0 c1 out
  shift
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(wrk -t2 -c16 -d"${BENCH_FLOOR_SECONDS:-2}s" "$@")
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  echo "$(wrk_rps "$out") $(awk '/ requests in / {print $1}' <<<"$out") $((c1 - c0)) $(awk '/_not_ok / {print $2}' <<<"$out")" >>"$fdir/$name"
}
all=$(for cat in c1 c2 c3 pinyin code; do echo "${mix[$cat]}"; done)
# shellcheck disable=SC2086
all=$(enc $all)
for _ in $(seq "${BENCH_FLOOR_ROUNDS:-5}"); do
  BENCH_PREFIX=floor_healthz BENCH_PATH=/healthz floor_run healthz -s "$ROOT/tests/bench/places.lua" "$url"
  floor_run reverse -s "$ROOT/tests/bench/reverse.lua" "$url"
  BENCH_PREFIX=floor_search BENCH_QUERIES=$all floor_run search -s "$ROOT/tests/bench/places.lua" "$url"
done
python3 - "$fdir" "$(getconf CLK_TCK)" <<'PY'
import os, statistics, sys
d, tck = sys.argv[1], int(sys.argv[2])
runs = {n: [[float(x) for x in l.split()] for l in open(os.path.join(d, n))] for n in ("healthz", "reverse", "search")}
rps = {n: statistics.median(r[0] for r in v) for n, v in runs.items()}
print("places_floor_rounds %d" % len(runs["healthz"]))
for n in ("healthz", "reverse", "search"):
    v = runs[n]
    print("places_floor_%s_rps %d" % (n, rps[n]))
    print("places_floor_%s_cpu_us %.1f   # server CPU per request" % (n, sum(r[2] for r in v) / tck * 1e6 / max(1, sum(r[1] for r in v))))
    print("places_floor_%s_not_ok %d" % (n, sum(r[3] for r in v)))
for n in ("reverse", "search"):
    print("places_floor_%s_ratio %.2f   # of /healthz in the same rounds (target 0.8)" % (n, rps[n] / rps["healthz"]))
PY
rm -rf "$fdir"

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
rm -f "$log.sql"

# Reloads: the peak of the server's memory over its steady size while the gazetteer is rebuilt,
# after a change of places (the divisions are kept) and after a change of divisions (built anew
# beside the old ones, which answer meanwhile).
reload() { # reload NAME SQL
  local n0 rss0 t0
  n0=$(grep -c '^gazetteer:' "$log")
  rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  echo 5 >"/proc/$pid/clear_refs" # VmHWM starts again from VmRSS
  t0=$(date +%s.%N)
  psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$db" -XAtqc "$2" >>"$BENCH_LOG" 2>&1
  for _ in $(seq 1200); do [ "$(grep -c '^gazetteer:' "$log")" -gt "$n0" ] && break; sleep 0.2; done
  echo "places_reload_${1}_s $(python3 -c "import time; print(round(time.time() - $t0, 1))")"
  echo "places_reload_${1}_peak_mib $(awk -v r="$rss0" '/^VmHWM/ {printf "%.0f", ($2 - r) / 1024}' "/proc/$pid/status")   # over the steady $((rss0 / 1024)) MiB"
}
reload places "INSERT INTO places (name, kind, division_code, geom) SELECT '新浦公园', 'park', code, ST_PointOnSurface(geom) FROM divisions WHERE code = '320706000000'"
reload divisions "UPDATE divisions SET name = name || '区' WHERE code = (SELECT min(code) FROM divisions WHERE level = 'community')"
rm -f "$log"
