#!/usr/bin/env python3
"""Alerting benchmark: how soon a notification follows the condition that causes it.

Skiff: a server (--alert-interval 1s, then the default 5s) runs the example service with its
access log on, and holds one log rule per run (pattern "/bench-alert-N", count 1, groupWait
0s) sending to a webhook receiver in its own process (tests/e2e/alert_receiver.py). A run sends
GET /bench-alert-N through the gateway, so the instance prints that line; the latency is from
just before the request to the receiver's arrival time of the firing notification — detection
(one evaluation interval at most), the rule's evaluation and the delivery.

Peer, same run: Debian's prometheus-alertmanager with group_wait 0s and a webhook receiver (the
same receiver process). A run POSTs an alert of a new alertname to its /api/v2/alerts; the
latency is from just before the POST to the webhook's arrival: Alertmanager's own dispatch, with
no detection in front of it (a Prometheus would add its evaluation interval and resend delay).

Also from each Skiff notification: from the evaluation that found the alert firing (its firedAt)
to the receiver's arrival — Skiff's own dispatch, what the Alertmanager line measures.

Prints p50 / p99 / max over the runs of each.

Usage: bench/alert_bench.py [--skiff build/bin/skiff] [--runs 12]
"""

import argparse
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import Skiff, free_port  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TENANT = "/api/v1/tenants/default"


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def parse_time(text):
    """Unix seconds of an RFC 3339 UTC time with milliseconds, as Skiff writes them."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def summary(name, values):
    ms = [v * 1000 for v in values]
    return (f"{name:<56} runs {len(ms):>3}   p50 {pct(ms, 0.5):8.1f} ms   "
            f"p99 {pct(ms, 0.99):8.1f} ms   max {max(ms):8.1f} ms")


class Receiver:
    """tests/e2e/alert_receiver.py on a free port, its records read back."""

    def __init__(self, workdir):
        self.out = os.path.join(workdir, "received.jsonl")
        port_file = os.path.join(workdir, "receiver.port")
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/e2e/alert_receiver.py"),
                                      "--out", self.out, "--port-file", port_file],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%d" % int(open(port_file).read())

    def records(self):
        try:
            return [json.loads(line) for line in open(self.out) if line.strip()]
        except OSError:
            return []

    def wait_for(self, predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.records():
                if predicate(r):
                    return r
            time.sleep(0.01)
        raise RuntimeError("no notification arrived")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


def bench_skiff(binary, runs, interval, workdir, receiver):
    skiff = Skiff(binary, workdir, ["--alert-interval", interval, "--metrics-interval", "1s"])
    try:
        gateway, _ = skiff.gateway()
        app = {"metadata": {"name": "demo"},
               "spec": {"components": [{
                   "name": "web",
                   "run": {"command": "skiff-example", "args": ["--name", "web", "--access-log"]},
                   "ports": [{"name": "http", "port": 8080}],
                   "health": {"readiness": {"http": {"path": "/healthz", "port": "http"},
                                            "periodSeconds": 0.2}},
                   "terminationGracePeriodSeconds": 2,
                   "routes": [{"host": "demo.bench.test", "port": "http"}]}]}}
        status, body = skiff.request("POST", TENANT + "/applications", app)
        assert status == 201, body
        get = lambda path: http("GET", f"http://{gateway}{path}",  # noqa: E731
                                headers={"Host": "demo.bench.test"})
        deadline = time.monotonic() + 60
        while True:
            try:
                if get("/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the example service did not become ready")
            time.sleep(0.1)
        status, body = skiff.request("POST", TENANT + "/receivers", {
            "metadata": {"name": "bench"}, "spec": {"webhook": {"url": receiver.url + "/skiff"}}})
        assert status == 201, body
        for i in range(runs):
            status, body = skiff.request("POST", TENANT + "/alertrules", {
                "metadata": {"name": f"bench-{interval.replace('.', '-')}-{i}"},
                "spec": {"log": {"application": "demo", "pattern": f"/bench-alert-{interval}-{i} ",
                                 "count": 1, "window": "5m"},
                         "groupWait": "0s", "receivers": ["bench"]}})
            assert status == 201, body
        time.sleep(2)  # the rules' log cursors are open
        rng = random.Random(42)
        interval_s = float(interval.rstrip("s"))
        latencies, dispatch = [], []
        for i in range(runs):
            rule = f"bench-{interval.replace('.', '-')}-{i}"
            start = time.time()
            try:
                get(f"/bench-alert-{interval}-{i}")
            except urllib.error.HTTPError as e:
                assert e.code == 404
            r = receiver.wait_for(lambda r: r["path"] == "/skiff" and isinstance(r["body"], dict)
                                  and r["body"].get("commonLabels", {}).get("alertname") == rule)
            latencies.append(r["receivedAt"] - start)
            dispatch.append(r["receivedAt"] - parse_time(r["body"]["alerts"][0]["firedAt"]))
            # Runs start at random points of the evaluation cycle, not in step with it.
            time.sleep(rng.uniform(0, interval_s))
        return latencies, dispatch
    finally:
        skiff.stop()


def bench_alertmanager(runs, workdir, receiver):
    am_dir = os.path.join(workdir, "alertmanager")
    os.makedirs(os.path.join(am_dir, "data"))
    with open(os.path.join(am_dir, "alertmanager.yml"), "w") as f:
        f.write("route: {receiver: hook, group_by: [alertname], group_wait: 0s, "
                "group_interval: 1s}\n"
                f"receivers: [{{name: hook, webhook_configs: [{{url: '{receiver.url}/am'}}]}}]\n")
    port = free_port()
    log = open(os.path.join(am_dir, "alertmanager.log"), "w")
    proc = subprocess.Popen(["/usr/bin/prometheus-alertmanager",
                             "--config.file=" + os.path.join(am_dir, "alertmanager.yml"),
                             "--storage.path=" + os.path.join(am_dir, "data"),
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if http("GET", url + "/-/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        latencies = []
        for i in range(runs):
            name = f"AmBench{i}"
            start = time.time()
            http("POST", url + "/api/v2/alerts", [{"labels": {"alertname": name, "run": str(i)},
                                                   "annotations": {"summary": "bench"}}])
            r = receiver.wait_for(lambda r: r["path"] == "/am" and isinstance(r["body"], dict)
                                  and r["body"].get("commonLabels", {}).get("alertname") == name)
            latencies.append(r["receivedAt"] - start)
            time.sleep(0.37)
        return latencies
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiff", default=os.path.join(ROOT, "build", "bin", "skiff"))
    ap.add_argument("--runs", type=int, default=12)
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="skiff-alert-bench-")
    receiver = Receiver(workdir)
    try:
        results = []
        for interval in ["1s", "5s"]:
            sub = os.path.join(workdir, "skiff-" + interval)
            os.makedirs(sub)
            total, dispatch = bench_skiff(args.skiff, args.runs, interval, sub, receiver)
            results.append((f"skiff log line -> webhook (--alert-interval {interval})", total))
            results.append((f"skiff firing -> webhook (--alert-interval {interval})", dispatch))
        results.append(("alertmanager POST -> webhook (group_wait 0s)",
                        bench_alertmanager(args.runs, workdir, receiver)))
        for name, values in results:
            print(summary(name, values))
    finally:
        receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
