#!/usr/bin/env bash
# Mail through a real SMTP server: starts aiosmtpd (.ci/smtp_sink.py), `motcua serve
# --smtp-url` on a fresh SQLite data directory, enqueues one e-mail with `motcua jobs
# enqueue`, and checks the message that arrived: envelope and header recipient, sender, the
# Vietnamese subject (encoded on the wire) and the body.
#
# Usage: .ci/smtp_check.sh PATH/TO/motcua PATH/TO/python-with-aiosmtpd
set -euo pipefail
BIN=$1
PY=$2
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/motcua-smtp.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fail() { echo "smtp check failed: $*"; echo "--- motcua serve log"; tail -n 40 "$WORK/serve.log" || true; echo "smtp check: 0 passed, 1 failed"; exit 1; }

SMTP_PORT=$(free_port)
HTTP_PORT=$(free_port)
"$PY" .ci/smtp_sink.py --port "$SMTP_PORT" --out "$WORK/mail" >"$WORK/sink.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -e "$WORK/mail/ready" ] && break; sleep 0.1; done
[ -e "$WORK/mail/ready" ] || { cat "$WORK/sink.log"; fail "aiosmtpd did not start"; }

export MOTCUA_DATA_DIR="$WORK/data"
unset MOTCUA_DATABASE_URL MOTCUA_SMTP_URL MOTCUA_MAIL_FROM MOTCUA_WORKERS MOTCUA_LISTEN
"$BIN" serve --listen "127.0.0.1:$HTTP_PORT" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
  --mail-from "motcua CI <ci@motcua.invalid>" >"$WORK/serve.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || fail "motcua serve is not healthy"

PAYLOAD='{"to":"citizen@example.vn","subject":"Mã xác thực hồ sơ","text":"Mã của bạn là 424242.\nHết hạn sau 5 phút."}'
"$BIN" jobs enqueue --kind mail.send --payload "$PAYLOAD" >"$WORK/enqueued.json" || fail "enqueue refused"

for _ in $(seq 1 150); do [ -e "$WORK/mail/1.json" ] && break; sleep 0.2; done
[ -e "$WORK/mail/1.json" ] || fail "no message arrived within 30 s"

"$PY" - "$WORK/mail/1.json" <<'PY' || fail "the message that arrived is not the one sent"
import email, email.policy, json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))
assert m["rcpt_tos"] == ["citizen@example.vn"], m["rcpt_tos"]
assert m["mail_from"] == "ci@motcua.invalid", m["mail_from"]
msg = email.message_from_string(m["data"], policy=email.policy.default)
assert msg["To"] == "citizen@example.vn", msg["To"]
assert "ci@motcua.invalid" in msg["From"], msg["From"]
assert msg["Subject"] == "Mã xác thực hồ sơ", msg["Subject"]
assert "=?utf-8?" in m["data"], "the subject travels encoded"
body = msg.get_body(preferencelist=("plain",)).get_content()
assert "Mã của bạn là 424242." in body and "Hết hạn sau 5 phút." in body, body
PY

ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0])' "$WORK/enqueued.json")
done_jobs() { "$BIN" jobs list --status done >"$WORK/done.json" && grep -q "$ID" "$WORK/done.json"; }
for _ in $(seq 1 50); do
  done_jobs && break
  sleep 0.2
done
done_jobs || fail "job $ID is not done"
[ ! -e "$WORK/mail/2.json" ] || fail "more than one message arrived"
if grep -q 424242 "$WORK/serve.log"; then fail "the message body reached the log"; fi
echo "smtp check: 1 passed, 0 failed"
