#!/usr/bin/env python3
"""Runtime benchmark: how fast applications become reachable on the embedded runtime.

Starts a Skiff server (with its gateway) on loopback and measures, with the in-tree example
service (build/bin/skiff-example) as the workload:

  deploy-to-ready, 1 instance   from the POST of a new application to the first 200 answered
                                through the gateway, over 20 applications: p50 / p99
  deploy-to-ready, 50 instances from the POST of one application with 50 replicas to 50
                                distinct instances answering through the gateway
  density                       N small instances (default 500): time until all are ready,
                                server and gateway RSS

For scale: Kubernetes' pod-startup SLO is p99 <= 5 s.

Usage: bench/runtime_bench.py [--skiff build/bin/skiff] [--density 500]
"""

import argparse
import http.client
import json
import os
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import Skiff  # noqa: E402


def app(name, replicas, host, period=0.1):
    return {"metadata": {"name": name},
            "spec": {"components": [{
                "name": "web", "replicas": replicas,
                "run": {"command": "skiff-example", "args": ["--name", name]},
                "ports": [{"name": "http", "port": 8080}],
                "health": {"readiness": {"http": {"path": "/healthz", "port": "http"},
                                         "periodSeconds": period}},
                "rollout": {"maxSurge": "100%", "maxUnavailable": 0},
                "routes": [{"host": host, "port": "http"}]}]}}


def get_via_gateway(gateway, host):
    h, p = gateway.split(":")
    try:
        c = http.client.HTTPConnection(h, int(p), timeout=2)
        c.request("GET", "/", headers={"Host": host})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body
    except OSError:
        return 0, b""


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiff", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                    "bin", "skiff"))
    ap.add_argument("--density", type=int, default=500)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="skiff-runtime-bench-")
    skiff = Skiff(os.path.abspath(args.skiff), work)
    try:
        gateway, gateway_pid = skiff.gateway()
        # Deploy-to-ready of single-instance applications.
        times = []
        for i in range(20):
            name, host = f"one-{i}", f"one-{i}.bench.test"
            t0 = time.monotonic()
            status, body = skiff.request("POST", "/api/v1/tenants/default/applications",
                                         app(name, 1, host))
            assert status == 201, body
            while get_via_gateway(gateway, host)[0] != 200:
                time.sleep(0.005)
            times.append((time.monotonic() - t0) * 1000)
        print(f"deploy-to-ready, 1 instance (20 apps): p50 {pct(times, 0.5):.0f} ms, "
              f"p99 {pct(times, 0.99):.0f} ms, max {max(times):.0f} ms", flush=True)

        # One application with 50 replicas.
        t0 = time.monotonic()
        status, _ = skiff.request("POST", "/api/v1/tenants/default/applications",
                                  app("fifty", 50, "fifty.bench.test"))
        assert status == 201
        seen = set()
        first = None
        while len(seen) < 50 and time.monotonic() - t0 < 120:
            code, body = get_via_gateway(gateway, "fifty.bench.test")
            if code == 200:
                first = first or (time.monotonic() - t0) * 1000
                seen.add(json.loads(body)["instance"])
        print(f"deploy-to-ready, 50 instances: first answer {first:.0f} ms, all 50 answering "
              f"{(time.monotonic() - t0) * 1000:.0f} ms", flush=True)

        # Density: many small instances of one application.
        n = args.density
        t0 = time.monotonic()
        status, _ = skiff.request("POST", "/api/v1/tenants/default/applications",
                                  app("dense", n, "dense.bench.test", period=1))
        assert status == 201
        ready = 0
        while time.monotonic() - t0 < 300:
            _, body = skiff.request("GET", "/api/v1/tenants/default/applications/dense")
            ready = json.loads(body)["status"].get("components", {}).get("web", {}).get("ready", 0)
            if ready >= n:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        print(f"density: {ready} of {n} instances ready in {elapsed:.1f} s; server RSS "
              f"{skiff.rss_mb():.0f} MB, gateway RSS {skiff.rss_mb(gateway_pid):.0f} MB", flush=True)
    finally:
        skiff.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
