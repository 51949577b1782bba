# lib.sh - shared by tests/bench/bench_*.sh: databases cloned from the seeded template and patrold
# servers on free loopback ports. Needs PATROLD_BIN and PATROLD_TEST_PGHOST (tests/bench/run sets them).
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# Servers started in a $(...) subshell must still be stopped: their pids go to a file.
BENCH_PIDFILE=${BENCH_PIDFILE:-$(mktemp /tmp/patrold-bench-pids.XXXXXX)}
export BENCH_PIDFILE
bench_track() { echo "$1" >>"$BENCH_PIDFILE"; }

# bench_fresh_db [bare]: prints the name of a new database with the migrations (and the demo seed
# unless `bare`).
bench_fresh_db() {
  local seeded=True; [ "${1:-}" = bare ] && seeded=False
  (cd "$ROOT/tests/integration" && python3 -c "import harness; print(harness.fresh_db(seeded=$seeded).name)")
}

# Prints a free loopback port.
bench_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_server DB [VAR=VALUE...]: starts patrold on DB, waits until ready, prints its base URL.
bench_server() {
  local db=$1; shift
  local port; port=$(bench_port)
  env "$@" PATROLD_DATABASE="host=$PATROLD_TEST_PGHOST dbname=$db user=postgres" \
      PATROLD_LISTEN=127.0.0.1:$port PATROLD_ACCESS_LOG=0 \
      PATROLD_MIGRATIONS_DIR="$ROOT/migrations" PATROLD_SEED_DIR="$ROOT/migrations/seed" \
      "$PATROLD_BIN" serve >>"${BENCH_LOG:-/dev/null}" 2>&1 &
  bench_track $!
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && { echo "http://127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  echo "bench_server: patrold did not get ready" >&2; return 1
}

# bench_login URL USER: prints a bearer token.
bench_login() {
  curl -sf -H 'Content-Type: application/json' -d "{\"username\":\"$2\",\"password\":\"demo\"}" \
    "$1/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

bench_cleanup() {
  local p
  [ -f "$BENCH_PIDFILE" ] || return 0
  while read -r p; do kill "$p" 2>/dev/null; done <"$BENCH_PIDFILE"
  # a zombie counts as gone (an orphaned server's parent may be a PID 1 that does not reap)
  while read -r p; do
    while kill -0 "$p" 2>/dev/null && [ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" != Z ]; do sleep 0.1; done
  done <"$BENCH_PIDFILE"
  rm -f "$BENCH_PIDFILE"
}
trap bench_cleanup EXIT

# wrk_rps OUTPUT: requests/s from wrk's output.
wrk_rps() { awk '/^Requests\/sec/ {print int($2)}' <<<"$1"; }

# bench_base: with BENCH_BASE=<commit> (e.g. the commit a change started from), prints the folder of
# that commit's tree with its patrold built (made once in /tmp, reused); prints nothing without it.
# Scripts run the same load against it and print ratios: "before and after" from one run.
bench_base() {
  [ -n "${BENCH_BASE:-}" ] || return 0
  local dir=/tmp/patrold-bench-base-$BENCH_BASE
  if [ ! -x "$dir/build/patrold" ]; then
    mkdir -p "$dir"
    git -C "$ROOT" archive "$BENCH_BASE" | tar -x -C "$dir"
    env -u MAKEFLAGS -u MFLAGS make -s -C "$dir" -j2 BUILD=build build/patrold >&2
  fi
  echo "$dir"
}
