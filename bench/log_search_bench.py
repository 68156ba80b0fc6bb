#!/usr/bin/env python3
"""Log search benchmark: how fast `GET .../applications/{app}/logs?grep=...` answers over 1 GB.

Writes about 1 GB of realistic instance log lines (access logs, application messages, a few
errors) spread over the last 24 hours, laid out as the local runtime keeps them: the kept logs
of 34 deleted instances of one application, each current.log plus two rotated 10 MiB files
(DATA/runtime/logs/default.INSTANCE/current.log[.N] and instance.json). Then starts a Skiff
server on that data directory and times searches through the API (each answering at most the
newest 1000 lines, the default limit), 20 times each, p50 / p99:

  rare word        a word in about 30 lines of the whole gigabyte: every byte is read
  common word      a word in most lines: the newest 1000 are found near the end
  ignore case      the rare word, -i
  regex            time(out|d) after \\d{4,}ms (prefiltered by its literal " after ")
  regex, slow      [^ ]+ [^ ]+ \\d{3} \\d{4,}ms: most lines hold "ms", so most go
                   through the regular expression (5 runs; a search stops after 10 s)
  narrow range     a common word within 10 minutes an hour ago: the index seeks there
  range, no grep   every line of one minute

The peer, run on the same files in the same run: GNU grep -F / -E / -i -c over all the files
(it has no index, so its time range case is the whole scan). The first search of each case is
included (the index is built lazily, while searching); the files are in the page cache, as
they are right after being written.

Usage: bench/log_search_bench.py [--skiff build/bin/skiff] [--gigabytes 1] [--runs 20]
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api_bench import Skiff  # noqa: E402

FILE_BYTES = 10 << 20  # the runtime's rotation size
FILES_PER_INSTANCE = 3  # current.log and two rotated ones
RARE = "deadlock"
COMMON = "GET"
REGEX = r"time(out|d) after \d{4,}ms"
# Its only literal, "ms", is in most lines: nearly every line goes through the regex engine.
SLOW_REGEX = r"[^ ]+ [^ ]+ \d{3} \d{4,}ms"

PATHS = ["/api/orders", "/api/orders/{id}", "/api/cart", "/api/users/{id}", "/healthz",
         "/static/app.js", "/api/search?q=shoes", "/api/payments/{id}/capture"]
MESSAGES = [
    "cache hit for product {id} in {ms}ms",
    "order {id} accepted: 3 items, total 129.90 EUR",
    "payment {id} authorised by provider acme-pay in {ms}ms",
    "worker pool: 12 busy, 4 idle, queue 0",
    "db pool: 18/20 connections in use, wait {ms}ms",
    "session {id} refreshed for user u-{id}",
    "upstream inventory answered in {ms}ms",
]
WARNINGS = [
    "WARN slow query on orders ({ms}ms): SELECT * FROM orders WHERE user_id = $1",
    "ERROR upstream inventory timeout after {slow}ms (attempt 2 of 3)",
    "WARN retrying payment {id}: connection reset by peer",
    "ERROR request {id} timed after {slow}ms waiting for a database connection",
]


def write_instance(directory, name, start_ms, end_ms, rng, rare_every):
    """Writes one instance's kept logs: FILES_PER_INSTANCE files of FILE_BYTES, oldest first."""
    os.makedirs(directory)
    with open(os.path.join(directory, "instance.json"), "w") as f:
        json.dump({"tenant": "default", "instance": name, "application": "bench",
                   "component": "web"}, f)
    total = FILE_BYTES * FILES_PER_INSTANCE
    step = (end_ms - start_ms) / (total / 130)  # about 130 bytes a line
    t = float(start_ms)
    last_second, prefix = -1, ""
    written_lines = 0
    for n in range(FILES_PER_INSTANCE, 0, -1):
        path = os.path.join(directory, "current.log" + ("" if n == 1 else ".%d" % (n - 1)))
        size, chunk = 0, []
        while size < FILE_BYTES:
            ms = int(t)
            t += step * (0.5 + rng.random())
            second = ms // 1000
            if second != last_second:
                last_second = second
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            stamp = "%s.%03dZ" % (prefix, ms % 1000)
            r = rng.random()
            ident = rng.randrange(100000, 999999)
            if written_lines % rare_every == rare_every // 2:
                text = "ERROR %s detected between order %d and payment %d; rolled back" % (
                    RARE, ident, ident + 1)
                stream = "stderr"
            elif r < 0.62:
                path_t = rng.choice(PATHS).replace("{id}", str(ident))
                text = '%s %s %d %dms ua="Mozilla/5.0" trace=%x' % (
                    COMMON if r < 0.5 else "POST", path_t, 200 if r < 0.6 else 404,
                    rng.randrange(1, 90), rng.getrandbits(48))
                stream = "stdout"
            elif r < 0.97:
                text = "INFO " + rng.choice(MESSAGES).format(id=ident, ms=rng.randrange(1, 50))
                stream = "stdout"
            else:
                text = rng.choice(WARNINGS).format(id=ident, ms=rng.randrange(200, 5000),
                                                   slow=rng.randrange(900, 30000))
                stream = "stderr"
            line = "%s %s %s\n" % (stamp, stream, text)
            chunk.append(line)
            size += len(line)
            written_lines += 1
        with open(path, "w") as f:
            f.write("".join(chunk))
    return written_lines


