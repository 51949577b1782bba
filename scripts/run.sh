#!/usr/bin/env bash
# make run: a local PostGIS in the state folder (unless PATROLD_DATABASE names one), migrations,
# the Lianyungang demo data on first start, then patrold on http://127.0.0.1:8080. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/patrold}
state=${PATROLD_STATE_DIR:-state}
local_db=0
if [ -z "${PATROLD_DATABASE:-}" ]; then
  sock=$(scripts/pg.sh start "$state")
  local_db=1
  psql -h "$sock" -U postgres -XAtqc "SELECT 1 FROM pg_database WHERE datname = 'patrol'" | grep -q 1 ||
    psql -h "$sock" -U postgres -Xqc "CREATE DATABASE patrol"
  export PATROLD_DATABASE="host=$sock dbname=patrol user=postgres"
fi
stop() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ $local_db = 1 ] && scripts/pg.sh stop "$state" && echo "local database stopped"
  exit 0
}
trap stop INT TERM
"$bin" migrate
"$bin" seed
listen=${PATROLD_LISTEN:-127.0.0.1:8080}
cat <<MSG

  patrold: http://$listen/   (API: http://$listen/api/v1/openapi.json)
  demo login: dispatcher / demo   (also admin, supervisor, dispatcher_gn, patrol, community; all "demo")
  Ctrl-C stops the service and the local database.

MSG
"$bin" serve & pid=$!
wait "$pid" || true
stop
