#!/usr/bin/env python3
"""Observability benchmark: what measuring costs, and how fast the autoscaler acts on it.

Starts a Skiff server (default --metrics-interval 10s) on loopback and measures:

  ingestion cost   N instances of the in-tree example service (default 500) running: over one
                   minute, the cpu the metrics collector spends (its own counter,
                   skiff_metrics_collect_cpu_seconds_total) as a share of one core, the series
                   and memory the time series holds (skiff_tsdb_series, skiff_tsdb_bytes), and
                   the server's RSS.
                   Peer, same run: Debian's Prometheus scraping the same series from Skiff's
                   /metrics every 10 s over the same minute: its cpu share and RSS.
  scale-out        an autoscaled component (targetRequestsPerSecond 20, 1 instance) put under
                   load by wrk: from the moment the autoscaler's own measure (requests per
                   second per ready instance over its 30 s window, evaluated by a range query
                   at 0.1 s steps) first exceeds the target, to the application's status showing
                   the new replica count (its watch event). Three runs. For scale: Kubernetes'
                   HorizontalPodAutoscaler syncs every 15 s on metrics-server data scraped
                   every 15 s (documented defaults; no cluster runs here).

Usage: bench/observe_bench.py [--skiff build/bin/skiff] [--instances 500]
"""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import Skiff, free_port  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
APPS = "/api/v1/tenants/default/applications"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def query(skiff, q, **params):
    params["query"] = q
    status, body = skiff.request("GET", "/api/v1/metrics?" + urllib.parse.urlencode(params))
    assert status == 200, body
    return json.loads(body)


def scalar(skiff, q):
    result = query(skiff, q)["result"]
    return float(result[0]["value"][1]) if result else None


def fleet(replicas):
    return {"metadata": {"name": "fleet"},
            "spec": {"components": [{
                "name": "web", "replicas": replicas,
                "run": {"command": "skiff-example", "args": ["--name", "web"]},
                "ports": [{"name": "http", "port": 8080}],
                "resources": {"cpu": "10m", "memory": "32Mi"},
                "terminationGracePeriodSeconds": 1}]}}


def autoscaled():
    return {"metadata": {"name": "auto"},
            "spec": {"components": [{
                "name": "web",
                "run": {"command": "skiff-example", "args": ["--name", "web"]},
                "ports": [{"name": "http", "port": 8080}],
                "health": {"readiness": {"http": {"path": "/healthz", "port": "http"},
                                         "periodSeconds": 0.2}},
                "autoscale": {"min": 1, "max": 4, "targetRequestsPerSecond": 20,
                              "scaleDownStabilizationSeconds": 0},
                "terminationGracePeriodSeconds": 1,
                "routes": [{"host": "auto.bench.test", "port": "http"}]}]}}


def ready_instances(skiff, app):
    status, body = skiff.request("GET", "/api/v1/tenants/default/instances?labelSelector="
                                 + urllib.parse.quote(f"skiff.dev/application={app}"))
    items = json.loads(body)["items"] if status == 200 else []
    return sum(1 for i in items if i.get("status", {}).get("ready")
               and not i["spec"].get("terminating"))


def wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise RuntimeError(f"timed out waiting for {what}")


def ingestion(skiff, workdir, instances, minute):
    status, body = skiff.request("POST", APPS, fleet(instances))
    assert status == 201, body
    started = time.monotonic()
    wait(lambda: ready_instances(skiff, "fleet") == instances, 900, f"{instances} instances")
    print(f"  {instances} instances running after {time.monotonic() - started:.0f} s",
          flush=True)

    # The peer: Prometheus scraping everything Skiff exposes, every 10 s.
    pdir = os.path.join(workdir, "prometheus")
    os.makedirs(pdir)
    open(os.path.join(pdir, "token"), "w").write(skiff.token)
    with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
        f.write("global: {scrape_interval: 10s}\n"
                "scrape_configs:\n- job_name: skiff\n"
                f"  authorization: {{credentials_file: {pdir}/token}}\n"
                f"  static_configs: [{{targets: ['{skiff.host}:{skiff.port}']}}]\n")
    port = free_port()
    prometheus = subprocess.Popen(
        [shutil.which("prometheus") or "/usr/bin/prometheus",
         f"--config.file={pdir}/prometheus.yml", f"--storage.tsdb.path={pdir}/data",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=open(os.path.join(pdir, "log"), "w"), stderr=subprocess.STDOUT)
    try:
        time.sleep(30)  # both settle: a few collections and scrapes
        skiff_cpu0 = scalar(skiff, "skiff_metrics_collect_cpu_seconds_total")
        prom_cpu0 = cpu_seconds(prometheus.pid)
        t0 = time.monotonic()
        time.sleep(minute)
        skiff_cpu1 = scalar(skiff, "skiff_metrics_collect_cpu_seconds_total")
        prom_cpu1 = cpu_seconds(prometheus.pid)
        elapsed = time.monotonic() - t0
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/api/v1/query?query=" +
                  urllib.parse.quote('count({__name__=~"skiff_.+"})'))
        prom_series = json.loads(c.getresponse().read())["data"]["result"]
        return {
            "collector_cpu_pct": 100 * (skiff_cpu1 - skiff_cpu0) / elapsed,
            "collect_duration_ms": 1000 * scalar(skiff, "skiff_metrics_collect_duration_seconds"),
            "series": scalar(skiff, "skiff_tsdb_series"),
            "tsdb_mb": scalar(skiff, "skiff_tsdb_bytes") / 2**20,
            "samples": scalar(skiff, "skiff_tsdb_samples"),
            "skiff_rss_mb": rss_mb(skiff.proc.pid),
            "prometheus_cpu_pct": 100 * (prom_cpu1 - prom_cpu0) / elapsed,
            "prometheus_rss_mb": rss_mb(prometheus.pid),
            "prometheus_series": float(prom_series[0]["value"][1]) if prom_series else 0,
        }
    finally:
        prometheus.terminate()
        prometheus.wait()
        status, body = skiff.request("DELETE", APPS + "/fleet")
        wait(lambda: ready_instances(skiff, "fleet") == 0, 600, "the fleet to stop")


