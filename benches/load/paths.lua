-- wrk script: cycles through the request paths of $ROR_LOAD_PATHS (one per line), each thread
-- starting at a different offset.
local paths = {}
local index = 1

function init(args)
  for line in io.lines(os.getenv("ROR_LOAD_PATHS")) do
    paths[#paths + 1] = line
  end
  index = (math.floor(os.clock() * 1000003) % #paths) + 1
end

function request()
  local path = paths[index]
  index = index % #paths + 1
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx/3xx or socket errors: %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
