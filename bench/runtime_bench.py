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
  --containers                  instead: deploy-to-ready of 20 applications whose component is
                                a container (busybox httpd, an image built into the server's
                                store beforehand: the cached-image case), p50 / p99

For scale: Kubernetes' pod-startup SLO is p99 <= 5 s.

Usage: bench/runtime_bench.py [--skiff build/bin/skiff] [--density 500] [--containers]
"""

import argparse
import http.client
import json
import os
import sys
import tempfile
import shutil
import subprocess
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


def container_app(name, image, host):
    return {"metadata": {"name": name},
            "spec": {"components": [{
                "name": "web", "image": image,
                "run": {"command": "sh", "args": [
                    "-c", "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 8080 -h /w"]},
                "ports": [{"name": "http", "port": 8080}],
                "health": {"readiness": {"tcp": {"port": "http"}, "periodSeconds": 0.05}},
                "routes": [{"host": host, "port": "http"}]}]}}


def build_base_image(skiff_binary, store, reference):
    """A busybox image built into `store` with skiff image build (no registry involved)."""
    ctx = tempfile.mkdtemp(prefix="skiff-bench-image-")
    try:
        shutil.copy("/usr/bin/busybox", os.path.join(ctx, "busybox"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write('FROM scratch\nCOPY busybox /bin/busybox\n'
                    'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nENV PATH=/bin\n')
        subprocess.run([skiff_binary, "image", "build", "-q", "--store", store, "-t", reference,
                        ctx], check=True, stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)


def deploy_to_ready(skiff, gateway, make_app, count=20):
    times = []
    for i in range(count):
        name, host = f"one-{i}", f"one-{i}.bench.test"
        t0 = time.monotonic()
        status, body = skiff.request("POST", "/api/v1/tenants/default/applications",
                                     make_app(name, host))
        assert status == 201, body
        while get_via_gateway(gateway, host)[0] != 200:
            time.sleep(0.005)
        times.append((time.monotonic() - t0) * 1000)
    return times


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
    ap.add_argument("--containers", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="skiff-runtime-bench-")
    binary = os.path.abspath(args.skiff)
    skiff = Skiff(binary, work)
    try:
        gateway, gateway_pid = skiff.gateway()
        if args.containers:
            image = "bench.local/busybox:1"
            build_base_image(binary, os.path.join(skiff.data, "images"), image)
            times = deploy_to_ready(skiff, gateway,
                                    lambda name, host: container_app(name, image, host))
            print(f"deploy-to-ready, 1 container, cached image (20 apps): p50 "
                  f"{pct(times, 0.5):.0f} ms, p99 {pct(times, 0.99):.0f} ms, "
                  f"max {max(times):.0f} ms", flush=True)
            return 0
        # Deploy-to-ready of single-instance applications.
        times = deploy_to_ready(skiff, gateway, lambda name, host: app(name, 1, host))
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
