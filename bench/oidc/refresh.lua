-- wrk script: the refresh_token grant with rotation. Every token is spent once: a pool starts
-- with the tokens of BENCH_TOKENS (one a line, each from a grant of its own; more than there
-- are connections), each request takes one, and each answer gives back its new refresh token,
-- so every connection keeps following live chains. A refused request loses its chain (and
-- counts as an error). Env: BENCH_AUTH (base64 of client_id:client_secret), BENCH_PATH,
-- BENCH_TOKENS.
local auth = os.getenv("BENCH_AUTH") or ""
local path = os.getenv("BENCH_PATH") or "/oidc/token"
local pool = {}
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = "Basic " .. auth,
}
rotated = 0
starved = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then pool[#pool + 1] = line end
  end
end

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local token = table.remove(pool, 1)
  if not token then
    starved = starved + 1
    token = "pool-empty"
  end
  return wrk.format("POST", path, headers, "grant_type=refresh_token&refresh_token=" .. encode(token))
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refresh_token":"([^"]+)"')
    if token and body:find('"id_token":"ey', 1, true) then
      pool[#pool + 1] = token
      rotated = rotated + 1
    end
  end
end

function setup(thread) threads = threads or {}; table.insert(threads, thread) end

function done(summary, latency, requests)
  local ok, empty = 0, 0
  for _, t in ipairs(threads or {}) do
    ok = ok + (t:get("rotated") or 0)
    empty = empty + (t:get("starved") or 0)
  end
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f requests=%d errors=%d rotated=%d pool_empty=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000, summary.requests, errors, ok, empty))
end
