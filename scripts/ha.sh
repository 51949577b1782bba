#!/usr/bin/env bash
# More than one machine, on loopback: etcd, two Patroni-managed PostGIS nodes (synchronous
# replication), two patrold instances behind nginx. ha.sh start|stop|status|kill|revive DIR [BIN|NODE]
#   start DIR [BIN]  everything under DIR (made if missing; postgres must be able to traverse it);
#                    a start that fails stops again what it started (TERM, then KILL after a grace)
#   stop DIR         stops all of it (data stays in DIR)
#   kill DIR n1|n2   kill -9 that node's Patroni and postmaster (a dead machine)
#   revive DIR n1|n2 starts that node's Patroni again (it rejoins as a standby)
# Ports: PATROLD_HA_PORT_OFFSET (default 0) is added to nginx 8090, patrold 8081 8082, PostgreSQL
# 5441 5442, Patroni REST 8011 8012, etcd 2389 (peer 2390). DIR/env holds them for scripts/tests.
# PATROLD_HA_PRIMARY_WAIT (default 90) is how many seconds start waits for Patroni to elect a primary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cmd=${1:?usage: ha.sh start|stop|status|kill|revive DIR [BIN|NODE]}
dir=${2:?usage: ha.sh start|stop|status|kill|revive DIR [BIN|NODE]}
off=${PATROLD_HA_PORT_OFFSET:-0}
nginx_port=$((8090 + off)) etcd_port=$((2389 + off)) etcd_peer=$((2390 + off))
declare -A pg_port=([n1]=$((5441 + off)) [n2]=$((5442 + off)))
declare -A rest_port=([n1]=$((8011 + off)) [n2]=$((8012 + off)))
declare -A api_port=([a1]=$((8081 + off)) [a2]=$((8082 + off)))
bin_dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as=()
# as root, PostgreSQL and Patroni run as `postgres`, in / (it may not enter this clone: /root is 0700)
[ "$(id -u)" -eq 0 ] && as=(env -C / runuser -u postgres --)

