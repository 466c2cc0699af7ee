#!/usr/bin/env bash
# The OpenID Connect provider's benchmark behind BENCHMARKS.md, measured in one run on one
# machine, side by side with panva's oidc-provider (the version pinned in
# bench/oidc/package.json, configured in bench/oidc/provider.mjs), each server on core 0 and
# the load on core 1:
#  1. bare primitives on core 0: an ES256 signature and an Argon2id verification (7 MiB, t=5,
#     p=1: Keycloak's parameters) as motcua computes them (bench/src/oidc_tools.rs), an ES256
#     signature as oidc-provider computes it (bench/oidc/es256.mjs: Node's crypto), and a
#     SQLite commit in WAL mode with synchronous=NORMAL as motcua's database runs (Python's
#     sqlite3);
#  2. the ceiling of any answer over HTTP on that core: the plain axum endpoint of bench/run.sh
#     (bench/src/hello_baseline.rs) under the same wrk settings as below;
#  3. idle memory (RSS) of `motcua serve` and of the oidc-provider process;
#  4. the client_credentials grant: wrk, 1 thread, 32 connections, 20 s after a 3 s warm-up
#     (bench/oidc/client_credentials.lua), on both servers;
#  5. the refresh_token grant with rotation: same wrk settings (bench/oidc/refresh.lua), each
#     request spending a refresh token and the answer giving the next; the tokens come from
#     real authorization-code flows (bench/oidc/tokens.mjs), a fresh set for the warm-up and
#     for the measured run;
#  6. password logins on motcua with Argon2id 7 MiB, t=5, p=1 and one hashing worker
#     (oidc-tools logins: login form, then PID + password + TOTP, one account per login).
# Every second of the run, whether a rustc or cargo process was running is recorded, and the
# count printed at the end with the CPU time that other processes took during the run.
# Usage: bench/oidc.sh   (env: BENCH_SECONDS=20 BENCH_CONNECTIONS=32 BENCH_CHAINS=64
#        BENCH_LOGIN_ACCOUNTS=2600 BENCH_LOGIN_CONNECTIONS=8 BENCH_DIR=/tmp/motcua-bench-oidc)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${BENCH_SECONDS:-20}
CONNS=${BENCH_CONNECTIONS:-32}
CHAINS=${BENCH_CHAINS:-64}
LOGIN_ACCOUNTS=${BENCH_LOGIN_ACCOUNTS:-2600}
LOGIN_CONNS=${BENCH_LOGIN_CONNECTIONS:-8}
DIR=${BENCH_DIR:-/tmp/motcua-bench-oidc}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="$CARGO_TARGET_DIR/release/motcua"
TOOLS="$CARGO_TARGET_DIR/release/oidc-tools"
HELLO="$CARGO_TARGET_DIR/release/hello-baseline"
MPORT=${BENCH_PORT_BASE:-18471}
OPORT=$((MPORT + 1))
# Keycloak's Argon2id parameters (7 MiB, 5 passes, 1 lane).
ARGON=(--argon2-memory-kib 7168 --argon2-iterations 5 --argon2-parallelism 1)
for tool in wrk taskset node npm python3 curl; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# $1 URL, $2 the server's process: ready when it answers and that process still runs.
wait_ready() {
  for _ in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null || { echo "the server exited: see $DIR"; exit 1; }
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "not ready: $1"; exit 1
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || { echo "port $1 is in use: set BENCH_PORT_BASE"; exit 1; }; }
rss() { awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_seconds() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (b - a) / hz}'; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# The machine's CPU time (/proc/stat: user+nice+system, irq+softirq, steal) and this script's
# with every child it has waited for, in clock ticks.
cpu_mark() { awk -v mine="$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)" '/^cpu / {print $2 + $3 + $4, $7 + $8, $9, mine}' /proc/stat; }

