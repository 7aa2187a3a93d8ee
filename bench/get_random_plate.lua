-- wrk script: GET a random one of the live plates L1..L1000, and report percentiles as JSON.
local key = os.getenv("BENCH_KEY")
math.randomseed(os.time())

request = function()
  local path = "/api/v1/vehicles/L" .. math.random(1, 1000)
  return wrk.format("GET", path, { ["X-API-Key"] = key })
end

done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'WRK_JSON {"requests": %d, "errors": %d, "seconds": %.3f, "rps": %.1f, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f, "p999_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, errors, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
end