need() {
  local m=()
  for c in patroni patronictl etcd etcdctl nginx; do command -v "$c" >/dev/null || m+=("$c"); done
  [ ${#m[@]} -eq 0 ] || { echo "ha.sh: missing ${m[*]} (scripts/deps.sh installs patroni etcd-server etcd-client nginx-light)" >&2; exit 3; }
}
# A process is alive when it exists and is not a zombie (PID 1 may not reap: kill -0 succeeds on those).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }
pid_alive() { [ -f "$1" ] && alive "$(cat "$1")"; }
# stop_pid PIDFILE [GRACE]: SIGTERM, then SIGKILL if still alive after GRACE seconds (default 10;
# Patroni ignores SIGTERM while etcd is gone).
stop_pid() {
  local f=$1 grace=${2:-10} pid
  pid_alive "$f" || return 0
  pid=$(cat "$f"); kill "$pid" 2>/dev/null || true
  for _ in $(seq $((grace * 10))); do alive "$pid" || return 0; sleep 0.1; done
  echo "ha.sh: $f ($pid) ignored SIGTERM for ${grace}s: SIGKILL" >&2
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 50); do alive "$pid" || return 0; sleep 0.1; done
}
# stop_node NODE: its Patroni, then its PostgreSQL (which outlives a killed Patroni)
stop_node() {
  local n=$1 pm
  stop_pid "$dir/$n/patroni.pid" 10
  [ -f "$dir/$n/data/postmaster.pid" ] || return 0
  pm=$(head -1 "$dir/$n/data/postmaster.pid" 2>/dev/null || true)
  "${as[@]}" "$bin_dir/pg_ctl" -D "$dir/$n/data" -m immediate -t 10 stop >/dev/null 2>&1 || true
  if [ -n "$pm" ] && alive "$pm"; then kill -9 "$pm" 2>/dev/null || true; fi
}
# waits up to $1 seconds for the command after it to succeed
wait_for() {
  local end=$((${EPOCHREALTIME/./} / 1000 + $1 * 1000)); shift
  until "$@" >/dev/null 2>&1; do
    [ $((${EPOCHREALTIME/./} / 1000)) -gt $end ] && return 1; sleep 0.1
  done
}
rest() { curl -sf -m 2 -o /dev/null "http://127.0.0.1:${rest_port[$1]}/$2"; }
either() { rest n1 "$1" || rest n2 "$1"; }  # either node answers 200 to /primary, /sync, ...
conninfo() { # the libpq multi-host string patrold uses (it adds target_session_attrs itself)
  echo "host=127.0.0.1,127.0.0.1 port=${pg_port[n1]},${pg_port[n2]} dbname=patrol user=postgres passfile=$dir/pgpass"
}

patroni_yml() { # NODE: its Patroni configuration
  local n=$1 pw; pw=$(cat "$dir/secret")
  cat <<YML
scope: patrold
name: $n
log: {level: WARNING}
restapi: {listen: 127.0.0.1:${rest_port[$n]}, connect_address: 127.0.0.1:${rest_port[$n]}}
etcd3: {hosts: 127.0.0.1:$etcd_port}
watchdog: {mode: 'off'}
bootstrap:
  dcs:
    ttl: 6
    loop_wait: 1
    retry_timeout: 2
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters: {wal_log_hints: 'on', max_connections: 200, shared_buffers: 128MB,
                   max_wal_senders: 10, max_replication_slots: 10, hot_standby: 'on'}
  initdb: [{encoding: UTF8}, {locale: C.UTF-8}, data-checksums]
  pg_hba:
    - local all all peer
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:${pg_port[$n]}
  connect_address: 127.0.0.1:${pg_port[$n]}
  data_dir: $dir/$n/data
  bin_dir: $bin_dir
  pgpass: $dir/$n/pgpass
  basebackup: [{checkpoint: fast}]
  authentication:
    superuser: {username: postgres, password: '$pw'}
    replication: {username: replicator, password: '$pw'}
  parameters: {unix_socket_directories: '$dir/$n'}
YML
}

start_patroni() { # NODE
  local n=$1
  "${as[@]}" bash -c "setsid patroni '$dir/$n/patroni.yml' >>'$dir/$n/patroni.log' 2>&1 < /dev/null & echo \$! > '$dir/$n/patroni.pid'"
}

nginx_conf() {
  cat <<CONF
# generated by scripts/ha.sh: config/nginx.conf's proxy rules for two patrold instances, plain HTTP
# on loopback (no TLS, no per-address limits: the failover test's load comes from one address)
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
worker_processes 2;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/nginx-tmp/body;
    proxy_temp_path $dir/nginx-tmp/proxy;
    fastcgi_temp_path $dir/nginx-tmp/fastcgi;
    uwsgi_temp_path $dir/nginx-tmp/uwsgi;
    scgi_temp_path $dir/nginx-tmp/scgi;
    client_max_body_size 8m;
    upstream patrold {
        server 127.0.0.1:${api_port[a1]} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:${api_port[a2]} max_fails=1 fail_timeout=2s;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Real-IP \$remote_addr;
        location / { proxy_pass http://patrold; }
        location /api/v1/events {
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
            proxy_pass http://patrold;
        }
    }
}
CONF
}

start_api() { # INSTANCE BIN
  local a=$1 bin=$2
  mkdir -p "$dir/$a"
  PATROLD_DATABASE="$(conninfo)" PATROLD_DATABASE_READ_URL="$(conninfo)" \
  PATROLD_LISTEN=127.0.0.1:${api_port[$a]} PATROLD_STATE_DIR="$dir/$a" \
  PATROLD_TRUSTED_PROXIES=127.0.0.1 PATROLD_ACCESS_LOG=${PATROLD_ACCESS_LOG:-0} \
  PATROLD_MIGRATIONS_DIR="$root/migrations" PATROLD_SEED_DIR="$root/migrations/seed" \
  PATROLD_WEB_ROOT="$root/web" PATROLD_THREADS=${PATROLD_THREADS:-128} \
    setsid "$bin" serve >>"$dir/$a/patrold.log" 2>&1 </dev/null &
  echo $! >"$dir/$a/patrold.pid"
}

# What this start launched, stopped again (last first) if it fails: etcd, n1, n2, a1, a2, nginx.
started=()
undo_start() {
  local i t
  echo "ha.sh: start failed; stopping what it started: ${started[*]:-nothing}" >&2
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    t=${started[$i]}
    case $t in
      n1 | n2) stop_node "$t" ;;
      etcd | nginx) stop_pid "$dir/$t.pid" 5 ;;
      *) stop_pid "$dir/$t/patrold.pid" 10 ;;
    esac
  done
}

