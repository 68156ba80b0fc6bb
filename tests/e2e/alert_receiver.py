#!/usr/bin/env python3
"""A webhook receiver for the alerting tests and benchmark: records every POST it gets.

    alert_receiver.py --out FILE --port-file PATH [--key KEY] [--port PORT]

Each request is appended to FILE as one JSON line: {"path", "headers", "body" (the JSON body
parsed, or its text), "receivedAt" (Unix seconds, float), "verified"}. With --key, "verified"
says whether X-Skiff-Signature is "sha256=" and the hex HMAC-SHA256 of the raw body under KEY
(compared in constant time), as a receiver in production would check it; without, it is null.
Once listening, the port is written to PATH (port 0, the default, picks a free one). It answers
200 to every POST, so what Skiff sent is all that is tested.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--key")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            received = time.time()
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            verified = None
            if args.key is not None:
                expected = "sha256=" + hmac.new(args.key.encode(), raw, hashlib.sha256).hexdigest()
                verified = hmac.compare_digest(expected, self.headers.get("X-Skiff-Signature", ""))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            record = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": body, "receivedAt": received, "verified": verified}
            with lock, open(args.out, "a") as f:
                f.write(json.dumps(record) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *log_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_port)
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
