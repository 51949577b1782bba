# More than one machine (scripts/ha.sh on loopback): report ingest with synchronous replication to a
# Patroni standby as a ratio to the single node of this run (the bench cluster), and read throughput
# (report lists and report tiles, on the standby through database_read_url) of two patrold instances
# as a ratio to one. Prints ha_* lines. Skipped when Patroni, etcd or nginx is missing.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
DUR=${BENCH_SECONDS:-30}
HERE=$ROOT/tests/bench
for c in patroni etcd nginx; do
  command -v $c >/dev/null || { echo "ha_skipped $c is not installed (scripts/deps.sh)"; exit 0; }
done
ratio() { python3 -c "print(round($1 / max($2, 1), 3))"; }
ingest() { # URL TOKEN RUN: reports/s of single posts, 64 connections
  BENCH_TOKEN=$2 BENCH_RUN=$3 BENCH_PREFIX=ha_x wrk -t2 -c64 -d"${DUR}s" -s "$HERE/reports.lua" "$1" |
    awk '/^Requests\/sec/ {print int($2)}'
}

# ---- single node: the bench cluster ----
db=$(bench_fresh_db)
url=$(bench_server "$db" PATROLD_THREADS=72)
single=$(ingest "$url" "$(bench_login "$url" patrol)" 31)
echo "ha_single_node_reports_rps $single"
bench_cleanup

# ---- two Patroni nodes, synchronous replication ----
hadir=$(mktemp -d /tmp/patrold-hab.XXXXXX); chmod 755 "$hadir"
trap 'bench_cleanup; "$ROOT/scripts/ha.sh" stop "$hadir" >/dev/null 2>&1; rm -rf "$hadir"' EXIT
PATROLD_HA_PORT_OFFSET=${PATROLD_HA_PORT_OFFSET:-600} PATROLD_THREADS=72 \
  "$ROOT/scripts/ha.sh" start "$hadir" "$PATROLD_BIN" >/dev/null 2>>"${BENCH_LOG:-/dev/null}"
source "$hadir/env"
sync=$(ingest "$HA_API1" "$(bench_login "$HA_API1" patrol)" 32)
echo "ha_sync_replication_reports_rps $sync"
echo "ha_ratio_sync_to_single_node $(ratio "$sync" "$single")"
# the same cluster with asynchronous replication: the share of the synchronous wait alone
as=(); [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
"${as[@]}" patronictl -c "$hadir/n1/patroni.yml" edit-config --force -s synchronous_mode=false >/dev/null
for _ in $(seq 100); do
  [ -z "$(PGPASSFILE=$hadir/pgpass psql "host=127.0.0.1,127.0.0.1 port=$HA_PG1,$HA_PG2 user=postgres dbname=patrol target_session_attrs=read-write" -XAtc 'SHOW synchronous_standby_names')" ] && break
  sleep 0.2
done
async=$(ingest "$HA_API1" "$(bench_login "$HA_API1" patrol)" 33)
echo "ha_async_replication_reports_rps $async"
echo "ha_ratio_sync_to_async $(ratio "$sync" "$async")"
"${as[@]}" patronictl -c "$hadir/n1/patroni.yml" edit-config --force -s synchronous_mode=true >/dev/null

# ---- reads: one instance, then two at once (same connections in all) ----
token=$(bench_login "$HA_API1" dispatcher)
paths=$hadir/read-paths
for i in $(seq 0 15); do
  echo "/api/v1/reports?limit=20"
  echo "/tiles/reports/12/$((3420 + i % 4))/$((1630 + i / 4)).mvt"
done >"$paths"
reads() { # URL CONNECTIONS
  BENCH_PATHS=$paths BENCH_PREFIX=ha wrk -t1 -c"$2" -d"${DUR}s" -H "Authorization: Bearer $token" \
    -s "$HERE/tiles.lua" "$1" | awk '/^Requests\/sec/ {print int($2)}'
}
one=$(reads "$HA_API1" 32)
echo "ha_reads_one_instance_rps $one"
reads "$HA_API1" 16 >"$hadir/r1" &
reads "$HA_API2" 16 >"$hadir/r2"
wait
two=$(($(cat "$hadir/r1") + $(cat "$hadir/r2")))
echo "ha_reads_two_instances_rps $two"
echo "ha_ratio_reads_two_to_one $(ratio "$two" "$one")"
echo "ha_cpu_cores $(nproc)"
