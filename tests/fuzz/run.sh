#!/usr/bin/env bash
# Runs every libFuzzer driver built in $BUILD/fuzz (by `make fuzz`) for FUZZ_SECONDS each, starting
# from the seeds in tests/fuzz/corpus/<target>/; fails when any target finds a crash, a leak, a
# sanitizer report or a timeout. Usage: tests/fuzz/run.sh [target ...]  (default: all built).
# Found inputs go to $BUILD/fuzz/corpus/<target>/, crashes to $BUILD/fuzz/artifacts/<target>/;
# reproduce one with  $BUILD/fuzz/<target> <crash-file>.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-30}
out=$BUILD/fuzz
# UBSan reports are fatal (the objects are built in recover mode); leaks are crashes.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}

# Tokens that help the JSON targets reach deep paths quickly.
dict=$out/json.dict
mkdir -p "$out"
cat >"$dict" <<'DICT'
"{"
"}"
"["
"]"
":"
","
"\""
"\\u0000"
"null"
"true"
"false"
"-0.0e-0"
"1e308"
"\"type\""
"\"FeatureCollection\""
"\"Feature\""
"\"features\""
"\"properties\""
"\"geometry\""
"\"coordinates\""
"\"Polygon\""
"\"MultiPolygon\""
"\"code\""
"\"name\""
"\"level\""
"\"county\""
"\"community\""
"\"reports\""
"\"client_id\""
"\"0e8c4a3e-6a3c-4d7a-9f1e-2b7c9d1e5f00\""
"\"category\""
"\"vagrant\""
"\"location\""
"\"lon\""
"\"lat\""
"\"crs\""
"\"gcj02\""
"\"bd09\""
"\"accuracy_m\""
"\"observed_at\""
"\"2024-05-01T08:30:00+08:00\""
"\"description\""
"\"people_count\""
"\"person\""
"\"sex\""
"\"approx_age\""
"\"appearance\""
"\"name_if_known\""
"119.22"
"34.6"
DICT

if [ $# -gt 0 ]; then targets=("$@"); else
  targets=()
  for b in "$out"/fuzz_*; do [ -x "$b" ] && targets+=("$(basename "$b")"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets in $out (run make fuzz)" >&2; exit 1; }

failed=()
for t in "${targets[@]}"; do
  bin=$out/$t
  name=${t#fuzz_}
  seeds=tests/fuzz/corpus/$name
  work=$out/corpus/$name
  art=$out/artifacts/$name
  mkdir -p "$work" "$art"
  extra=()
  [ -d "$seeds" ] || seeds=
  case $name in importer|reports) extra+=(-dict="$dict") ;; esac
  echo "== $t: ${SECONDS_EACH}s" >&2
  log=$out/$t.log
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/" "${extra[@]}" "$work" ${seeds:+"$seeds"} >"$log" 2>&1
  rc=$?
  grep -E '^#[0-9]+.*DONE|^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss' "$log" >&2
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "!! $t FAILED (rc $rc), log $log; crash input:" >&2
    grep -E '^==[0-9]+==ERROR|runtime error|SUMMARY|Test unit written|deadly signal|timeout' "$log" | head -8 >&2
    grep -E '^    #[0-9]' "$log" | head -10 >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) clean for ${SECONDS_EACH}s each" >&2
