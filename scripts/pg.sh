#!/usr/bin/env bash
# A local PostGIS cluster in a folder: pg.sh start|stop|status DIR. Prints the socket folder on start.
# As root the cluster runs as `postgres`; when `postgres` cannot reach DIR (e.g. under /root) or the
# socket path would be too long, the cluster lives in /var/tmp/patrold-pg-<sum of DIR> instead.
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|status DIR}; dir=${2:?usage: pg.sh start|stop|status DIR}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found (install postgresql-15)" >&2; exit 1; }
as=()
if [ "$(id -u)" -eq 0 ]; then
  as=(runuser -u postgres --)
  if ! runuser -u postgres -- test -x "$dir" 2>/dev/null || [ ${#dir} -gt 70 ]; then
    real=/var/tmp/patrold-pg-$(printf %s "$dir" | cksum | cut -d' ' -f1)
    mkdir -p "$real"; ln -sfn "$real" "$dir/pg"; dir=$real
  fi
  chown postgres: "$dir"
fi
data=$dir/data sock=$dir/sock log=$dir/log
case $cmd in
start)
  if [ ! -f "$data/PG_VERSION" ]; then
    "${as[@]}" mkdir -p "$sock"
    "${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust --locale=C.UTF-8 -E UTF8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = on
log_min_messages = warning
CONF
  fi
  if ! "${as[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    "${as[@]}" "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
      { tail -20 "$log" >&2; exit 1; }
  fi
  echo "$sock" ;;
stop)
  [ -f "$data/PG_VERSION" ] && "${as[@]}" "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true ;;
status)
  "${as[@]}" "$bin/pg_ctl" -D "$data" status ;;
*) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
