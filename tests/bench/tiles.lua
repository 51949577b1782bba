-- tiles.lua - wrk script: GET every path of the file BENCH_PATHS in turn (each wrk thread starts at
-- another place); prints tiles_<BENCH_PREFIX>_bad: answers other than 200 and 204.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local threads, n = {}, 0
bad = 0

function setup(thread)
  thread:set("start", #threads * 97)
  table.insert(threads, thread)
end

function request()
  n = n + 1
  return wrk.format("GET", paths[(start + n) % #paths + 1])
end

function response(status)
  if status ~= 200 and status ~= 204 then bad = bad + 1 end
end

function done()
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("tiles_%s_bad %d\n", os.getenv("BENCH_PREFIX") or "x", b))
end
