-- wrk script of the HTTP-overhead benchmark: GET /api/characters/<id> with varying ids.
--
-- Each thread pre-builds 1,000 requests with pseudo-random ids from a fixed seed (the same
-- sequence for every variant) and cycles through them, so generating requests costs wrk almost
-- nothing. done() prints one line "WRK_JSON {...}" that http_overhead.py parses: requests,
-- duration and latency percentiles in microseconds, socket errors and non-2xx/3xx answers.
--
-- By hand: wrk -t2 -c32 -d10s -s benchmarks/characters.lua http://127.0.0.1:8001

local thread_count = 0
local pool = {}
local pool_size = 1000
local cursor = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  math.randomseed(1000 + (thread_number or 0))
  for i = 1, pool_size do
    pool[i] = wrk.format("GET", "/api/characters/" .. math.random(1, 1000000))
  end
end

function request()
  cursor = cursor % pool_size + 1
  return pool[cursor]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, ' ..
    '"p50": %d, "p75": %d, "p90": %d, "p99": %d, "p99_9": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
