-- reports.lua - wrk script: POST /api/v1/reports with a unique client_id (UUID v4 layout) per request
-- and a random point in Lianyungang. Needs BENCH_TOKEN (a bearer token) in the environment.
-- Prints `reports_single_p50_ms` / `reports_single_p99_ms` when done.
local token = os.getenv("BENCH_TOKEN") or ""
local threads = {}
local counter = 0
local run_id = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  -- tid is set by setup(); os.time and the thread number make ids unique across runs and threads
  math.randomseed(os.time() * 1000 + (tid or 0))
  run_id = math.random(0, 0x7fffffff)
end

local function client_id()
  counter = counter + 1
  return string.format("%08x-%04x-4%03x-%04x-%012x", run_id, tid or 0, math.random(0, 0xfff),
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

local bad = 0
function response(status, headers, body)
  if status ~= 201 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write("reports.lua: status " .. status .. ": " .. body:sub(1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  io.write(string.format("reports_single_p50_ms %.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("reports_single_p99_ms %.2f\n", latency:percentile(99) / 1000))
  io.write(string.format("reports_single_errors %d\n", summary.errors.status + summary.errors.connect
                                                       + summary.errors.read + summary.errors.write
                                                       + summary.errors.timeout))
end
