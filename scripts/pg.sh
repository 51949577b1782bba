#!/usr/bin/env bash
# A local PostGIS cluster in a folder: pg.sh start|stop|status DIR. Prints the socket folder on start.
# As root the cluster runs as `postgres`; when `postgres` cannot reach DIR (e.g. under /root) or the
# socket path would be too long, the cluster lives in /var/tmp/patrold-pg-<sum of DIR> instead.
# Only its owner may connect: no TCP, the socket folder and socket are owner-only (0700), and peer
# authentication maps just the invoking OS user, root and the cluster's own user to role `postgres`.
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|status DIR}; dir=${2:?usage: pg.sh start|stop|status DIR}
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
cd /  # every path is absolute now; `postgres` may not be able to enter the caller's folder
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found (install postgresql-15)" >&2; exit 1; }
as=() me=$(id -un) owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  as=(runuser -u postgres --) owner=postgres
  if ! runuser -u postgres -- test -x "$dir" 2>/dev/null || [ ${#dir} -gt 70 ]; then
    real=/var/tmp/patrold-pg-$(printf %s "$dir" | cksum | cut -d' ' -f1)
    mkdir -p "$real"; ln -sfn "$real" "$dir/pg"; dir=$real
  fi
  chown postgres: "$dir"
fi
data=$dir/data sock=$dir/sock log=$dir/log
# Access rules, rewritten at every start so that a cluster made by an older pg.sh (which trusted
# every local user) is tightened too.
secure() {
  "${as[@]}" tee "$data/pg_hba.conf" >/dev/null <<HBA
# pg.sh: local socket only, peer authentication through the map in pg_ident.conf
local all all peer map=owner
HBA
  "${as[@]}" tee "$data/pg_ident.conf" >/dev/null <<IDENT
# pg.sh: OS users allowed in, all as role postgres
owner $me postgres
owner root postgres
owner $owner postgres
IDENT
  grep -q '^unix_socket_permissions = 0700' "$data/postgresql.conf" ||
    echo "unix_socket_permissions = 0700" | "${as[@]}" tee -a "$data/postgresql.conf" >/dev/null
  "${as[@]}" mkdir -p "$sock"; "${as[@]}" chmod 0700 "$sock"
}
case $cmd in
start)
  if [ ! -f "$data/PG_VERSION" ]; then
    "${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=peer --locale=C.UTF-8 -E UTF8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    "${as[@]}" tee -a "$data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
max_connections = 300
shared_buffers = 256MB
fsync = on
synchronous_commit = on
log_min_messages = warning
CONF
  fi
  secure
  # A postmaster killed with -9 whose parent never reaps it (PID 1 here does not) stays a zombie:
  # pg_ctl status and PostgreSQL's own lock-file check (kill -0) take it for a running server.
  pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
    rm -f "$data/postmaster.pid"
  fi
  if ! "${as[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    "${as[@]}" "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
      { tail -20 "$log" >&2; exit 1; }
  else
    "${as[@]}" "$bin/pg_ctl" -D "$data" reload >/dev/null
  fi
  echo "$sock" ;;
stop)
  [ -f "$data/PG_VERSION" ] && "${as[@]}" "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true ;;
status)
  "${as[@]}" "$bin/pg_ctl" -D "$data" status ;;
*) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
