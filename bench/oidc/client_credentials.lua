-- wrk script: the client_credentials grant, the same request every time, with HTTP Basic.
-- Env: BENCH_AUTH (base64 of client_id:client_secret), BENCH_PATH (the token endpoint's
-- path), BENCH_SCOPE.
local auth = os.getenv("BENCH_AUTH") or ""
local path = os.getenv("BENCH_PATH") or "/oidc/token"
local scope = os.getenv("BENCH_SCOPE") or "registry.verify"

wrk.method = "POST"
wrk.path = path
wrk.body = "grant_type=client_credentials&scope=" .. scope
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. auth

ok = 0
function response(status, headers, body)
  if status == 200 and body:find('"access_token":"ey', 1, true) then ok = ok + 1 end
end

function setup(thread) threads = threads or {}; table.insert(threads, thread) end

function done(summary, latency, requests)
  local tokens = 0
  for _, t in ipairs(threads or {}) do tokens = tokens + (t:get("ok") or 0) end
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f requests=%d errors=%d jwt_tokens=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, summary.requests, errors, tokens))
end
