#!/usr/bin/env python3
"""Release benchmark: how fast and how exactly canary releases act on the embedded runtime.

Starts a Skiff server (with its gateway) on loopback, runs the in-tree example service, and
measures:

  weight propagation   a canary walking 19 steps (5%..95%, 1 s apart), three releases: from the
                       application's status saying a new weight (its watch event) to the
                       gateway's installed route table carrying it (its admin API polled
                       continuously): p50 / p99 / max over the 57 changes.
                       Peer, same run: nginx with the same two-backend split, its weights
                       changed 20 times by rewriting its config and `nginx -s reload`, from the
                       reload signal to a new connection being served by the new config.
  split accuracy       10,000 requests through the gateway while a canary holds 25%: the share
                       the canary answered.
  abort time           a canary whose new revision answers 5% errors, under load from a separate
                       process (tests/e2e/release_load.py): from its first error to the last
                       answer the canary gave, three times; and the failed requests meanwhile.
                       For scale: Flagger aborts after interval x threshold (default 1 min x 5).

Usage: bench/release_bench.py [--skiff build/bin/skiff]
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import Skiff  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
APPS = "/api/v1/tenants/default/applications"


def app(version, rollout, replicas=1, error_percent=0):
    args = ["--name", "web", "--version-label", version]
    if error_percent:
        args += ["--error-percent", str(error_percent)]
    return {"metadata": {"name": "demo"},
            "spec": {"components": [{
                "name": "web", "replicas": replicas,
                "run": {"command": "skiff-example", "args": args},
                "ports": [{"name": "http", "port": 8080}],
                "health": {"readiness": {"http": {"path": "/healthz", "port": "http"},
                                         "periodSeconds": 0.1}},
                "rollout": rollout,
                "terminationGracePeriodSeconds": 2,
                "routes": [{"host": "demo.bench.test", "port": "http"}]}]}}


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


class Bench:
    def __init__(self, skiff):
        self.skiff = skiff
        gateway_dir = os.path.join(skiff.data, "gateway")
        self.gateway = json.load(open(os.path.join(gateway_dir, "gateway.addr")))
        self.admin_token = open(os.path.join(gateway_dir, "admin-token")).read().strip()

    def apply(self, doc):
        status, body = self.skiff.request("GET", APPS + "/demo")
        if status == 404:
            status, body = self.skiff.request("POST", APPS, doc)
            assert status == 201, body
            return
        status, body = self.skiff.request("PATCH", APPS + "/demo", {"spec": doc["spec"]},
                                          "application/merge-patch+json")
        assert status == 200, body

    def status(self):
        status, body = self.skiff.request("GET", APPS + "/demo")
        return json.loads(body).get("status", {}) if status == 200 else {}

    def wait(self, condition, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status()
            if condition(s):
                return s
            time.sleep(0.05)
        raise RuntimeError(f"timed out; status: {json.dumps(self.status())}")

    def ready(self, revision):
        def check(s):
            conditions = {c["type"]: c["status"] for c in s.get("conditions", [])}
            return (conditions.get("Ready") == "True" and s.get("stableRevision") == revision
                    and "release" not in s)
        return check

    def canary_share(self, conn, revision):
        """The share of the demo route's weight on backends of `revision`, as installed."""
        conn.request("GET", "/routes", headers={"Authorization": f"Bearer {self.admin_token}"})
        table = json.loads(conn.getresponse().read())
        for route in table.get("routes", []):
            if route["host"] != "demo.bench.test" or "match" in route:
                continue
            total = sum(b["weight"] for b in route["backends"])
            canary = sum(b["weight"] for b in route["backends"] if b.get("revision") == revision)
            return round(100 * canary / total) if total else None
        return None

    def watch_weights(self, stop, seen):
        """Appends (arrival time, weight, revision) for each new canary weight in the status."""
        conn = http.client.HTTPConnection(self.skiff.host, self.skiff.port)
        conn.request("GET", APPS + "?watch=true",
                     headers={"Authorization": f"Bearer {self.skiff.token}"})
        response = conn.getresponse()
        last = None
        while not stop.is_set():
            line = response.readline()
            if not line:
                break
            now = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            obj = event.get("object", {})
            if obj.get("metadata", {}).get("name") != "demo":
                continue
            web = obj.get("status", {}).get("release", {}).get("components", {}).get("web")
            if not web:
                continue
            key = (web["weight"], web["revision"])
            if key != last:
                last = key
                seen.append((now, web["weight"], str(web["revision"])))
        conn.close()

    def propagation(self, releases=3):
        steps = [{"weight": w, "pause": "1s"} for w in range(5, 100, 5)]
        rollout = {"strategy": "canary", "steps": steps}
        self.apply(app("v1", rollout))
        self.wait(self.ready(1))
        delays = []
        for r in range(releases):
            revision = r + 2
            seen, polled = [], []
            stop = threading.Event()
            watcher = threading.Thread(target=self.watch_weights, args=(stop, seen), daemon=True)
            watcher.start()
            time.sleep(0.3)  # the watch is open

            def poll():
                conn = http.client.HTTPConnection(*self.gateway["admin"].rsplit(":", 1))
                last = None
                while not stop.is_set():
                    share = self.canary_share(conn, str(revision))
                    if share != last:
                        last = share
                        polled.append((time.monotonic(), share))

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            self.apply(app(f"v{revision}", rollout))
            self.wait(self.ready(revision))
            stop.set()
            poller.join()
            for t_status, weight, rev in seen:
                if rev != str(revision):
                    continue
                later = [t for t, share in polled if share == weight and t >= t_status - 0.05]
                if later:
                    delays.append(max(0.0, later[0] - t_status) * 1000)
        return delays

    def settled(self, s):
        """The latest revision runs everywhere, no release under way."""
        conditions = {c["type"]: c["status"] for c in s.get("conditions", [])}
        return (conditions.get("Ready") == "True" and "release" not in s and
                s.get("latestRevision", 0) == s.get("stableRevision", -1))

    def split(self):
        self.apply(app("s1", {"strategy": "rolling"}, replicas=4))
        self.wait(self.settled)
        self.apply(app("s2", {"strategy": "canary", "steps": [{"weight": 25}],
                              "autoPromote": False}, replicas=4))
        self.wait(lambda s: "waiting for" in
                  s.get("release", {}).get("components", {}).get("web", {}).get("message", ""))
        time.sleep(0.5)  # the gateway installs the canary's backend
        summary = self.load(requests=10000)
        latest = self.status()["latestRevision"]
        status, body = self.skiff.request(
            "PATCH", APPS + "/demo",
            {"metadata": {"annotations": {"skiff.dev/promote": f"{latest}:full"}}},
            "application/merge-patch+json")
        assert status == 200, body
        self.wait(self.settled)
        return summary["byVersion"].get("s2", 0) / 10000.0, summary["failed"]

    def load(self, requests=0, process=None):
        out = tempfile.mktemp(prefix="skiff-release-load-")
        port = self.gateway["listen"].rsplit(":", 1)[1]
        cmd = [sys.executable, os.path.join(ROOT, "tests/e2e/release_load.py"), "--port", port,
               "--host", "demo.bench.test", "--out", out, "--requests", str(requests)]
        p = subprocess.Popen(cmd)
        if process is not None:
            process.append((p, out))
            while not os.path.exists(out + ".started"):
                time.sleep(0.01)
            return None
        p.wait()
        summary = json.load(open(out))
        for f in (out, out + ".started"):
            if os.path.exists(f):
                os.remove(f)
        return summary

    def abort_times(self, runs=3):
        results = []
        for i in range(runs):
            self.apply(app(f"good{i}", {"strategy": "canary", "steps": [{"weight": 50}]},
                           replicas=2))
            self.wait(self.settled)
            running = []
            self.load(process=running)
            p, out = running[0]
            self.apply(app(f"bad{i}", {"strategy": "canary",
                                       "steps": [{"weight": 50, "pause": "10m"}]},
                           replicas=2, error_percent=5))
            self.wait(lambda s: "aborted" in
                      s.get("release", {}).get("components", {}).get("web", {}))
            time.sleep(1.0)  # answers after the abort would show here
            p.send_signal(signal.SIGTERM)
            p.wait()
            summary = json.load(open(out))
            first = summary["firstFailureAt"]
            last = max(summary["lastAt"].get(f"bad{i}", 0), summary["lastFailureAt"] or 0)
            results.append(((last - first) * 1000, summary["failed"], summary["sent"]))
            for f in (out, out + ".started"):
                if os.path.exists(f):
                    os.remove(f)
        return results


