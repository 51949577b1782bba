-- reports.lua - wrk script: POST /api/v1/reports with a unique client_id (UUID v4 layout) per request
-- and a random point in Lianyungang. Needs BENCH_TOKEN (a bearer token) in the environment; BENCH_RUN
-- (a number, default 0) keeps ids of successive runs against one database apart; BENCH_PREFIX names
-- the printed lines (default reports_single).
-- Prints <prefix>_p50_ms, _p99_ms, _errors (socket errors and timeouts) and _not_created (answers
-- other than 201: a 200 would mean a repeated client_id, i.e. a dishonest measurement).
local token = os.getenv("BENCH_TOKEN") or ""
local run = tonumber(os.getenv("BENCH_RUN") or "0") or 0
local prefix = os.getenv("BENCH_PREFIX") or "reports_single"
local threads = {}
local counter = 0
created = 0
not_created = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
end

-- unique by construction: run number, wrk thread number and a per-thread counter (the random part
-- only fills the layout)
local function client_id()
  counter = counter + 1
  return string.format("%08x-%04x-4%03x-%04x-%012x", run % 0x100000000, tid or 0, math.random(0, 0xfff),
                       0x8000 + math.random(0, 0x3fff), counter)
end

function request()
  -- a box over the inland part of the city (some points fall outside it: those go to the city station)
  local lon = 118.60 + math.random() * 0.90
  local lat = 34.10 + math.random() * 0.70
  local body = string.format('{"client_id":"%s","category":"vagrant","location":{"lon":%.6f,"lat":%.6f},'
      .. '"observed_at":"2024-05-01T08:00:00+08:00","description":"bench","people_count":1}', client_id(), lon, lat)
  return wrk.format("POST", "/api/v1/reports",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    not_created = not_created + 1
    if not_created <= 3 then io.stderr:write("reports.lua: status " .. status .. ": " .. body:sub(1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local nc = 0
  for _, t in ipairs(threads) do nc = nc + (t:get("not_created") or 0) end
  io.write(string.format("%s_p50_ms %.2f\n", prefix, latency:percentile(50) / 1000))
  io.write(string.format("%s_p99_ms %.2f\n", prefix, latency:percentile(99) / 1000))
  io.write(string.format("%s_errors %d\n", prefix, summary.errors.connect + summary.errors.read
                                                  + summary.errors.write + summary.errors.timeout))
  io.write(string.format("%s_not_created %d\n", prefix, nc))
end
