-- wrk script: capacity writes. Cycles through the requests of $ROR_WRITES (one per line:
-- METHOD <tab> PATH <tab> BODY), each thread from a different offset, with the bearer token of
-- $ROR_TOKEN. With $ROR_DELAY_MS set, each connection waits that long between two requests
-- (connections x 1000 / delay = the offered rate, less the latency); unset: as fast as it can.
local requests = {}
local index = 1
local delay_ms = tonumber(os.getenv("ROR_DELAY_MS") or "0")
local threads = {}
local not_ok = 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local headers = { ["Authorization"] = "Bearer " .. os.getenv("ROR_TOKEN"), ["Content-Type"] = "application/fhir+json" }
  for line in io.lines(os.getenv("ROR_WRITES")) do
    local method, path, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  index = (math.floor(os.clock() * 1000003) % #requests) + 1
end

function request()
  local request = requests[index]
  index = index % #requests + 1
  return request
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
    if not_ok <= 3 then io.stderr:write("write answered " .. status .. ": " .. body:sub(1, 300) .. "\n") end
  end
end

function done(summary, latency, requests)
  local refused = 0
  for _, thread in ipairs(threads) do refused = refused + (thread:get("not_ok") or 0) end
  io.write(string.format("writes: %d in %.1f s = %.0f writes/s acknowledged; not 200: %d; socket errors: %d\n",
    summary.requests, summary.duration / 1e6, (summary.requests - refused) / (summary.duration / 1e6), refused,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("write ack latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
