#!/usr/bin/env bash
# Benchmarks behind BENCHMARKS.md, measured in one run on one machine:
#  1. import throughput of N generated citizens into a fresh SQLite database (and PostgreSQL
#     when BENCH_PG_URL names a server where databases may be created);
#  2. idle memory (RSS) of `motcua serve` on that database;
#  3. verification API throughput and latency with N citizens, against a plain axum endpoint
#     taking the same request (bench/src/hello_baseline.rs), each server on core 0 and wrk on
#     core 1;
#  4. verification latency in an open loop (bench/src/open_loop.rs): requests sent at fixed
#     rates whether or not earlier ones were answered, each latency counted from when its
#     request was due, against the same two servers.
# Usage: bench/run.sh   (env: BENCH_COUNT=1000000 BENCH_SECONDS=20 BENCH_CONNECTIONS=32
#        BENCH_OPEN_RATES="2000 4000 8000" BENCH_DIR=/tmp/motcua-bench
#        BENCH_PG_URL=postgres://postgres@127.0.0.1:5432 for PostgreSQL)
# Note: PostgreSQL, when given, runs on the same two cores and competes with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${BENCH_COUNT:-1000000}
SECONDS_RUN=${BENCH_SECONDS:-20}
CONNS=${BENCH_CONNECTIONS:-32}
DIR=${BENCH_DIR:-/tmp/motcua-bench}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="$CARGO_TARGET_DIR/release/motcua"
HELLO="$CARGO_TARGET_DIR/release/hello-baseline"
OPEN="$CARGO_TARGET_DIR/release/open-loop"
OPEN_RATES=${BENCH_OPEN_RATES:-2000 4000 8000}
# The load replays 100,000 bodies, two in five of them not matching, from one client: the
# verification limits stay on (their reads and writes are measured) but so high that nothing
# is refused.
export MOTCUA_VERIFY_FAILURES_PER_PID=${MOTCUA_VERIFY_FAILURES_PER_PID:-1000}
export MOTCUA_VERIFY_DAILY_QUOTA=${MOTCUA_VERIFY_DAILY_QUOTA:-1000000000}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is required (util-linux)"; exit 1; }