echo "== build (release)"
cargo build --release --locked -p motcua -p motcua-bench 2>&1 | tail -n 1
(cd bench/oidc && npm ci --no-audit --no-fund --silent)
rm -rf "$DIR" && mkdir -p "$DIR"
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "code: commit $(git rev-parse --short HEAD), $(git status --porcelain -- crates Cargo.lock | wc -l) changed files under crates/ and Cargo.lock in the work tree"
echo "node $(node --version), oidc-provider $(node -p 'require("./bench/oidc/node_modules/oidc-provider/package.json").version'), $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"

# ---- motcua's data: a small registry, two clients, the citizens' accounts ----
echo "== motcua: database, clients, accounts"
DB="sqlite://$DIR/motcua.sqlite3?mode=rwc"
"$BIN" migrate --database "$DB" >/dev/null 2>&1
"$BIN" registry generate --count 20000 --seed 1 --out "$DIR/population.csv" >/dev/null 2>&1
"$BIN" registry import --database "$DB" "$DIR/population.csv" >/dev/null 2>&1
AGENCY=$("$BIN" oidc client create --database "$DB" --name "bench agency" --grant client_credentials --scope registry.verify)
PORTAL=$("$BIN" oidc client create --database "$DB" --name "bench portal" --redirect-uri "http://127.0.0.1:$MPORT/cb" --scope openid profile offline_access)
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }
M_AGENCY_AUTH=$(basic "$(field "$AGENCY" client_id)" "$(field "$AGENCY" client_secret)")
PORTAL_ID=$(field "$PORTAL" client_id)
PORTAL_SECRET=$(field "$PORTAL" client_secret)
M_PORTAL_AUTH=$(basic "$PORTAL_ID" "$PORTAL_SECRET")
# Adults, alive: the first two for the refresh tokens, the next LOGIN_ACCOUNTS for the logins.
python3 - "$DIR/population.csv" "$((LOGIN_ACCOUNTS + 2))" >"$DIR/pids.txt" <<'PY'
import csv, datetime, sys
limit = int(sys.argv[2])
cutoff = (datetime.date.today() - datetime.timedelta(days=365 * 20)).isoformat()
n = 0
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    for row in csv.DictReader(f):
        if row["date_of_birth"] <= cutoff and row.get("status", "alive") == "alive" and not row.get("date_of_death"):
            print(row["pid"])
            n += 1
            if n == limit:
                break
PY
PASSWORD="bench-password-$(date +%s)"
START_ACCOUNTS=$(date +%s.%N)
# Each account: its own Argon2id hash with Keycloak's parameters; two at a time (two cores).
# accounts.txt: PID PASSWORD TOTP_SECRET, one a line, in the order of pids.txt.
python3 - "$BIN" "$DB" "$PASSWORD" "$DIR/pids.txt" "${ARGON[@]}" >"$DIR/accounts.txt" <<'PY'
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
motcua, db, password, pids_file, *argon = sys.argv[1:]
pids = [line.strip() for line in open(pids_file) if line.strip()]
def create(pid):
    out = subprocess.run([motcua, "account", "create", "--database", db, "--pid", pid, "--level", "1",
                          "--password-stdin", *argon], input=password + "\n", capture_output=True,
                         text=True, check=True).stdout
    return f"{pid} {password} {json.loads(out)['totp_secret']}"
with ThreadPoolExecutor(2) as pool:
    for line in pool.map(create, pids):
        print(line)
PY
echo "accounts: $(wc -l <"$DIR/accounts.txt") in $(python3 -c "import sys,time; print(round(time.time()-float(sys.argv[1]),1))" "$START_ACCOUNTS") s"
sed -n 1p "$DIR/accounts.txt" >"$DIR/refresh-account-1.txt"
sed -n 2p "$DIR/accounts.txt" >"$DIR/refresh-account-2.txt"
tail -n +3 "$DIR/accounts.txt" >"$DIR/login-accounts.txt"

# ---- oidc-provider's clients ----
O_AGENCY_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
O_PORTAL_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
printf '{"agency_secret":"%s","portal_secret":"%s"}\n' "$O_AGENCY_SECRET" "$O_PORTAL_SECRET" >"$DIR/op-secrets.json"
O_AGENCY_AUTH=$(basic agency "$O_AGENCY_SECRET")
O_PORTAL_AUTH=$(basic portal "$O_PORTAL_SECRET")

