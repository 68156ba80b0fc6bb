#!/usr/bin/env python3
"""API benchmark: throughput and latency of Skiff's REST API, with etcd as the named peer.

Starts a Skiff server and an etcd server (Debian's etcd-server) on loopback in temporary
directories, loads them, drives them with wrk, and prints one table. Every number comes from
this run on this machine. Both stores fsync every acknowledged write. Both serve plain HTTP on
loopback (Skiff with --insecure-http).

  get          GET one application           vs etcd range of one key (v3 JSON gateway)
  create       POST a new application        vs etcd put of a new key
  update       PATCH an application          vs etcd put over an existing key
  list 1k/10k  GET a tenant's applications   (no peer: etcd has no equivalent of a typed list)
  watch        an event reaching 100 watchers, from the moment the write was sent
  memory       server RSS holding 10,000 applications, and the gateway's with their 11,000 routes

Usage: bench/api_bench.py [--skiff build/bin/skiff] [--seconds 10]
"""

import argparse
import base64
import http.client
import json
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_doc(name, replicas=0):
    """A realistic two-component application (about 1 KB of JSON). Zero replicas: this measures
    the API and the store, not the runtime starting 11,000 applications' processes."""
    return {
        "apiVersion": "skiff.dev/v1", "kind": "Application",
        "metadata": {"name": name, "labels": {"team": "bench", "tier": "web"}},
        "spec": {
            "components": [
                {"name": "web", "run": {"command": "/usr/bin/web", "args": ["--port", "8080"]},
                 "replicas": replicas, "ports": [{"name": "http", "port": 8080}],
                 "env": [{"name": "CACHE_ADDR", "value": "cache:6379"}],
                 "resources": {"cpu": "500m", "memory": "256Mi"},
                 "health": {"readiness": {"http": {"path": "/healthz", "port": "http"}},
                            "liveness": {"tcp": {"port": "http"}}},
                 "routes": [{"host": name + ".example.test", "path": "/", "port": "http"}]},
                {"name": "cache", "type": "stateful", "run": {"command": "/usr/bin/cache"},
                 "replicas": 0,
                 "ports": [{"name": "redis", "port": 6379}],
                 "volumes": [{"name": "data", "path": "/data", "size": "1Gi"}]},
            ],
            "dependsOn": [{"from": "web", "to": "cache"}],
        },
    }


