-- wrk script of `make bench`: every request votes on the next battle of this thread's share of
-- the prepared file (lines `battle_id session_token`), with the session cookie, JSON body and
-- an Idempotency-Key as the browser sends them. A thread stops when its share is used up.
-- Usage: wrk -t T -c C -d D -s votes.lua URL -- FILE T
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local winners = { "model_a", "model_b", "tie", "both_bad" }

function init(args)
  lines = {}
  local threads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == id then table.insert(lines, line) end
    i = i + 1
  end
  next_line = 1
  sent = 0
end

function request()
  local line = lines[next_line]
  if line == nil then
    wrk.thread:stop()
    line = lines[#lines]
  else
    next_line = next_line + 1
  end
  local battle, token = line:match("^(%S+) (%S+)$")
  sent = sent + 1
  return wrk.format("POST", "/api/v1/battles/" .. battle .. "/vote", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "arena_session=" .. token,
    ["Idempotency-Key"] = "bench-" .. battle,
  }, '{"winner":"' .. winners[(sent % 4) + 1] .. '"}')
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("WRK requests=%d seconds=%.3f rps=%.1f p50_ms=%.2f p99_ms=%.2f failed=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, failed))
end
