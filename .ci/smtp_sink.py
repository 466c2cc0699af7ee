"""An SMTP server for CI: keeps every message it receives as a JSON file in --out.

Usage: python smtp_sink.py --port PORT --out DIR   (needs aiosmtpd; runs until killed)
Each message is DIR/<n>.json: {"mail_from", "rcpt_tos", "data"}. DIR/ready appears once
the server accepts connections.
"""
import argparse
import json
import os
import signal
import threading

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, out):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.out, f".{n}.json")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, f"{n}.json"))
        return "250 Message accepted"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    controller = Controller(Keep(args.out), hostname=args.host, port=args.port)
    controller.start()
    open(os.path.join(args.out, "ready"), "w").close()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