PIDS=()
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done' EXIT
wait_ready() { for _ in $(seq 1 200); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not ready: $1"; exit 1; }

echo "== build (release)"
cargo build --release --locked -p motcua -p motcua-bench 2>&1 | tail -n 1
rm -rf "$DIR" && mkdir -p "$DIR"
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

echo "== generate $COUNT citizens"
/usr/bin/time -f "generate: %e s, max RSS %M KiB" "$BIN" registry generate --count "$COUNT" --seed 1 --out "$DIR/population.csv" 2>&1 | grep -v '^generated' || true

echo "== import into SQLite"
DB="sqlite://$DIR/motcua.sqlite3"
"$BIN" migrate --database "$DB" >/dev/null
# The file was just written and the previous run's files just deleted: let the kernel write
# and free those now, not while the import is timed (an operator imports a file at rest).
sync
/usr/bin/time -f "import process: %e s wall, max RSS %M KiB" "$BIN" registry import --database "$DB" "$DIR/population.csv" 2>&1 | grep -E 'rows read|process' 
if [ -n "${BENCH_PG_URL:-}" ]; then
  echo "== import into PostgreSQL"
  psql "$BENCH_PG_URL/postgres" -qc "DROP DATABASE IF EXISTS motcua_bench" -qc "CREATE DATABASE motcua_bench"
  "$BIN" migrate --database "$BENCH_PG_URL/motcua_bench" >/dev/null
  "$BIN" registry import --database "$BENCH_PG_URL/motcua_bench" "$DIR/population.csv" 2>/dev/null | grep 'rows read'
  # Leave the cluster idle for the measurements below: after a million inserts autovacuum
  # would analyze and vacuum the tables, and the checkpointer write the buffers out, on the
  # same two cores. A test cluster with fsync=off also leaves about 1 GB for the kernel to
  # write back some 30 s later: flush it now.
  psql "$BENCH_PG_URL/motcua_bench" -qc "VACUUM ANALYZE" -qc "CHECKPOINT"
  sync
fi

echo "== idle memory of motcua serve ($COUNT citizens, SQLite)"
PORT=18181
"$BIN" serve --database "$DB" --listen "127.0.0.1:$PORT" >"$DIR/serve-idle.log" 2>&1 &
SPID=$!; PIDS+=("$SPID")
wait_ready "http://127.0.0.1:$PORT/readyz"
sleep 3
echo "idle RSS: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$SPID/status)"
kill "$SPID"; wait "$SPID" 2>/dev/null || true

echo "== verification API vs baseline"
CLIENT=$("$BIN" client create --database "$DB" --name "bench" --scope registry.verify)
AUTH=$(python3 -c 'import json,sys,base64; c=json.loads(sys.argv[1]); print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())' "$CLIENT")
# 100,000 requests: 80% for existing citizens (half of them with a wrong date), 20% unknown PIDs.
python3 - "$DIR/population.csv" "$DIR/bodies.jsonl" <<'PY'
import csv, json, random, sys
random.seed(1)
rows = []
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    r = csv.DictReader(f)
    for i, row in enumerate(r):
        if len(rows) < 100000:
            rows.append(row)
        else:
            j = random.randint(0, i)
            if j < 100000:
                rows[j] = row
with open(sys.argv[2], 'w', encoding='utf-8') as out:
    for k, row in enumerate(rows):
        body = {"pid": row["pid"], "full_name": row["full_name"], "date_of_birth": row["date_of_birth"], "purpose": "benchmark"}
        if k % 5 == 4:
            body["pid"] = row["pid"][:6] + "%06d" % random.randint(0, 999999)
        elif k % 2 == 1:
            body["date_of_birth"] = "1900-01-01"
        out.write(json.dumps(body, ensure_ascii=False) + "\n")
PY
run_wrk() { # $1 = label, $2 = port
  taskset -c 1 env BENCH_AUTH="$AUTH" BENCH_BODIES="$DIR/bodies.jsonl" wrk -t1 -c"$CONNS" -d3s -s bench/verify.lua "http://127.0.0.1:$2" >/dev/null
  taskset -c 1 env BENCH_AUTH="$AUTH" BENCH_BODIES="$DIR/bodies.jsonl" wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s bench/verify.lua "http://127.0.0.1:$2" | grep RESULT | sed "s/^RESULT/$1/"
}
taskset -c 0 "$HELLO" "127.0.0.1:18090" >/dev/null 2>&1 &
HPID=$!; PIDS+=("$HPID")
sleep 1
BASE=$(run_wrk baseline 18090)
kill "$HPID"; wait "$HPID" 2>/dev/null || true
echo "$BASE"
taskset -c 0 "$BIN" serve --database "$DB" --listen "127.0.0.1:$PORT" >"$DIR/serve-load.log" 2>&1 &
SPID=$!; PIDS+=("$SPID")
wait_ready "http://127.0.0.1:$PORT/readyz"
MOT=$(run_wrk motcua $PORT)
echo "$MOT"
echo "RSS after load: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$SPID/status)"
kill "$SPID"; wait "$SPID" 2>/dev/null || true
python3 - "$BASE" "$MOT" <<'PY'
import sys
def parse(s): return dict(kv.split('=') for kv in s.split()[1:])
b, m = parse(sys.argv[1]), parse(sys.argv[2])
print(f"ratio motcua/baseline throughput: {float(m['rps'])/float(b['rps']):.2f}  (motcua p99 {m['p99_ms']} ms, baseline p99 {b['p99_ms']} ms)")
PY
python3 - "$DIR/motcua.audit.sqlite3" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = c.execute("SELECT COUNT(*) FROM access_log").fetchone()[0]
print(f"access-log entries recorded during the run: {n}")
PY
echo "== verification latency in an open loop (rates: $OPEN_RATES per second, ${SECONDS_RUN}s each)"
run_open() { # $1 = label, $2 = port, $3 = rate
  taskset -c 1 "$OPEN" "http://127.0.0.1:$2/api/v1/registry/verifications" --rate "$3" \
    --seconds "$SECONDS_RUN" --warmup 3 --connections 64 --bodies "$DIR/bodies.jsonl" --auth "$AUTH" \
    | sed "s/^RESULT/$1/" || true
}
taskset -c 0 "$HELLO" "127.0.0.1:18090" >/dev/null 2>&1 &
HPID=$!; PIDS+=("$HPID")
sleep 1
for rate in $OPEN_RATES; do run_open baseline-open 18090 "$rate"; done
kill "$HPID"; wait "$HPID" 2>/dev/null || true
taskset -c 0 "$BIN" serve --database "$DB" --listen "127.0.0.1:$PORT" >"$DIR/serve-open.log" 2>&1 &
SPID=$!; PIDS+=("$SPID")
wait_ready "http://127.0.0.1:$PORT/readyz"
for rate in $OPEN_RATES; do run_open motcua-open $PORT "$rate"; done
kill "$SPID"; wait "$SPID" 2>/dev/null || true

if [ -n "${BENCH_PG_URL:-}" ]; then
  echo "== verification API on PostgreSQL ($COUNT citizens)"
  PG_CLIENT=$("$BIN" client create --database "$BENCH_PG_URL/motcua_bench" --name "bench" --scope registry.verify)
  AUTH=$(python3 -c 'import json,sys,base64; c=json.loads(sys.argv[1]); print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())' "$PG_CLIENT")
  taskset -c 0 "$BIN" serve --database "$BENCH_PG_URL/motcua_bench" --listen "127.0.0.1:$PORT" >"$DIR/serve-pg.log" 2>&1 &
  SPID=$!; PIDS+=("$SPID")
  wait_ready "http://127.0.0.1:$PORT/readyz"
  run_wrk motcua-postgres $PORT
  kill "$SPID"; wait "$SPID" 2>/dev/null || true
fi
