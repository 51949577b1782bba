# GET /healthz throughput with wrk, beside nginx serving the same bytes as a static file in the same run.
source "$(dirname "$0")/lib.sh"
set -euo pipefail
DUR=${BENCH_SECONDS:-10}
db=$(bench_fresh_db bare)
url=$(bench_server "$db" PATROLD_THREADS=64)
dir=$(mktemp -d); chmod 755 "$dir"; printf '{"status":"ok"}' >"$dir/healthz"
port=$(bench_port)
cat >"$dir/nginx.conf" <<CONF
daemon off; worker_processes 2; pid $dir/nginx.pid; error_log $dir/error.log; user root;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$port; root $dir; location / { default_type application/json; } } }
CONF
nginx -c "$dir/nginx.conf" -p "$dir" & bench_track $!
sleep 0.5
run() { wrk -t2 -c64 -d"${DUR}s" --latency "$1"; }
p=$(run "$url/healthz"); n=$(run "http://127.0.0.1:$port/healthz")
pr=$(wrk_rps "$p"); nr=$(wrk_rps "$n")
echo "healthz_patrold_rps $pr"
echo "healthz_nginx_rps $nr"
echo "healthz_patrold_p99 $(awk '/ 99%/ {print $2}' <<<"$p")"
echo "healthz_ratio_patrold_to_nginx $(python3 -c "print(round($pr/$nr, 3))")"
