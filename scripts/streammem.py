#!/usr/bin/env python3
"""Memory per stream entry (issue 16): one stream of 1,000,000 entries (two fields, the same
field names throughout, as most producers write), then 100,000 streams of 10 entries, then a
group reading 200,000 of the long stream's entries (pending entries), written into percore
(1 shard, target/release) and into redis-server (and valkey-server when installed), one
after the other, after a warm-up load; RSS growth from /proc, per entry and per pending
entry, and the allocator's count (INFO used_memory) per entry of the long stream.

Usage: scripts/streammem.py
"""
import os
import sys
import subprocess
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (valkey's binary, RSS)


rss = bench.rss_of


def run(argv, port):
    p = subprocess.Popen(argv + ["--port", str(port), "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    c = redis.Redis(port=port)
    out = {}
    pipe = c.pipeline(transaction=False)
    # Warm-up, not counted: percore's runtime touches ~10 MB of buffers on its first load
    # (then stays flat), which would otherwise be charged to the first entries.
    for i in range(300_000):
        pipe.get(f"warm:{i}")
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    base = rss(p.pid)
    used = c.info("memory")["used_memory"]
    for i in range(1_000_000):
        pipe.xadd("long", {"user": f"u{i % 5000}", "payload": f"event-{i}"}, id=f"{i + 1}-0")
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    out["long B/entry"] = round((rss(p.pid) - base) / 1_000_000, 1)
    out["long allocated B/entry"] = round((c.info("memory")["used_memory"] - used) / 1_000_000, 1)
    mid = rss(p.pid)
    for k in range(100_000):
        for j in range(10):
            pipe.xadd(f"s:{k}", {"f": f"v{j}"}, id=f"{j + 1}-0")
        if k % 100 == 99:
            pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    out["small B/stream"] = round((rss(p.pid) - mid) / 100_000, 1)
    c.xgroup_create("long", "g", id="0")
    mid = rss(p.pid)
    for n in range(2000):
        pipe.xreadgroup("g", f"c{n % 50}", {"long": ">"}, count=100)
        if n % 50 == 49:
            pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    out["B/pending"] = round((rss(p.pid) - mid) / 200_000, 1)
    out["pending"] = c.xpending("long", "g")["pending"]
    p.kill()
    p.wait()
    return out


root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
print("percore", run([os.path.join(root, "target", "release", "percore-server"), "--shards", "1"], 7830))
print("redis  ", run(["redis-server"], 7831))
valkey = bench.valkey_binary()
if valkey:
    print("valkey ", run([valkey], 7832))