def nginx_reload_delays(changes=20):
    """The peer: nginx's weights changed by config rewrite + reload, until served."""
    work = tempfile.mkdtemp(prefix="skiff-release-bench-nginx-")
    conf = os.path.join(work, "nginx.conf")
    port = 0
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def write(version, weight):
        with open(conf, "w") as f:
            f.write(f"""
daemon off; worker_processes 2; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  upstream app {{ server 127.0.0.1:9 weight={100 - weight}; server 127.0.0.1:10 weight={weight}; }}
  server {{ listen 127.0.0.1:{port};
    location = /version {{ return 200 "{version}"; }}
    location / {{ proxy_pass http://app; }} }}
}}
""")

    write(0, 5)
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", work], stderr=subprocess.DEVNULL)
    delays = []
    try:
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/version")
                if c.getresponse().read() == b"0":
                    break
            except OSError:
                time.sleep(0.02)
        for n in range(1, changes + 1):
            write(n, 5 + n * 4)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGHUP)
            while True:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/version")
                if c.getresponse().read() == str(n).encode():
                    break
                c.close()
            delays.append((time.monotonic() - t0) * 1000)
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return delays


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiff", default=os.path.join(ROOT, "build", "bin", "skiff"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="skiff-release-bench-")
    skiff = Skiff(os.path.abspath(args.skiff), work)
    try:
        bench = Bench(skiff)
        delays = bench.propagation()
        print(f"weight propagation, status to gateway ({len(delays)} changes): "
              f"p50 {pct(delays, 0.5):.1f} ms, p99 {pct(delays, 0.99):.1f} ms, "
              f"max {max(delays):.1f} ms", flush=True)
        peer = nginx_reload_delays()
        print(f"peer nginx, config rewrite + reload to served ({len(peer)} changes): "
              f"p50 {pct(peer, 0.5):.1f} ms, p99 {pct(peer, 0.99):.1f} ms, "
              f"max {max(peer):.1f} ms", flush=True)
        share, failed = bench.split()
        print(f"split accuracy at 25%: the canary answered {share * 100:.2f}% of 10000 requests "
              f"({failed} failed)", flush=True)
        for ms, failed, sent in bench.abort_times():
            print(f"abort of a 5%-error canary at 50%: {ms:.0f} ms from its first error to its "
                  f"last answer; {failed} of {sent} requests failed meanwhile", flush=True)
    finally:
        skiff.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
