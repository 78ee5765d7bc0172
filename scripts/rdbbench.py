#!/usr/bin/env python3
"""Snapshot benchmark: SAVE and load times, and BGSAVE under load, percore against
redis-server in the same run.

1. SAVE and load: 1M strings (32-byte values) and a mixed dataset (lists, hashes, sets,
   sorted sets), for percore with 1 shard (pinned to CPU 0), percore with 2 shards and
   redis-server (pinned to CPU 0). SAVE is timed at the client; load is the time from the
   server's start on the file until it answers PING (both answer -LOADING meanwhile).
2. BGSAVE under memtier_benchmark (GET:SET 1:1, 50 connections, the 1M strings, load on
   CPU 1): the peak memory during the save over the memory before it (PSS of the server and,
   for redis-server, its fork child), and memtier's p99 for a run with saves against one
   without.

Needs redis-py (pip install redis), redis-server and memtier_benchmark.
Usage: scripts/rdbbench.py [--rounds 3] [--keys 1000000] [--out benches/rdb]
"""

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERCORE = os.environ.get("PERCORE_BIN") or os.path.join(ROOT, "target", "release", "percore-server")
PORT = 7590


def server_argv(name, d):
    common = ["--port", str(PORT), "--bind", "127.0.0.1", "--dir", d, "--save", ""]
    if name == "percore":
        return ["taskset", "-c", "0", PERCORE, "--shards", "1"] + common
    if name == "percore-2":
        return [PERCORE, "--shards", "2"] + common
    return ["taskset", "-c", "0", "redis-server"] + common + ["--appendonly", "no"]