# ---- the run proper: record who else uses the CPU ----
read -r BUSY0 IRQ0 STEAL0 MINE0 < <(cpu_mark)
T0=$(date +%s.%N)
(while :; do
   if pgrep -x rustc >/dev/null || pgrep -x cargo >/dev/null; then echo busy; else echo idle; fi
   sleep 1
 done) >"$DIR/compilers.log" 2>/dev/null &
PIDS+=("$!")
SAMPLER=$!

echo "== bare primitives on core 0"
ES=$(taskset -c 0 "$TOOLS" es256 --seconds 3)
echo "es256 (p256 crate, as motcua): $ES"
NES=$(taskset -c 0 node bench/oidc/es256.mjs 3)
echo "es256 (Node's crypto, as oidc-provider): $NES"
ARG=$(taskset -c 0 "$TOOLS" argon2 --memory-kib 7168 --iterations 5 --parallelism 1 --seconds 5)
echo "argon2id 7 MiB t=5 p=1: $ARG"
SQL=$(taskset -c 0 python3 - "$DIR/commit.sqlite3" <<'PY'
import sqlite3, sys, time, os
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL")
c.execute("CREATE TABLE t (hash TEXT PRIMARY KEY, grant_id TEXT, used_at INTEGER, expires_at INTEGER)")
# Each commit: mark the previous row used and insert the next, as a rotation does.
prev, n, start = None, 0, time.perf_counter()
while time.perf_counter() - start < 3:
    h = os.urandom(32).hex()
    c.execute("BEGIN")
    if prev: c.execute("UPDATE t SET used_at = ? WHERE hash = ?", (n, prev))
    c.execute("INSERT INTO t VALUES (?, 'g', NULL, 0)", (h,))
    c.execute("COMMIT")
    prev, n = h, n + 1
took = time.perf_counter() - start
print(f"RESULT commits_per_s={n/took:.0f} us_each={took*1e6/n:.1f}")
PY
)
echo "sqlite commit (update + insert, WAL, synchronous=NORMAL, Python): $SQL"

wrk_warm() { # $1 port, $2 script, $3 auth, $4 token path, $5 tokens file
  taskset -c 1 env BENCH_AUTH="$3" BENCH_PATH="$4" BENCH_TOKENS="$5" wrk -t1 -c"$CONNS" -d3s -s "$2" "http://127.0.0.1:$1" >/dev/null
}
wrk_measure() { # $1 label, $2 port, $3 script, $4 auth, $5 token path, $6 tokens file, $7 server pid
  local before after out
  before=$(cpu_ticks "$7")
  out=$(taskset -c 1 env BENCH_AUTH="$4" BENCH_PATH="$5" BENCH_TOKENS="$6" wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s "$3" "http://127.0.0.1:$2" | grep RESULT)
  after=$(cpu_ticks "$7")
  echo "$out server_cpu_s=$(cpu_seconds "$before" "$after")" | sed "s/^RESULT/$1/"
}

echo "== the ceiling: a plain axum endpoint (bench/src/hello_baseline.rs), core 0"
port_free "$MPORT"
echo '{"pid":"001095012345","full_name":"An","date_of_birth":"1995-03-14","purpose":"benchmark"}' >"$DIR/hello-body.jsonl"
taskset -c 0 "$HELLO" "127.0.0.1:$MPORT" >/dev/null 2>&1 &
HPID=$!; PIDS+=("$HPID")
sleep 1
taskset -c 1 env BENCH_BODIES="$DIR/hello-body.jsonl" wrk -t1 -c"$CONNS" -d3s -s bench/verify.lua "http://127.0.0.1:$MPORT" >/dev/null
HELLO_OUT=$(taskset -c 1 env BENCH_BODIES="$DIR/hello-body.jsonl" wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s bench/verify.lua "http://127.0.0.1:$MPORT" | grep RESULT | sed 's/^RESULT/hello-baseline/')
echo "$HELLO_OUT"
stop "$HPID"

