-- wrk script: POST verification requests built from a file of JSON bodies (one per line),
-- picked at random, with HTTP Basic credentials from the environment.
local bodies = {}
local auth = os.getenv("BENCH_AUTH") or ""
local path = os.getenv("BENCH_BODIES") or "bodies.jsonl"

function init(args)
  for line in io.lines(path) do bodies[#bodies + 1] = line end
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
end

function request()
  local body = bodies[math.random(#bodies)]
  local headers = { ["Content-Type"] = "application/json" }
  if auth ~= "" then headers["Authorization"] = "Basic " .. auth end
  return wrk.format("POST", "/api/v1/registry/verifications", headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, summary.requests, errors))
end