case $cmd in
start)
  need
  bin=${3:-build/patrold}; bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd); chmod 755 "$dir"
  [ ${#dir} -lt 60 ] || { echo "ha.sh: $dir is too long for socket paths; use a shorter folder" >&2; exit 2; }
  [ -f "$dir/secret" ] || (umask 077; openssl rand -hex 16 >"$dir/secret")
  (umask 077; printf '127.0.0.1:*:*:postgres:%s\n' "$(cat "$dir/secret")" >"$dir/pgpass")
  trap 'rc=$?; [ $rc -eq 0 ] || undo_start; exit $rc' EXIT
  trap 'exit 130' INT; trap 'exit 143' TERM
  if ! pid_alive "$dir/etcd.pid"; then
    started+=(etcd)
    setsid etcd --name ha --data-dir "$dir/etcd" --log-level warn --logger zap \
      --listen-client-urls http://127.0.0.1:$etcd_port --advertise-client-urls http://127.0.0.1:$etcd_port \
      --listen-peer-urls http://127.0.0.1:$etcd_peer --initial-advertise-peer-urls http://127.0.0.1:$etcd_peer \
      --initial-cluster ha=http://127.0.0.1:$etcd_peer >>"$dir/etcd.log" 2>&1 </dev/null &
    echo $! >"$dir/etcd.pid"
  fi
  wait_for 20 etcdctl --endpoints=127.0.0.1:$etcd_port endpoint health || { tail "$dir/etcd.log" >&2; exit 1; }
  for n in n1 n2; do
    mkdir -p "$dir/$n"; [ ${#as[@]} -gt 0 ] && chown postgres: "$dir/$n"; chmod 700 "$dir/$n"
    patroni_yml $n | "${as[@]}" tee "$dir/$n/patroni.yml" >/dev/null
    "${as[@]}" chmod 600 "$dir/$n/patroni.yml"
    pid_alive "$dir/$n/patroni.pid" || { started+=("$n"); start_patroni $n; }
    [ $n = n1 ] && { wait_for "${PATROLD_HA_PRIMARY_WAIT:-90}" either primary ||
      { echo "ha.sh: no primary; see $dir/n1/patroni.log" >&2; tail "$dir/n1/patroni.log" >&2; exit 1; }; }
  done
  export PGPASSFILE=$dir/pgpass
  db="host=127.0.0.1,127.0.0.1 port=${pg_port[n1]},${pg_port[n2]} user=postgres target_session_attrs=read-write"
  # the primary Patroni names may still restart its postgres (e.g. after etcd itself restarted)
  wait_for 60 psql "$db dbname=postgres" -XAtqc "SELECT 1" ||
    { echo "ha.sh: the primary accepts no connections; see $dir/n1/patroni.log" >&2; exit 1; }
  psql "$db dbname=postgres" -XAtqc "SELECT 1 FROM pg_database WHERE datname = 'patrol'" | grep -q 1 ||
    psql "$db dbname=postgres" -Xqc "CREATE DATABASE patrol"
  export PATROLD_DATABASE="$(conninfo)" PATROLD_MIGRATIONS_DIR="$root/migrations" PATROLD_SEED_DIR="$root/migrations/seed"
  "$bin" migrate >/dev/null
  [ -f "$dir/seeded" ] || { "$bin" seed >/dev/null && touch "$dir/seeded"; }
  wait_for 90 either sync ||
    echo "ha.sh: warning: no synchronous standby yet (see $dir/n2/patroni.log)" >&2
  for a in a1 a2; do pid_alive "$dir/$a/patrold.pid" || { started+=("$a"); start_api $a "$bin"; }; done
  for a in a1 a2; do
    wait_for 60 curl -sf -m 2 -o /dev/null http://127.0.0.1:${api_port[$a]}/readyz ||
      { echo "ha.sh: patrold $a not ready; see $dir/$a/patrold.log" >&2; exit 1; }
  done
  mkdir -p "$dir/nginx-tmp"
  nginx_conf >"$dir/nginx.conf"
  pid_alive "$dir/nginx.pid" || { started+=(nginx); nginx -q -c "$dir/nginx.conf" -p "$dir" -e "$dir/nginx-error.log"; }
  cat >"$dir/env" <<ENV
HA_DIR=$dir
HA_NGINX=http://127.0.0.1:$nginx_port
HA_API1=http://127.0.0.1:${api_port[a1]}
HA_API2=http://127.0.0.1:${api_port[a2]}
HA_PG1=${pg_port[n1]}
HA_PG2=${pg_port[n2]}
HA_REST1=${rest_port[n1]}
HA_REST2=${rest_port[n2]}
HA_ETCD=127.0.0.1:$etcd_port
HA_CONNINFO='$(conninfo)'
ENV
  trap - EXIT INT TERM
  cat <<MSG

  patrold behind nginx: http://127.0.0.1:$nginx_port/   (instances :${api_port[a1]} and :${api_port[a2]})
  PostgreSQL (Patroni): 127.0.0.1:${pg_port[n1]} and :${pg_port[n2]}, synchronous replication
    patronictl -c $dir/n1/patroni.yml list      (as postgres)
  demo login: dispatcher / demo
  stop: make ha stop   (or scripts/ha.sh stop $dir); logs and data in $dir

MSG
  ;;
stop)
  dir=$(cd "$dir" 2>/dev/null && pwd) || exit 0
  stop_pid "$dir/nginx.pid" 5
  for a in a1 a2; do stop_pid "$dir/$a/patrold.pid" 10; done
  for n in n1 n2; do pid_alive "$dir/$n/patroni.pid" && kill "$(cat "$dir/$n/patroni.pid")" || true; done
  for n in n1 n2; do stop_node $n; done  # Patroni stops its postgres; a stuck one is killed
  stop_pid "$dir/etcd.pid" 5
  echo "ha.sh: stopped (data in $dir)" ;;
kill)
  n=${3:?node n1 or n2}
  pm=$(head -1 "$dir/$n/data/postmaster.pid" 2>/dev/null || true)
  kill -9 "$(cat "$dir/$n/patroni.pid")" ${pm:+"$pm"} 2>/dev/null || true ;;
revive)
  n=${3:?node n1 or n2}
  pid_alive "$dir/$n/patroni.pid" || start_patroni "$n" ;;
status)
  "${as[@]}" patronictl -c "$dir/n1/patroni.yml" list ;;
*) echo "ha.sh: unknown command $cmd" >&2; exit 2 ;;
esac
