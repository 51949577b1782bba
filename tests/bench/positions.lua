-- positions.lua - wrk script: POST /api/v1/units/{id}/positions with batches of 100 fixes, every
-- (unit, at) new. Needs BENCH_TOKEN (an admin token), BENCH_UNITS (comma-separated unit ids; each wrk
-- thread takes its own share so no two threads post for one unit), BENCH_T0 (epoch seconds the
-- fixes start at). Prints positions_p50_ms, _p99_ms, _errors, _not_ok and positions_fixes_sent.
local token = os.getenv("BENCH_TOKEN") or ""
local t0 = tonumber(os.getenv("BENCH_T0") or "0")
local all = {}
for id in string.gmatch(os.getenv("BENCH_UNITS") or "", "%d+") do table.insert(all, id) end
local threads = {}
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
not_ok = 0
sent = 0
local counter = 0
local batch = tonumber(os.getenv("BENCH_BATCH") or "100")

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local mine = {}
function init(args)
  for i = 1, #all do
    if (i - 1) % nthreads == tid then table.insert(mine, all[i]) end
  end
end

local function stamp(t)
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%06dZ", math.floor((t - s) * 1e6 + 0.5))
end

function request()
  counter = counter + 1
  local unit = mine[(counter - 1) % #mine + 1]
  local round = math.floor((counter - 1) / #mine)   -- the how-many-th batch of this unit
  local parts = {}
  for i = 0, batch - 1 do
    local k = round * batch + i                        -- fix number k of this unit: 0.05 s apart,
    local lon = 119.20 + k * 0.000001                -- 0.09 m further east each (1.9 m/s)
    parts[#parts + 1] = string.format('{"location":{"lon":%.6f,"lat":34.600000},"at":"%s","speed_mps":1.5,"heading":90}',
                                      lon, stamp(t0 + k * 0.05))
  end
  sent = sent + batch
  return wrk.format("POST", "/api/v1/units/" .. unit .. "/positions",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
                    '{"positions":[' .. table.concat(parts, ",") .. ']}')
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
    if not_ok <= 3 then io.stderr:write("positions.lua: " .. status .. ": " .. body:sub(1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("not_ok") or 0) end
  io.write(string.format("positions_p50_ms %.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("positions_p99_ms %.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("positions_errors %d\n", summary.errors.connect + summary.errors.read
                                                   + summary.errors.write + summary.errors.timeout))
  io.write(string.format("positions_not_ok %d\n", bad))
end