def start(name, d):
    t0 = time.time()
    p = subprocess.Popen(server_argv(name, d), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(port=PORT)
    while True:
        try:
            if c.ping():
                return p, time.time() - t0
        except (redis.ConnectionError, redis.BusyLoadingError):
            pass
        except redis.ResponseError:
            pass
        if p.poll() is not None:
            sys.exit(f"{name} exited during start")
        time.sleep(0.002)


def stop(p):
    try:
        redis.Redis(port=PORT).shutdown(nosave=True)
    except Exception:
        pass
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def fill(kind, keys):
    c = redis.Redis(port=PORT)
    pipe = c.pipeline(transaction=False)
    value = b"x" * 16 + b"0123456789abcdef"
    if kind == "strings":
        for i in range(keys):
            pipe.set(f"key:{i}", value)
            if i % 2000 == 1999:
                pipe.execute()
    else:
        n = keys // 50
        for i in range(n):
            pipe.rpush(f"list:{i}", *[f"element-{j}" for j in range(50)])
            pipe.hset(f"hash:{i}", mapping={f"field-{j}": f"value-{j}" for j in range(20)})
            pipe.sadd(f"set:{i}", *[f"member-{j}" for j in range(20)])
            pipe.zadd(f"zset:{i}", {f"member-{j}": j * 1.5 for j in range(20)})
            if i % 200 == 199:
                pipe.execute()
    pipe.execute()
    return c.dbsize()


def pss(pid):
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for q in pids:
        try:
            with open(f"/proc/{q}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def memtier(seconds, keys):
    out = subprocess.run(
        ["taskset", "-c", "1", "memtier_benchmark", "-s", "127.0.0.1", "-p", str(PORT), "-t", "1", "-c", "50",
         "--ratio", "1:1", "-d", "32", "--key-prefix", "key:", "--key-minimum", "1",
         "--key-maximum", str(keys - 1), "--key-pattern", "R:R", "--test-time", str(seconds),
         "--hide-histogram", "--print-percentiles", "50,99,99.9"],
        capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("Totals"):
            f = line.split()
            return {"ops": float(f[1]), "p50": float(f[5]), "p99": float(f[6]), "p999": float(f[7])}
    return {"ops": 0, "p50": 0, "p99": 0, "p999": 0}


def save_and_load(name, kind, keys):
    d = tempfile.mkdtemp(prefix="rdbbench-")
    try:
        p, _ = start(name, d)
        n = fill(kind, keys)
        c = redis.Redis(port=PORT)
        t0 = time.time()
        c.save()
        save_s = time.time() - t0
        size = os.path.getsize(os.path.join(d, "dump.rdb"))
        stop(p)
        p, load_s = start(name, d)
        loaded = redis.Redis(port=PORT).dbsize()
        stop(p)
        assert loaded == n, f"{name}: loaded {loaded} of {n}"
        return {"save_s": save_s, "load_s": load_s, "bytes": size, "keys": n}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def bgsave_under_load(name, keys, seconds):
    d = tempfile.mkdtemp(prefix="rdbbench-")
    try:
        p, _ = start(name, d)
        fill("strings", keys)
        c = redis.Redis(port=PORT)
        base_run = memtier(seconds, keys)
        before = pss(p.pid)
        peak = [before]
        saves = [0]
        done = threading.Event()

        def saver():
            time.sleep(0.5)
            while not done.is_set():
                info = c.info("persistence")
                if not info["rdb_bgsave_in_progress"]:
                    if saves[0] and done.is_set():
                        break
                    c.bgsave()
                    saves[0] += 1
                peak[0] = max(peak[0], pss(p.pid))
                time.sleep(0.01)

        t = threading.Thread(target=saver)
        t.start()
        save_run = memtier(seconds, keys)
        done.set()
        t.join()
        while c.info("persistence")["rdb_bgsave_in_progress"]:
            peak[0] = max(peak[0], pss(p.pid))
            time.sleep(0.01)
        stop(p)
        return {"before": before, "peak": peak[0], "saves": saves[0], "p99_base": base_run["p99"],
                "p99_save": save_run["p99"], "ops_base": base_run["ops"], "ops_save": save_run["ops"]}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "rdb"))
    ap.add_argument("--servers", default="percore,percore-2,redis")
    ap.add_argument("--no-bgsave", action="store_true", help="only SAVE and load times")
    a = ap.parse_args()
    servers = a.servers.split(",")
    rows = {}
    for rnd in range(a.rounds):
        for kind in ["strings", "mixed"]:
            for s in servers:
                r = save_and_load(s, kind, a.keys)
                print(f"round {rnd} {kind} {s}: {r}", flush=True)
                rows.setdefault((kind, s), []).append(r)
    bg = {}
    for rnd in range(0 if a.no_bgsave else a.rounds):
        for s in servers:
            r = bgsave_under_load(s, a.keys, a.seconds)
            print(f"round {rnd} bgsave {s}: {r}", flush=True)
            bg.setdefault(s, []).append(r)
    med = lambda xs: statistics.median(xs)
    lines = [f"# Snapshots: SAVE, load and BGSAVE under load", "",
             f"{datetime.date.today()}, {os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs, "
             f"redis-server {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}; "
             f"median of {a.rounds} rounds (scripts/rdbbench.py). percore 1 shard and redis-server pinned to CPU 0; "
             "percore 2 shards on CPUs 0-1; memtier on CPU 1.", "",
             "| dataset | server | keys | file MB | SAVE s | load s | SAVE vs redis | load vs redis |",
             "|---|---|---|---|---|---|---|---|"]
    for kind in ["strings", "mixed"]:
        rs = rows.get((kind, "redis"))
        for s in servers:
            r = rows[(kind, s)]
            sv, ld = med([x["save_s"] for x in r]), med([x["load_s"] for x in r])
            ratio = lambda v, k: f"{v / med([x[k] for x in rs]):.2f}x" if rs else "-"
            lines.append(f"| {kind} | {s} | {r[0]['keys']} | {r[0]['bytes'] / 1e6:.1f} | {sv:.3f} | {ld:.3f} | "
                         f"{ratio(sv, 'save_s')} | {ratio(ld, 'load_s')} |")
    lines += ["", f"BGSAVE repeated during a {a.seconds} s memtier run (GET:SET 1:1, 50 connections, 32-byte values, "
              f"{a.keys} keys), against a run without saves. Memory is PSS (server plus fork child).", "",
              "| server | saves | PSS before MB | peak PSS MB | peak/before | p99 ms without | p99 ms with saves | ops/s without | ops/s with |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in servers:
        if s not in bg:
            continue
        r = bg[s]
        b, pk = med([x["before"] for x in r]), med([x["peak"] for x in r])
        lines.append(f"| {s} | {med([x['saves'] for x in r]):.0f} | {b / 1e6:.0f} | {pk / 1e6:.0f} | {pk / b:.2f} | "
                     f"{med([x['p99_base'] for x in r]):.3f} | {med([x['p99_save'] for x in r]):.3f} | "
                     f"{med([x['ops_base'] for x in r]):.0f} | {med([x['ops_save'] for x in r]):.0f} |")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