def watch_replicas(skiff, stop, seen):
    """Appends (arrival time, replicas) whenever the autoscaler's count for auto/web changes."""
    conn = http.client.HTTPConnection(skiff.host, skiff.port)
    conn.request("GET", APPS + "?watch=true",
                 headers={"Authorization": f"Bearer {skiff.token}"})
    response = conn.getresponse()
    last = None
    while not stop.is_set():
        line = response.readline()
        if not line:
            return
        event = json.loads(line)
        obj = event.get("object", {})
        if obj.get("metadata", {}).get("name") != "auto":
            continue
        replicas = (obj.get("status", {}).get("autoscale", {}).get("components", {})
                    .get("web", {}).get("replicas"))
        if replicas is not None and replicas != last:
            seen.append((time.time(), replicas))
            last = replicas


def scale_out(skiff, gateway, runs):
    latencies = []
    for run in range(runs):
        status, body = skiff.request("POST", APPS, autoscaled())
        assert status == 201, body
        wait(lambda: ready_instances(skiff, "auto") == 1, 60, "the autoscaled app")
        time.sleep(25)  # a quiet window: the rate measure starts from zero
        stop, seen = threading.Event(), []
        watcher = threading.Thread(target=watch_replicas, args=(skiff, stop, seen), daemon=True)
        watcher.start()
        load_start = time.time()
        wrk = subprocess.Popen(["wrk", "-t1", "-c2", "-d60s", "-H", "Host: auto.bench.test",
                                f"http://{gateway}/"], stdout=subprocess.DEVNULL)
        try:
            wait(lambda: any(r > 1 for _, r in seen), 60, "a scale-out")
        finally:
            wrk.kill()
            wrk.wait()
        decided = next(t for t, r in seen if r > 1)
        measure = ('sum(rate(skiff_gateway_responses_total{application="auto"}[30s])) / '
                   'sum(skiff_instance_ready{application="auto"})')
        time.sleep(1.5)  # the end of the range must be in the past
        # At 0.1 s steps: the measure changes only when a collection lands, and the first step
        # showing the change is within 0.1 s of it.
        matrix = query(skiff, measure, start=f"{load_start - 5:.3f}", end=f"{decided + 1:.3f}",
                       step="0.1s")["result"]
        crossed = next((t for t, v in (matrix[0]["values"] if matrix else [])
                        if float(v) > 20), None)
        stop.set()
        skiff.request("DELETE", APPS + "/auto")
        wait(lambda: ready_instances(skiff, "auto") == 0, 60, "the autoscaled app to stop")
        if crossed is None:
            print(f"  run {run + 1}: the measure never crossed the target before the decision: "
                  f"{json.dumps(matrix)[:2000]}")
            continue
        # Within one 0.1 s step the two are indistinguishable.
        latencies.append((max(0.1, decided - crossed), decided - load_start))
        print(f"  run {run + 1}: decision {max(0.1, decided - crossed):.1f} s after the measure "
              f"crossed the target (<= 0.1 s: within one step); {decided - load_start:.1f} s "
              f"after the load started", flush=True)
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--skiff", default=os.path.join(ROOT, "build/bin/skiff"))
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["PATH"] = os.path.dirname(os.path.abspath(args.skiff)) + ":" + os.environ["PATH"]

    workdir = tempfile.mkdtemp(prefix="skiff-observe-bench-")
    skiff = Skiff(os.path.abspath(args.skiff), workdir)
    try:
        gateway = json.load(open(os.path.join(skiff.data, "gateway", "gateway.addr")))["listen"]
        r = None
        if args.instances > 0:
            print(f"ingestion at {args.instances} instances, over {args.seconds} s:", flush=True)
            r = ingestion(skiff, workdir, args.instances, args.seconds)
        if r:
            print(f"  skiff collector   {r['collector_cpu_pct']:.2f}% of one core "
                  f"(a round takes {r['collect_duration_ms']:.0f} ms), {r['series']:.0f} series, "
                  f"time series {r['tsdb_mb']:.1f} MB for {r['samples']:.0f} samples "
                  f"({r['tsdb_mb'] * 2**20 / r['samples']:.1f} bytes each, index included), "
                  f"server RSS {r['skiff_rss_mb']:.0f} MB")
            print(f"  prometheus (peer) {r['prometheus_cpu_pct']:.2f}% of one core scraping "
                  f"{r['prometheus_series']:.0f} series, RSS {r['prometheus_rss_mb']:.0f} MB")
        print("scale-out decision after the measure crosses the target:", flush=True)
        latencies = scale_out(skiff, gateway, args.runs)
        if latencies:
            after_cross = sorted(a for a, _ in latencies)
            after_load = sorted(b for _, b in latencies)
            print(f"  after crossing: max {after_cross[-1]:.1f} s; after the load started: "
                  f"median {after_load[len(after_load) // 2]:.1f} s, max {after_load[-1]:.1f} s "
                  f"over {len(latencies)} runs")
    finally:
        skiff.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
