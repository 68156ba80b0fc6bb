#!/usr/bin/env python3
"""Kubernetes backend benchmark, against the real control plane of scripts/kube-control-plane
(kube-apiserver, controller-manager, scheduler, etcd, and kwok playing the nodes).

  apply -> Deployment   from the POST of a new application to Skiff to the ADDED event of its
                        Deployment on a watch of the API server, over 100 applications: p50/p99
  cluster -> Skiff      a change made on the cluster (the Deployment scaled there) until Skiff's
                        application status shows it, over 20 changes: p50/p99
  scale                 N applications (default 1,000) managed against the one cluster: time
                        until every one is Ready, and the Skiff server's RSS then

Reference (not run here): KubeVela publishes about 3,000 applications per 0.5 core / 1 GiB
for its controller.

Usage: bench/kube_bench.py [--skiff build/bin/skiff] [--apps 1000]
"""

import argparse
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import Skiff  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = "/api/v1/tenants/bench/applications"


class Kube:
    """The API server, as its admin (client certificate)."""

    def __init__(self, url, pki):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.context = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.context.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))

    def connect(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json"):
        c = self.connect()
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": ctype})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def watch_added(self, path, seen, stop):
        """Records in `seen` when each object's ADDED event arrives, until `stop` is set."""
        c = self.connect(timeout=None)
        c.request("GET", path + ("&" if "?" in path else "?") + "watch=1")
        r = c.getresponse()
        while not stop.is_set():
            line = r.readline()
            if not line:
                break
            event = json.loads(line)
            if event["type"] == "ADDED":
                seen.setdefault(event["object"]["metadata"]["name"], time.monotonic())


def app(name, replicas=1):
    return {"metadata": {"name": name},
            "spec": {"cluster": "bench", "components": [{
                "name": "web", "image": "registry.example/web:1", "replicas": replicas,
                "ports": [{"name": "http", "port": 8080}],
                "resources": {"cpu": "10m", "memory": "16Mi"}}]}}


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def ready(skiff, name):
    status, body = skiff.request("GET", f"{APPS}/{name}")
    if status != 200:
        return False
    for c in json.loads(body).get("status", {}).get("conditions", []):
        if c["type"] == "Ready":
            return c["status"] == "True"
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--skiff", default=os.path.join(ROOT, "build/bin/skiff"))
    parser.add_argument("--apps", type=int, default=1000)
    args = parser.parse_args()
    # A TERM still stops what the run started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    script = os.path.join(ROOT, "scripts/kube-control-plane")
    if subprocess.run([script, "cached"], stdout=subprocess.DEVNULL).returncode != 0:
        sys.exit("no Kubernetes binaries: run scripts/kube-control-plane build")

    work = tempfile.mkdtemp(prefix="skiff-kube-bench-")
    plane = os.path.join(work, "cluster")
    os.makedirs(plane)
    env = dict(os.environ, SKIFF_KUBE_OWNER_PID=str(os.getpid()))
    url = subprocess.run([script, "start", plane], env=env, check=True, stdout=subprocess.PIPE,
                         text=True).stdout.strip().splitlines()[-1]
    skiff = None
    try:
        kube = Kube(url, os.path.join(plane, "pki"))
        status, body = kube.request("GET", "/version")
        print(f"control plane: Kubernetes {json.loads(body)['gitVersion']} at {url}", flush=True)
        skiff = Skiff(args.skiff, work)
        pki = os.path.join(plane, "pki")
        cluster = {"metadata": {"name": "bench"},
                   "spec": {"server": url,
                            "caData": open(os.path.join(pki, "ca.crt")).read(),
                            "clientCertificate": open(os.path.join(pki, "admin.crt")).read(),
                            "clientKey": open(os.path.join(pki, "admin.key")).read()}}
        assert skiff.request("POST", "/api/v1/clusters", cluster)[0] == 201
        assert skiff.request("POST", "/api/v1/tenants", {"metadata": {"name": "bench"}})[0] == 201

        # apply -> Deployment on the API server, seen by a watch.
        seen, stop = {}, threading.Event()
        watcher = threading.Thread(
            target=kube.watch_added,
            args=("/apis/apps/v1/namespaces/skiff-bench/deployments", seen, stop), daemon=True)
        watcher.start()
        time.sleep(0.5)
        posted = {}
        for i in range(100):
            name = f"lat-{i}"
            posted[f"{name}-web"] = time.monotonic()
            assert skiff.request("POST", APPS, app(name))[0] == 201
            deadline = time.monotonic() + 30
            while f"{name}-web" not in seen and time.monotonic() < deadline:
                time.sleep(0.001)
        stop.set()
        latencies = [seen[k] - t for k, t in posted.items() if k in seen]
        print(f"apply -> Deployment: {len(latencies)} of 100, p50 {ms(percentile(latencies, 50))}, "
              f"p99 {ms(percentile(latencies, 99))}", flush=True)

        # A change on the cluster until Skiff shows it: scale the Deployment there.
        changes = []
        for i in range(20):
            name = f"lat-{i}"
            while not ready(skiff, name):
                time.sleep(0.05)
            replicas = 2 + i % 2
            t0 = time.monotonic()
            status, body = kube.request(
                "PATCH", f"/apis/apps/v1/namespaces/skiff-bench/deployments/{name}-web",
                {"spec": {"replicas": replicas}}, "application/merge-patch+json")
            assert status == 200, body
            while True:
                s, b = skiff.request("GET", f"{APPS}/{name}")
                web = json.loads(b).get("status", {}).get("components", {}).get("web", {})
                if web.get("desired") == replicas:
                    break
                time.sleep(0.002)
            changes.append(time.monotonic() - t0)
        print(f"cluster -> Skiff status: p50 {ms(percentile(changes, 50))}, "
              f"p99 {ms(percentile(changes, 99))}", flush=True)

        # Scale: N applications against the one cluster.
        t0 = time.monotonic()
        for i in range(args.apps):
            assert skiff.request("POST", APPS, app(f"app-{i}"))[0] == 201
        created = time.monotonic() - t0
        pending = {f"app-{i}" for i in range(args.apps)}
        deadline = time.monotonic() + 1800
        while pending and time.monotonic() < deadline:
            status, body = skiff.request("GET", APPS)
            for item in json.loads(body)["items"]:
                name = item["metadata"]["name"]
                if name in pending and any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in item.get("status", {}).get("conditions", [])):
                    pending.discard(name)
            time.sleep(1)
        elapsed = time.monotonic() - t0
        print(f"scale: {args.apps - len(pending)} of {args.apps} applications Ready in "
              f"{elapsed:.0f} s (created in {created:.0f} s); Skiff server RSS "
              f"{skiff.rss_mb():.0f} MB", flush=True)
    finally:
        if skiff is not None:
            skiff.stop()
        subprocess.run([script, "stop", plane], check=False)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
