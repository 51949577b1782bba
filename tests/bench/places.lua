-- places.lua - wrk script: GET /api/v1/places?q= cycling through BENCH_QUERIES (comma-separated,
-- URL-encoded), or GET BENCH_PATH again and again when it is set (a baseline such as /healthz
-- measured with the same client work). Prints <BENCH_PREFIX>_p50_ms, _p99_ms, _rps and _not_ok
-- (answers other than 200).
local prefix = os.getenv("BENCH_PREFIX") or "places"
local path = os.getenv("BENCH_PATH")
local queries = {}
for q in string.gmatch(os.getenv("BENCH_QUERIES") or "", "[^,]+") do table.insert(queries, q) end
local threads = {}
local i = 0
not_ok = 0

function setup(thread)
  table.insert(threads, thread)
end

function request()
  if path then return wrk.format("GET", path) end
  i = i % #queries + 1
  return wrk.format("GET", "/api/v1/places?limit=10&q=" .. queries[i])
end

function response(status)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("not_ok") end
  io.write(string.format("%s_p50_ms %.3f\n%s_p99_ms %.3f\n%s_rps %d\n%s_not_ok %d\n",
    prefix, latency:percentile(50) / 1000, prefix, latency:percentile(99) / 1000,
    prefix, summary.requests / (summary.duration / 1e6), prefix, bad + summary.errors.status))
end