echo "== oidc-provider (NODE_ENV=production, one process, core 0)"
port_free "$OPORT"
NODE_ENV=production taskset -c 0 node bench/oidc/provider.mjs "$OPORT" "$DIR/op-secrets.json" >"$DIR/oidc-provider.log" 2>&1 &
OPID=$!; PIDS+=("$OPID")
wait_ready "http://127.0.0.1:$OPORT/.well-known/openid-configuration" "$OPID"
sleep 3
echo "idle RSS oidc-provider: $(rss "$OPID")"
wrk_warm "$OPORT" bench/oidc/client_credentials.lua "$O_AGENCY_AUTH" /token ""
O_CC=$(wrk_measure oidc-provider-client-credentials "$OPORT" bench/oidc/client_credentials.lua "$O_AGENCY_AUTH" /token "" "$OPID")
echo "$O_CC"
# Each set of refresh tokens is obtained just before it is used: the in-memory adapter is an
# LRU of 1,000 entries, and a warm-up's rotations would evict tokens obtained before it.
node bench/oidc/tokens.mjs oidc-provider "http://127.0.0.1:$OPORT" portal "$O_PORTAL_SECRET" "$CHAINS" >"$DIR/op-tokens-warmup.txt"
wrk_warm "$OPORT" bench/oidc/refresh.lua "$O_PORTAL_AUTH" /token "$DIR/op-tokens-warmup.txt"
node bench/oidc/tokens.mjs oidc-provider "http://127.0.0.1:$OPORT" portal "$O_PORTAL_SECRET" "$CHAINS" >"$DIR/op-tokens-run.txt"
O_RT=$(wrk_measure oidc-provider-refresh "$OPORT" bench/oidc/refresh.lua "$O_PORTAL_AUTH" /token "$DIR/op-tokens-run.txt" "$OPID")
echo "$O_RT"
echo "RSS oidc-provider after load: $(rss "$OPID")"
stop "$OPID"

echo "== motcua (core 0)"
port_free "$MPORT"
taskset -c 0 "$BIN" serve --database "$DB" --listen "127.0.0.1:$MPORT" --public-url "http://127.0.0.1:$MPORT" >"$DIR/serve.log" 2>&1 &
MPID=$!; PIDS+=("$MPID")
wait_ready "http://127.0.0.1:$MPORT/readyz" "$MPID"
sleep 3
echo "idle RSS motcua serve: $(rss "$MPID")"
wrk_warm "$MPORT" bench/oidc/client_credentials.lua "$M_AGENCY_AUTH" /oidc/token ""
M_CC=$(wrk_measure motcua-client-credentials "$MPORT" bench/oidc/client_credentials.lua "$M_AGENCY_AUTH" /oidc/token "" "$MPID")
echo "$M_CC"
# Same order as for oidc-provider; each set from its own citizen (a TOTP code is accepted once
# per account and 30-second step), one login and then authorizations in the same cookie jar.
node bench/oidc/tokens.mjs motcua "http://127.0.0.1:$MPORT" "$PORTAL_ID" "$PORTAL_SECRET" "$CHAINS" $(cat "$DIR/refresh-account-1.txt") >"$DIR/m-tokens-warmup.txt"
wrk_warm "$MPORT" bench/oidc/refresh.lua "$M_PORTAL_AUTH" /oidc/token "$DIR/m-tokens-warmup.txt"
node bench/oidc/tokens.mjs motcua "http://127.0.0.1:$MPORT" "$PORTAL_ID" "$PORTAL_SECRET" "$CHAINS" $(cat "$DIR/refresh-account-2.txt") >"$DIR/m-tokens-run.txt"
M_RT=$(wrk_measure motcua-refresh "$MPORT" bench/oidc/refresh.lua "$M_PORTAL_AUTH" /oidc/token "$DIR/m-tokens-run.txt" "$MPID")
echo "$M_RT"
echo "RSS motcua serve after load: $(rss "$MPID")"
stop "$MPID"

