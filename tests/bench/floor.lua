-- floor.lua - wrk script: GET BENCH_PATH again and again, counting answers other than 200: the
-- same client work per request as places.lua and reverse.lua, for a baseline (/healthz) measured
-- beside them. Prints <BENCH_PREFIX>_not_ok.
local prefix = os.getenv("BENCH_PREFIX") or "floor"
local path = os.getenv("BENCH_PATH") or "/healthz"
local threads = {}
not_ok = 0

function setup(thread)
  table.insert(threads, thread)
end

function request()
  return wrk.format("GET", path)
end

function response(status)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("not_ok") end
  io.write(string.format("%s_not_ok %d\n", prefix, bad + summary.errors.status))
end