def generate(data, gigabytes, rng):
    root = os.path.join(data, "runtime", "logs")
    instances = max(1, round(gigabytes * (1 << 30) / (FILE_BYTES * FILES_PER_INSTANCE)))
    now_ms = int(time.time() * 1000)
    lines = 0
    # Rare: about 30 lines in all.
    rare_every = max(1000, int(instances * FILE_BYTES * FILES_PER_INSTANCE / 130 / 30))
    for i in range(instances):
        name = "bench-web-%d-%05x" % (i // 3, i)
        lines += write_instance(os.path.join(root, "default." + name), name,
                                now_ms - 24 * 3600 * 1000, now_ms - 1000, rng, rare_every)
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs
             if f.startswith("current.log")]
    return instances, lines, files, sum(os.path.getsize(f) for f in files)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def timed(fn, runs):
    times, result = [], None
    for _ in range(runs):
        t0 = time.monotonic()
        result = fn()
        times.append((time.monotonic() - t0) * 1000)
    return times, result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skiff", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                    "bin", "skiff"))
    ap.add_argument("--gigabytes", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="skiff-log-search-bench-")
    skiff = None
    try:
        pre = os.path.join(work, "pre")
        t0 = time.monotonic()
        instances, lines, files, total = generate(pre, args.gigabytes, random.Random(7))
        print("wrote %.2f GB: %d lines in %d files of %d instances (%.0f s)" % (
            total / 1e9, lines, len(files), instances, time.monotonic() - t0))
        skiff = Skiff(os.path.abspath(args.skiff), work)
        # The logs of deleted instances, as the runtime keeps them (same filesystem: renames).
        kept = os.path.join(skiff.data, "runtime", "logs")
        os.makedirs(kept, exist_ok=True)
        for d in os.listdir(os.path.join(pre, "runtime", "logs")):
            os.rename(os.path.join(pre, "runtime", "logs", d), os.path.join(kept, d))
        files = [os.path.join(dp, f) for dp, _, fs in os.walk(kept) for f in fs
                 if f.startswith("current.log")]
        now = time.time()

        def iso(t):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

        def search(**query):
            query.setdefault("format", "json")
            path = "/api/v1/tenants/default/applications/bench/logs?" + urllib.parse.urlencode(query)
            status, body = skiff.request("GET", path)
            assert status == 200, (status, body[:300])
            doc = json.loads(body)
            return len(doc["lines"]), doc["truncated"] or doc["incomplete"], doc["scannedBytes"]

        def grep(*flags):
            out = subprocess.run(["grep", "-c", "-h", *flags, *files], stdout=subprocess.PIPE,
                                 check=False, text=True).stdout
            return sum(int(x) for x in out.split())

        cases = [
            ("rare word", dict(grep=RARE), ["-F", RARE]),
            ("common word", dict(grep=COMMON), ["-F", COMMON]),
            ("ignore case", dict(grep=RARE.upper(), ignoreCase="true"), ["-F", "-i", RARE.upper()]),
            ("regex", dict(grep=REGEX, regex="true"), ["-E", REGEX.replace(r"\d", "[0-9]")]),
            ("regex, slow", dict(grep=SLOW_REGEX, regex="true"),
             ["-E", SLOW_REGEX.replace(r"\d", "[0-9]")]),
            ("narrow range", dict(grep=COMMON, since=iso(now - 3600), until=iso(now - 3000)),
             ["-F", COMMON]),
            ("range, no grep", dict(since=iso(now - 7200), until=iso(now - 7140)), None),
        ]
        print()
        print("%-15s %10s %10s %9s %12s   %10s %10s %9s" % (
            "case", "skiff p50", "skiff p99", "lines", "read/search", "grep p50", "grep p99",
            "matches"))
        for name, query, grep_flags in cases:
            runs = args.runs if name != "regex, slow" else max(3, args.runs // 4)
            times, (found, truncated, scanned) = timed(lambda: search(**query), runs)
            if grep_flags:
                g_times, matches = timed(lambda: grep(*grep_flags), max(3, args.runs // 4))
                g = "%8.0f ms %8.0f ms %9d" % (pct(g_times, 0.5), pct(g_times, 0.99), matches)
            else:
                g = "%10s %10s %9s" % ("-", "-", "-")
            print("%-15s %7.1f ms %7.1f ms %8d%s %9.1f MB   %s" % (
                name, pct(times, 0.5), pct(times, 0.99), found, "+" if truncated else " ",
                scanned / 1e6, g))
        print()
        print("lines: answered (+: more matched, the newest 1000 shown, or the search stopped at "
              "its 10 s budget); read/search: bytes of log read per search; grep -c reads every "
              "file")
    finally:
        if skiff is not None:
            skiff.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