port_free "$MPORT"
echo "== motcua password logins (Argon2id 7 MiB t=5 p=1, one hashing worker, core 0; $LOGIN_CONNS connections)"
taskset -c 0 "$BIN" serve --database "$DB" --listen "127.0.0.1:$MPORT" --public-url "http://127.0.0.1:$MPORT" \
  "${ARGON[@]}" --password-hash-workers 1 --login-attempts-per-minute 1000000 --lockout-threshold 1000000 >"$DIR/serve-logins.log" 2>&1 &
MPID=$!; PIDS+=("$MPID")
wait_ready "http://127.0.0.1:$MPORT/readyz" "$MPID"
before=$(cpu_ticks "$MPID")
LOGINS=$(taskset -c 1 "$TOOLS" logins "http://127.0.0.1:$MPORT" --accounts "$DIR/login-accounts.txt" \
  --client-id "$PORTAL_ID" --redirect-uri "http://127.0.0.1:$MPORT/cb" --seconds "$SECONDS_RUN" --warmup 3 --connections "$LOGIN_CONNS")
after=$(cpu_ticks "$MPID")
echo "$LOGINS server_cpu_s_incl_warmup=$(cpu_seconds "$before" "$after")" | sed 's/^RESULT/motcua-logins/'
stop "$MPID"
stop "$SAMPLER"
read -r BUSY1 IRQ1 STEAL1 MINE1 < <(cpu_mark)
T1=$(date +%s.%N)

echo "== summary"
python3 - "$O_CC" "$M_CC" "$O_RT" "$M_RT" "$LOGINS" "$ARG" "$ES" "$SQL" "$NES" "$HELLO_OUT" <<'PY'
import sys
def kv(s): return dict(x.split('=', 1) for x in s.split()[1:] if '=' in x)
occ, mcc, ort, mrt, lg, ar, es, sq, nes, hello = map(kv, sys.argv[1:])
print(f"client_credentials: motcua {mcc['rps']} req/s p99 {mcc['p99_ms']} ms, oidc-provider {occ['rps']} req/s p99 {occ['p99_ms']} ms: {float(mcc['rps'])/float(occ['rps']):.2f} x (target >= 10 x)")
print(f"refresh (rotation): motcua {mrt['rps']} req/s p99 {mrt['p99_ms']} ms, oidc-provider {ort['rps']} req/s p99 {ort['p99_ms']} ms: {float(mrt['rps'])/float(ort['rps']):.2f} x (target >= 3 x)")
print(f"logins: {lg['logins_per_s']} per s on one core (target >= 40), bare Argon2id verify {ar['verifies_per_s']} per s: {float(lg['logins_per_s'])/float(ar['verifies_per_s']):.2f} of it")
print(f"bare ES256 sign: p256 crate {es['signs_per_s']} per s ({es['us_each']} us), Node {nes['signs_per_s']} per s ({nes['us_each']} us); motcua's client_credentials runs at {float(mcc['rps'])/float(es['signs_per_s']):.2f} of its signing rate, 10 x oidc-provider would be {10*float(occ['rps']):.0f} req/s")
print(f"bare SQLite commit {sq['commits_per_s']} per s ({sq['us_each']} us)")
print(f"plain axum endpoint {hello['rps']} req/s p99 {hello['p99_ms']} ms: the ceiling of an HTTP answer on this core, {float(hello['rps'])/float(occ['rps']):.1f} x oidc-provider's client_credentials")
PY
busy=$(grep -c busy "$DIR/compilers.log" || true)
total=$(wc -l <"$DIR/compilers.log")
echo "rustc or cargo running in $busy of $total one-second samples of the run"
awk -v b="$((BUSY1 - BUSY0))" -v i="$((IRQ1 - IRQ0))" -v st="$((STEAL1 - STEAL0))" -v m="$((MINE1 - MINE0))" -v t0="$T0" -v t1="$T1" -v hz="$(getconf CLK_TCK)" \
  'BEGIN {w = t1 - t0; o = b + i - m; printf "CPU over the %.0f s run: this benchmark %.1f s, other processes and interrupts %.1f s (%.1f%% of one core), stolen by the hypervisor %.1f s\n", w, m / hz, o / hz, 100 * o / hz / w, st / hz}'
