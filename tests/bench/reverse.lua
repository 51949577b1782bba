-- reverse.lua - wrk script: GET /api/v1/places/reverse at random points of Lianyungang. Prints
-- places_reverse_rps and places_reverse_not_ok.
local threads = {}
not_ok = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + #threads)
end

function request()
  local lon = 118.6 + math.random() * 1.2
  local lat = 34.0 + math.random() * 1.0
  return wrk.format("GET", string.format("/api/v1/places/reverse?lon=%.6f&lat=%.6f", lon, lat))
end

function response(status)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("not_ok") end
  io.write(string.format("places_reverse_rps %d\nplaces_reverse_p99_ms %.3f\nplaces_reverse_not_ok %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
    bad + summary.errors.status))
end
