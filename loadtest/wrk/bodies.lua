-- wrk script: POST one JSON body per request, each line of a file once, in order.
-- Usage: WRK_RESULT=out.json wrk -t1 -c32 -d10s -s bodies.lua URL -- BODIES_FILE
-- With -t1 there is one thread, so no two requests share a body until the file
-- runs out; then it starts over, and the wraps are counted in the result.
-- done() runs in wrk's main Lua state: it reads the threads' counters through
-- thread:get, and the result path from the environment.

local threads = {}
local bodies = {}
local next_body = 1
wraps = 0 -- global: done() reads it with thread:get

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[next_body]
  next_body = next_body + 1
  if next_body > #bodies then
    next_body = 1
    wraps = wraps + 1
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  local wrapped = 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + thread:get("wraps")
  end
  local out = assert(io.open(os.getenv("WRK_RESULT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "wraps": %d, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, wrapped,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
  out:close()
end
