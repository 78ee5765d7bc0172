#!/usr/bin/env python3
"""Memory per stream entry (issue 16): one stream of 1,000,000 entries (two fields, the same
field names throughout, as most producers write), then 100,000 streams of 10 entries, then a
group reading 200,000 of the long stream's entries (pending entries), written into percore
(1 shard, target/release) and into redis-server (and valkey-server when installed), one
after the other; ROUNDS rounds (default 3), medians printed.

Each server first takes a warm-up load of the same shape, not counted: 300,000 GETs and a
100,000-entry stream (kept). percore's receive buffers (a ring of 512 x 16 KB
per shard) are touched page by page as larger batches arrive, so a load whose batches are
larger than the warm-up's would otherwise have up to 8 MB of them charged to its entries.
Growth is measured as the resident set (VmRSS) and as its anonymous part (RssAnon: data,
without the binary's code pages a command touches the first time), plus the allocator's
count (INFO used_memory) per entry of the long stream.

Usage: scripts/streammem.py [ROUNDS]
"""
import os
import statistics
import sys
import subprocess
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (valkey's binary, RSS)


def rss(pid):
    return bench.rss_of(pid), bench.rss_of(pid, "RssAnon")


def load(pipe, n, cmd, batch=1000):
    for i in range(n):
        cmd(i)
        if i % batch == batch - 1:
            pipe.execute()
    pipe.execute()


def run(argv, port):
    p = subprocess.Popen(argv + ["--port", str(port), "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    c = redis.Redis(port=port)
    out = {}
    pipe = c.pipeline(transaction=False)

    def xadd(key):
        return lambda i: pipe.xadd(key, {"user": f"u{i % 5000}", "payload": f"event-{i}"},
                                   id=f"{i + 1}-0")

    def xreadgroup(key):
        return lambda n: pipe.xreadgroup("g", f"c{n % 50}", {key: ">"}, count=100)

    load(pipe, 300_000, lambda i: pipe.get(f"warm:{i}"))
    load(pipe, 100_000, xadd("warm"))
    time.sleep(0.5)

    def grown(before, per):
        now = rss(p.pid)
        return tuple(round((a - b) / per, 1) for a, b in zip(now, before))

    base = rss(p.pid)
    used = c.info("memory")["used_memory"]
    load(pipe, 1_000_000, xadd("long"))
    time.sleep(0.5)
    out["long B/entry"], out["long anon B/entry"] = grown(base, 1_000_000)
    out["long allocated B/entry"] = round((c.info("memory")["used_memory"] - used) / 1_000_000, 1)
    mid = rss(p.pid)
    for k in range(100_000):
        for j in range(10):
            pipe.xadd(f"s:{k}", {"f": f"v{j}"}, id=f"{j + 1}-0")
        if k % 100 == 99:
            pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    out["small B/stream"], out["small anon B/stream"] = grown(mid, 100_000)
    c.xgroup_create("long", "g", id="0")
    mid = rss(p.pid)
    load(pipe, 2000, xreadgroup("long"), batch=50)
    time.sleep(0.5)
    out["B/pending"], out["anon B/pending"] = grown(mid, 200_000)
    assert c.xpending("long", "g")["pending"] == 200_000
    p.kill()
    p.wait()
    return out


def medians(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
servers = [("percore", [os.path.join(root, "target", "release", "percore-server"), "--shards", "1"]),
           ("redis", ["redis-server"])]
valkey = bench.valkey_binary()
if valkey:
    servers.append(("valkey", [valkey]))
results = {name: [] for name, _ in servers}
for r in range(rounds):
    for n, (name, argv) in enumerate(servers):
        results[name].append(run(argv, 7830 + n))
        bench.log(f"round {r + 1} {name}: {results[name][-1]}")
for name, runs in results.items():
    print(f"{name:8}", medians(runs))
