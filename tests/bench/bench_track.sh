# Unit tracks: GET /api/v1/units/{id}/track of a day of fixes (one every 5 s with a 10-minute pause
# every 2 hours: 15,840 fixes in 11 stretches, every 500th flagged) through the API against its own statement run by pgbench (the ceiling: reading the
# rows, no GeoJSON); the reply's size and time for one client, and the requests per second of 4.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
DUR=${BENCH_SECONDS:-15}
psql_db() { psql -h "$PATROLD_TEST_PGHOST" -U postgres -d "$1" -X -q -At -v ON_ERROR_STOP=1 -c "$2"; }

db=$(bench_fresh_db)
unit=$(psql_db "$db" "SELECT id FROM units WHERE division_code = '320706000000' ORDER BY id LIMIT 1")
day0=$(( $(date +%s) - 30 * 3600 ))
psql_db "$db" "SELECT unit_positions_ensure(to_timestamp($day0)::date - 1, now()::date + 1)" >/dev/null
psql_db "$db" "INSERT INTO unit_positions (unit_id, at, geom, flagged)
  SELECT $unit, to_timestamp($day0 + 5 * g + 600 * (g / 1440)), ST_SetSRID(ST_MakePoint(119.16 + 2e-5 * sin(g / 90.0),
         34.57 + 2e-5 * cos(g / 90.0) + g * 1e-7), 4326), g % 500 = 499
  FROM generate_series(0, 15839) g"
url=$(bench_server "$db")
token=$(bench_login "$url" dispatcher)
from=$(python3 -c "import datetime as d; print(d.datetime.fromtimestamp($day0, d.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))")
to=$(python3 -c "import datetime as d; print(d.datetime.fromtimestamp($day0 + 86400, d.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))")
path="/api/v1/units/$unit/track?from=$from&to=$to"
curl -sf -H "Authorization: Bearer $token" "$url$path" -o /tmp/patrold-track.$$.json
python3 - /tmp/patrold-track.$$.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
kinds = [f["properties"]["kind"] for f in d["features"]]
print("track_day_fixes", d["fixes"])
print("track_day_stretches", kinds.count("stretch"))
print("track_day_flagged", kinds.count("flagged"))
PY
rm -f /tmp/patrold-track.$$.json
read -r bytes secs < <(curl -s -o /dev/null -w '%{size_download} %{time_total}\n' -H "Authorization: Bearer $token" "$url$path")
echo "track_day_bytes $bytes"
echo "track_day_one_client_ms $(python3 -c "print(round($secs * 1000, 1))")"
out=$(wrk -t2 -c4 -d"${DUR}s" --latency -H "Authorization: Bearer $token" "$url$path")
rps=$(wrk_rps "$out")
echo "track_day_rps $rps"
awk '$1 == "50%" {print "track_day_p50", $2} $1 == "99%" {print "track_day_p99", $2}' <<<"$out"
sqlf=$(mktemp /tmp/patrold-track-sql.XXXXXX)
echo "SELECT (extract(epoch FROM at) * 1000000)::bigint, ST_X(geom), ST_Y(geom), flagged FROM unit_positions
  WHERE unit_id = $unit AND at >= to_timestamp($day0) AND at < to_timestamp($day0 + 86400) ORDER BY at LIMIT 30001;" >"$sqlf"
sql=$(pgbench -h "$PATROLD_TEST_PGHOST" -U postgres -n -M prepared -c4 -j2 -T "$DUR" -f "$sqlf" "$db" 2>/dev/null |
      awk '/^tps/ {print int($3)}')
rm -f "$sqlf"
echo "track_day_sql_tps $sql"
echo "track_day_ratio_api_to_sql $(python3 -c "print(round($rps / max($sql, 1), 3))")"
