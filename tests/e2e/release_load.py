#!/usr/bin/env python3
"""Load for release tests: GET / through the gateway on one keep-alive connection, from its own
process, until SIGTERM or --requests answers. Writes a JSON summary to --out: answers by
version (the example service's "version"), failures (non-200 or no answer), and per version
the first and last answer's time and the first failure's time (seconds since the epoch)."""
import argparse
import http.client
import json
import os
import signal
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--host", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--requests", type=int, default=0, help="stop after this many; 0: run until SIGTERM")
parser.add_argument("--header", action="append", default=[], help="NAME:VALUE sent with every request")
args = parser.parse_args()

stopping = False


def stop(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
# Tells the test that SIGTERM now ends the run with a summary.
open(args.out + ".started", "w").close()
headers = {"Host": args.host}
for h in args.header:
    name, _, value = h.partition(":")
    headers[name] = value

summary = {"sent": 0, "failed": 0, "byVersion": {}, "firstAt": {}, "lastAt": {},
           "firstFailureAt": None, "lastFailureAt": None, "lastFailures": []}
conn = None
while not stopping and (args.requests == 0 or summary["sent"] < args.requests):
    now = time.time()
    version = None
    status = 0
    body = b""
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        conn.request("GET", "/", headers=headers)
        response = conn.getresponse()
        status = response.status
        body = response.read()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
        if status == 200:
            version = json.loads(body).get("version")
    except Exception as e:  # a failed request, counted below
        body = repr(e).encode()
        if conn is not None:
            conn.close()
        conn = None
    summary["sent"] += 1
    if version is None:
        summary["failed"] += 1
        if summary["firstFailureAt"] is None:
            summary["firstFailureAt"] = now
        summary["lastFailureAt"] = now
        summary["lastFailures"] = (summary["lastFailures"] + [f"{status} {body[:200]!r}"])[-5:]
        continue
    summary["byVersion"][version] = summary["byVersion"].get(version, 0) + 1
    summary["firstAt"].setdefault(version, now)
    summary["lastAt"][version] = now

with open(args.out + ".tmp", "w") as f:
    json.dump(summary, f)
os.rename(args.out + ".tmp", args.out)