class Skiff:
    def __init__(self, binary, workdir, extra_args=()):
        self.binary = binary
        self.data = os.path.join(workdir, "skiff")
        os.makedirs(self.data)
        self.log = open(os.path.join(workdir, "skiff.log"), "w")
        # Plain HTTP on loopback, as etcd is served here: the numbers compare the API and the
        # stores, not TLS stacks.
        self.proc = subprocess.Popen([binary, "server", "--data-dir", self.data,
                                      "--listen", "127.0.0.1:0", "--insecure-http",
                                      "--gateway-listen", "127.0.0.1:0",
                                      "--gateway-admin-listen", "127.0.0.1:0",
                                      *extra_args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        addr_file = os.path.join(self.data, "api.addr")
        for _ in range(200):
            if os.path.exists(addr_file):
                break
            time.sleep(0.05)
        self.url = open(addr_file).read().strip()
        self.host, self.port = self.url[len("http://"):].split(":")
        self.port = int(self.port)
        # Every API request is authenticated: sign in as the admin the server created.
        password = open(os.path.join(self.data, "admin-password")).read().strip()
        self.token = ""
        status, body = self.request("POST", "/api/v1/login",
                                    {"user": "admin", "password": password})
        assert status == 200, (status, body)
        self.token = json.loads(body)["token"]
        self.auth_header = f"Authorization: Bearer {self.token}"

    def request(self, method, path, body=None, ctype="application/json", conn=None):
        c = conn or http.client.HTTPConnection(self.host, self.port)
        headers = {"Content-Type": ctype}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers=headers)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, data

    def rss_mb(self, pid=None):
        for line in open(f"/proc/{pid or self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def gateway(self):
        """(proxy "HOST:PORT", pid) of the gateway the server runs."""
        path = os.path.join(self.data, "gateway")
        for _ in range(200):
            try:
                addr = json.load(open(os.path.join(path, "gateway.addr")))["listen"]
                return addr, int(open(os.path.join(path, "gateway.pid")).read())
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        raise RuntimeError("the gateway did not start")

    def stop(self):
        """Stops the server, then what outlives it by design: the gateway and the instances."""
        self.proc.terminate()
        self.proc.wait()
        if os.path.isdir(os.path.join(self.data, "containers")):
            # Containers, their network and mounts: the binary's own cleanup.
            subprocess.run([self.binary, "host-cleanup", "--data-dir", self.data],
                           stdout=subprocess.DEVNULL, check=False)
        pids, cgroups = [], []
        try:
            pids.append(int(open(os.path.join(self.data, "gateway", "gateway.pid")).read()))
        except (OSError, ValueError):
            pass
        root = os.path.join(self.data, "runtime", "instances")
        for d in os.listdir(root) if os.path.isdir(root) else []:
            try:
                state = json.load(open(os.path.join(root, d, "state.json")))
                cgroups.extend(state.get("cgroupDirs", []))
                os.killpg(state["pid"], 9)
            except (OSError, ValueError, KeyError):
                pass
            try:
                pids.append(int(open(os.path.join(root, d, "shim.pid")).read()))
            except (OSError, ValueError):
                pass
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        # The instances' cgroups, once their processes are gone.
        for cgroup in cgroups:
            for _ in range(40):
                try:
                    os.rmdir(cgroup)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


class Etcd:
    def __init__(self, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        peer = f"http://127.0.0.1:{free_port()}"
        self.log = open(os.path.join(workdir, "etcd.log"), "w")
        binary = shutil.which("etcd") or "/usr/bin/etcd"
        self.proc = subprocess.Popen(
            [binary, "--data-dir", os.path.join(workdir, "etcd"), "--name", "bench",
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"bench={peer}", "--log-level", "error"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("POST", "/v3/kv/range", body=json.dumps({"key": b64("x")}))
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("etcd did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def populate(skiff, tenant, count, threads=8):
    status, _ = skiff.request("POST", "/api/v1/tenants", {"metadata": {"name": tenant}})
    assert status == 201, status
    errors = []

    def worker(start):
        conn = http.client.HTTPConnection(skiff.host, skiff.port)
        for i in range(start, count, threads):
            st, body = skiff.request("POST", f"/api/v1/tenants/{tenant}/applications",
                                     app_doc(f"app-{i}"), conn=conn)
            if st != 201:
                errors.append((st, body[:200]))
        conn.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"populate {tenant}: {errors[:3]}")


_runs = [0]
GET_CONNECTIONS = (32, 8)


def wrk(url, seconds, connections, script=None, env=None, header=None):
    _runs[0] += 1  # lets scripts that create objects pick names no earlier run used
    env = {**(env or {}), "BENCH_RUN": str(_runs[0])}
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if header:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", os.path.join(HERE, "wrk", script)]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed requests\n{out}")
    return {"rps": rps, "p50": pct(50), "p99": pct(99)}


def watch_fanout(skiff, watchers=100, events=200):
    """Opens `watchers` watch streams, writes `events` objects one at a time, and measures when
    each event's bytes reach each watcher, relative to when its write request was sent."""
    tenant = "watch"
    status, _ = skiff.request("POST", "/api/v1/tenants", {"metadata": {"name": tenant}})
    assert status == 201
    _, body = skiff.request("GET", f"/api/v1/tenants/{tenant}/applications")
    rv = json.loads(body)["metadata"]["resourceVersion"]
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(watchers):
        s = socket.create_connection((skiff.host, skiff.port))
        s.sendall(f"GET /api/v1/tenants/{tenant}/applications?watch=true&resourceVersion={rv} "
                  f"HTTP/1.1\r\nHost: bench\r\n{skiff.auth_header}\r\n\r\n".encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
    received = {}  # (watcher, name) -> time first seen
    # The first "name" of an event line is metadata.name (metadata precedes spec).
    pattern = re.compile(rb'\{"type":"ADDED","object":\{[^\n]*?"name":"(ev-\d+)"')
    done = threading.Event()

    def reader():
        while not done.is_set() or len(received) < watchers * events:
            for key, _ in sel.select(timeout=0.2):
                data = key.fileobj.recv(1 << 20)
                now = time.monotonic()
                buf = key.data
                buf.extend(data)
                for m in pattern.finditer(buf):
                    received.setdefault((key.fileobj.fileno(), m.group(1).decode()), now)
                cut = buf.rfind(b"\n")
                if cut >= 0:
                    del buf[:cut + 1]
            if done.is_set() and len(received) >= watchers * events:
                break
            if done.is_set() and time.monotonic() > deadline[0]:
                break

    deadline = [float("inf")]
    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.5)
    sent = {}
    conn = http.client.HTTPConnection(skiff.host, skiff.port)
    doc = app_doc("x")
    for i in range(events):
        name = f"ev-{i}"
        doc["metadata"]["name"] = name
        sent[name] = time.monotonic()
        st, _ = skiff.request("POST", f"/api/v1/tenants/{tenant}/applications", doc, conn=conn)
        assert st == 201
        time.sleep(0.01)
    deadline[0] = time.monotonic() + 10
    done.set()
    t.join()
    for s in socks:
        s.close()
    lat = sorted((received[(fd, n)] - sent[n]) * 1000 for (fd, n) in received)
    missing = watchers * events - len(lat)
    return {"p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)], "missing": missing,
            "deliveries": len(lat)}


def fsync_latency(directory, rounds=300):
    """p50/p99 of appending 4 KB and fsyncing, on the disk the stores write to: the floor under
    every durable write."""
    path = os.path.join(directory, "fsync.probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    ts = []
    for _ in range(rounds):
        os.write(fd, b"x" * 4096)
        t = time.perf_counter()
        os.fsync(fd)
        ts.append((time.perf_counter() - t) * 1000)
    os.close(fd)
    os.unlink(path)
    ts.sort()
    return ts[len(ts) // 2], ts[int(len(ts) * 0.99)]


def settle(skiff):
    """Waits until the controllers have caught up with the writes so far (the store's revision
    stops moving for 2 s), so that each measurement starts from the steady state rather than
    behind the last one's backlog. Returns (seconds it took, the store revision)."""
    t1 = time.monotonic()
    last, still = -1, 0.0
    while still < 2.0 and time.monotonic() - t1 < 300:
        rv = json.loads(skiff.request("GET", "/api/v1/tenants/list1k/applications")[1])[
            "metadata"]["resourceVersion"]
        still = still + 0.5 if rv == last else 0.0
        last = rv
        time.sleep(0.5)
    return time.monotonic() - t1 - still, last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiff", default=os.path.join(HERE, "..", "build", "bin", "skiff"))
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="skiff-bench-")
    fsync_p50, fsync_p99 = fsync_latency(work)
    skiff = Skiff(os.path.abspath(args.skiff), work)
    etcd = Etcd(work)
    rows = []
    try:
        t0 = time.monotonic()
        populate(skiff, "list1k", 1000)
        populate(skiff, "list10k", 10000)
        load_s = time.monotonic() - t0
        settle_s, last = settle(skiff)
        print(f"controllers caught up {settle_s:.1f}s after the last create "
              f"(store revision {last})", flush=True)
        rss = skiff.rss_mb()
        gateway_rss = skiff.rss_mb(skiff.gateway()[1])
        print(f"loaded 11,000 applications in {load_s:.1f}s ({11000 / load_s:.0f}/s, 8 clients)"
              f"; server RSS {rss:.1f} MB, gateway RSS {gateway_rss:.1f} MB", flush=True)

        s = args.seconds
        app = json.dumps(app_doc("bench"))
        env = {"SKIFF_APP": app, "ETCD_VALUE": b64(app)}
        c = http.client.HTTPConnection("127.0.0.1", etcd.port)
        c.request("POST", "/v3/kv/put", body=json.dumps({"key": b64("bench"), "value": b64(app)}))
        assert c.getresponse().status == 200
        # Reads at two loads: 32 connections saturate both cores (wrk included), so p99 there is
        # mostly queueing behind the load generator; at fewer connections p99 is the server's.
        for conns in GET_CONNECTIONS:
            rows.append((f"get one application, {conns} connections",
                         wrk(f"{skiff.url}/api/v1/tenants/list1k/applications/app-7", s, conns,
                             header=skiff.auth_header),
                         wrk(f"{etcd.url}/v3/kv/range", s, conns, "etcd_range.lua", env)))
        # Writes: each line from the steady state, not behind the last one's backlog.
        for verb, tenant, script, etcd_script in (
                ("create", "default", "skiff_create.lua", "etcd_put.lua"),
                ("update", "list1k", "skiff_update.lua", "etcd_update.lua")):
            for clients in (1, 16):
                settle(skiff)
                rows.append((f"{verb} (durable), {clients} client{'s' if clients > 1 else ''}",
                             wrk(f"{skiff.url}/api/v1/tenants/{tenant}/applications", s, clients,
                                 script, env, header=skiff.auth_header),
                             wrk(f"{etcd.url}/v3/kv/put", s, clients, etcd_script, env)))
        settle(skiff)
        rows.append(("list 1,000 apps, 4 connections",
                     wrk(f"{skiff.url}/api/v1/tenants/list1k/applications", s, 4,
                         header=skiff.auth_header), None))
        rows.append(("list 10,000 apps, 4 connections",
                     wrk(f"{skiff.url}/api/v1/tenants/list10k/applications", s, 4,
                         header=skiff.auth_header), None))
        w = watch_fanout(skiff)
        rss_after = skiff.rss_mb()
    finally:
        skiff.stop()
        etcd.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"fsync of a 4 KB append on this disk: p50 {fsync_p50:.2f} ms, p99 {fsync_p99:.2f} ms")
    print()
    print("| operation | Skiff req/s | Skiff p50 ms | Skiff p99 ms | etcd req/s | etcd p50 ms | etcd p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, sk, et in rows:
        peer = f"{et['rps']:.0f} | {et['p50']:.2f} | {et['p99']:.2f}" if et else "– | – | –"
        print(f"| {name} | {sk['rps']:.0f} | {sk['p50']:.2f} | {sk['p99']:.2f} | {peer} |")
    print(f"| watch: event to 100 watchers | | {w['p50']:.2f} | {w['p99']:.2f} | | | |")
    print()
    print(f"watch deliveries: {w['deliveries']} ({w['missing']} missing)")
    print(f"server RSS with 11,000 applications: {rss:.1f} MB (after the whole run: {rss_after:.1f} MB)")
    print(f"gateway RSS with their 11,000 routes: {gateway_rss:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
