#!/usr/bin/env bash
# make run: a local PostGIS in the state folder (unless PATROLD_DATABASE names one), migrations,
# the Lianyungang demo data on first start, then patrold on http://127.0.0.1:8080, supervised:
# when patrold crashes (dies of a signal) it is restarted (after 1 s, doubling up to 30 s while it
# keeps dying within 30 s of starting) and the database keeps running; when it exits (status 0
# after its own SIGINT/SIGTERM, or an error status) both stop. Ctrl-C or SIGTERM to this script,
# however it was started, stops both.
# Settings: config/patrold.conf (or the file PATROLD_CONFIG names); PATROLD_* variables override it.
set -euo pipefail
# Started in the background by a script (`make run &`), a shell inherits SIGINT ignored, and a
# signal ignored on entry cannot be trapped: start again with the default dispositions.
if [ -z "${RUN_SH_DEFAULT_SIGNALS:-}" ]; then
  RUN_SH_DEFAULT_SIGNALS=1 exec env --default-signal=INT,TERM "$0" "$@"
fi
unset RUN_SH_DEFAULT_SIGNALS
cd "$(dirname "$0")/.."
bin=${1:-build/patrold}
conf=${PATROLD_CONFIG:-config/patrold.conf}
[ -r "$conf" ] || { echo "run.sh: cannot read the settings file $conf" >&2; exit 2; }
state=${PATROLD_STATE_DIR:-state}
local_db=0
if [ -z "${PATROLD_DATABASE:-}" ]; then
  sock=$(scripts/pg.sh start "$state")
  local_db=1
  psql -h "$sock" -U postgres -XAtqc "SELECT 1 FROM pg_database WHERE datname = 'patrol'" | grep -q 1 ||
    psql -h "$sock" -U postgres -Xqc "CREATE DATABASE patrol"
  export PATROLD_DATABASE="host=$sock dbname=patrol user=postgres"
fi
log() { echo "run.sh: $(date '+%F %T') $*" >&2; }
pid='' nap=''
# finish STATUS: stops patrold (if running) and the local database, exits with STATUS.
finish() {
  trap '' INT TERM
  if [ -n "$nap" ]; then kill "$nap" 2>/dev/null || true; fi
  if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
  if [ $local_db = 1 ]; then scripts/pg.sh stop "$state" && echo "local database stopped"; fi
  exit "$1"
}
trap 'finish 0' INT TERM
log "settings from $conf (PATROLD_* variables override it)"
"$bin" --config "$conf" migrate
"$bin" --config "$conf" seed
listen=$("$bin" --config "$conf" config | sed -n 's/^listen = "\(.*\)"$/\1/p')
cat <<MSG

  patrold: http://$listen/   (API: http://$listen/api/v1/openapi.json)
  demo login: dispatcher / demo   (also admin, supervisor, dispatcher_gn, patrol, community; all "demo")
  patrold is restarted if it dies. Ctrl-C stops the service and the local database.

MSG
delay=1
while :; do
  started=$SECONDS
  "$bin" --config "$conf" serve & pid=$!
  log "patrold started (pid $pid)"
  rc=0; wait "$pid" || rc=$?
  pid=''
  if [ $rc -le 128 ]; then   # it stopped by itself: a clean stop is not a crash
    log "patrold exited with status $rc; not restarting"
    finish "$rc"
  fi
  why="killed by signal SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
  if [ $((SECONDS - started)) -ge 30 ]; then delay=1; fi
  log "patrold $why; restarting in ${delay}s (the database keeps running)"
  sleep "$delay" & nap=$!
  wait "$nap" || true; nap=''
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
