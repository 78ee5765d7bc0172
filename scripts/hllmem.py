#!/usr/bin/env python3
"""Memory per HyperLogLog key (issue 16): 20,000 sparse HLLs (100 elements each) and 2,000
dense ones (3,000 elements each) written into percore (1 shard, target/release) and into
redis-server, one after the other, after a warm-up load; RSS growth per key from /proc.
Also checks that both store the same lengths (the values are the same bytes).

Usage: scripts/hllmem.py
"""
import os
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import rss_of as rss  # noqa: E402


def run(argv, port):
    p = subprocess.Popen(argv + ['--port', str(port), '--save', '', '--appendonly', 'no'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    c = redis.Redis(port=port)
    out = {}
    pipe = c.pipeline(transaction=False)
    # Warm-up, not counted: percore's runtime touches ~10 MB of buffers on its first load
    # (then stays flat), which would otherwise be charged to the first keys.
    for i in range(300000):
        pipe.get(f'warm:{i}')
        if i % 1000 == 999: pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    base = rss(p.pid)
    for k in range(20000):
        pipe.pfadd(f'sparse:{k}', *[f'e{k}:{j}' for j in range(100)])
        if k % 500 == 0: pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    out['sparse'] = (rss(p.pid) - base) / 20000
    mid = rss(p.pid)
    for k in range(2000):
        pipe.pfadd(f'dense:{k}', *[f'e{k}:{j}' for j in range(3000)])
        if k % 20 == 0: pipe.execute()
    pipe.execute()
    time.sleep(0.5)
    out['dense'] = (rss(p.pid) - mid) / 2000
    out['sparse_len'] = c.strlen('sparse:1'); out['dense_len'] = c.strlen('dense:1')
    p.kill(); p.wait()
    return out
print('percore', run([os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'target', 'release', 'percore-server'), '--shards', '1'], 7830))
print('redis  ', run(['redis-server'], 7831))
