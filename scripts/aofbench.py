#!/usr/bin/env python3
"""AOF benchmark: percore against redis-server with the same fsync policy, in one run.

1. everysec: server CPU per operation under memtier_benchmark (GET:SET 1:1, 50 connections,
   32-byte values, 100k keys, pipeline 1 and 16) with appendonly yes (everysec) against
   appendonly no, for percore (1 shard) and redis-server, both pinned to CPU 0, memtier on
   CPU 1. The figure: CPU with the AOF over CPU without, per server.
2. always: write throughput (memtier SET only, 50 connections, pipeline 1) with
   appendfsync always: percore 1 shard (CPU 0), percore 2 shards (CPUs 0-1), redis-server
   (CPU 0); memtier on CPU 1.
3. Load: the AOF of 1M SETs (32-byte values, sent with redis-cli --pipe, no rewrite) loaded
   at start: the time from the server's start until it answers PING.

Server CPU is utime+stime of the whole process (every thread, the fsync threads too) from
/proc/PID/stat. Each figure is the median of the rounds; servers alternate within a round.
Needs redis-py, redis-server, redis-cli and memtier_benchmark.
Usage: scripts/aofbench.py [--rounds 3] [--duration 5] [--keys 1000000] [--out benches/aof]
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERCORE = os.environ.get("PERCORE_BIN") or os.path.join(ROOT, "target", "release", "percore-server")
PORT = 7595
TICK = os.sysconf("SC_CLK_TCK")


def argv(name, d, aof, fsync="everysec"):
    common = ["--port", str(PORT), "--bind", "127.0.0.1", "--dir", d, "--save", "",
              "--appendonly", aof, "--appendfsync", fsync, "--auto-aof-rewrite-percentage", "0"]
    if name == "percore":
        return ["taskset", "-c", "0", PERCORE, "--shards", "1"] + common
    if name == "percore-2":
        return [PERCORE, "--shards", "2"] + common
    return ["taskset", "-c", "0", "redis-server"] + common


def start(cmd):
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(port=PORT)
    while True:
        try:
            if c.ping():
                return p, time.time() - t0
        except (redis.ConnectionError, redis.BusyLoadingError, redis.ResponseError):
            pass
        if p.poll() is not None:
            sys.exit(f"{cmd} exited during start")
        time.sleep(0.002)


def stop(p):
    p.kill()
    p.wait()


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memtier(args, duration):
    cmd = ["taskset", "-c", "1", "memtier_benchmark", "-s", "127.0.0.1", "-p", str(PORT),
           "-t", "1", "-c", "50", "-d", "32", "--key-minimum", "1", "--key-maximum", "100000",
           "--test-time", str(duration), "--hide-histogram"] + args
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Totals"):
            return float(line.split()[1])
    sys.exit(f"memtier gave no totals: {out[-500:]}")


def preload():
    c = redis.Redis(port=PORT)
    pipe = c.pipeline(transaction=False)
    for i in range(1, 100_001):
        pipe.set(f"memtier-{i}", b"x" * 32)
        if i % 5000 == 0:
            pipe.execute()
    pipe.execute()


def everysec(rounds, duration):
    rows = {}
    for _ in range(rounds):
        for name in ["percore", "redis"]:
            for aof in ["no", "yes"]:
                d = tempfile.mkdtemp(prefix="aofbench-")
                p, _ = start(argv(name, d, aof))
                preload()
                for pl in [1, 16]:
                    c0 = cpu(p.pid)
                    ops = memtier(["--ratio", "1:1", "--pipeline", str(pl)], duration)
                    c1 = cpu(p.pid)
                    rows.setdefault((name, aof, pl), []).append((ops, (c1 - c0) * 1e6 / (ops * duration)))
                stop(p)
                shutil.rmtree(d, ignore_errors=True)
    return rows


def always(rounds, duration):
    """SET-only runs: `always` on the disk, `always` on tmpfs (/dev/shm: an fsync costs
    next to nothing, so the run shows the CPU side), and the AOF off."""
    rows = {}
    for _ in range(rounds):
        for name in ["percore", "percore-2", "redis"]:
            for where, aof in [("disk", "yes"), ("tmpfs", "yes"), ("off", "no")]:
                d = tempfile.mkdtemp(prefix="aofbench-", dir="/dev/shm" if where == "tmpfs" else None)
                p, _ = start(argv(name, d, aof, "always"))
                c0 = cpu(p.pid)
                ops = memtier(["--ratio", "1:0", "--pipeline", "1"], duration)
                c1 = cpu(p.pid)
                rows.setdefault((name, where), []).append((ops, (c1 - c0) * 1e6 / (ops * duration)))
                stop(p)
                shutil.rmtree(d, ignore_errors=True)
    return rows


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def load(rounds, keys):
    value = b"x" * 16 + b"0123456789abcdef"
    stream = b"".join(resp(b"SET", b"key:%d" % i, value) for i in range(keys))
    rows = {}
    for name in ["percore", "percore-2", "redis"]:
        d = tempfile.mkdtemp(prefix="aofbench-")
        p, _ = start(argv(name, d, "yes", "no"))
        subprocess.run(["redis-cli", "-p", str(PORT), "--pipe"], input=stream,
                       capture_output=True, check=True)
        n = redis.Redis(port=PORT).dbsize()
        assert n == keys, f"{name}: {n} keys"
        size = sum(os.path.getsize(os.path.join(d, "appendonlydir", f))
                   for f in os.listdir(os.path.join(d, "appendonlydir")))
        stop(p)
        for _ in range(rounds):
            p, secs = start(argv(name, d, "yes", "no"))
            n = redis.Redis(port=PORT).dbsize()
            assert n == keys, f"{name} after load: {n} keys"
            rows.setdefault(name, []).append((secs, size))
            stop(p)
        shutil.rmtree(d, ignore_errors=True)
    return rows


def med(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "aof"))
    a = ap.parse_args()
    redis_ver = re.search(r"v=(\S+)", subprocess.run(["redis-server", "--version"], capture_output=True,
                                                    text=True).stdout).group(1)
    ev = everysec(a.rounds, a.duration)
    al = always(a.rounds, a.duration)
    ld = load(a.rounds, a.keys)
    lines = [
        "# The AOF: cost of everysec, write throughput under always, load time",
        "",
        f"{datetime.date.today()}, Linux {platform.release()}, {os.cpu_count()} CPUs, redis-server "
        f"v={redis_ver}; median of {a.rounds} rounds (scripts/aofbench.py). percore 1 shard and "
        "redis-server pinned to CPU 0, percore 2 shards on CPUs 0-1, memtier_benchmark on CPU 1 "
        "(50 connections, 32-byte values, 100k keys). Server CPU per op counts every thread.",
        "",
        "## appendfsync everysec against appendonly no (memtier GET:SET 1:1)",
        "",
        "| server | pipeline | ops/s AOF off | ops/s everysec | CPU/op µs off | CPU/op µs everysec | everysec/off |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ["percore", "redis"]:
        for pl in [1, 16]:
            off, on = ev[(name, "no", pl)], ev[(name, "yes", pl)]
            c_off, c_on = med([x[1] for x in off]), med([x[1] for x in on])
            lines.append(f"| {name} | {pl} | {med([x[0] for x in off]):.0f} | {med([x[0] for x in on]):.0f} "
                         f"| {c_off:.3f} | {c_on:.3f} | {c_on / c_off:.2f}x |")
    lines += [
        "",
        "## appendfsync always: writes (memtier SET only, pipeline 1)",
        "",
        "| server | ops/s always, disk | CPU/op µs | vs redis-server | ops/s always, tmpfs | CPU/op µs | ops/s AOF off |",
        "|---|---|---|---|---|---|---|",
    ]
    r_ops = med([x[0] for x in al[("redis", "disk")]])
    for name in ["percore", "percore-2", "redis"]:
        ops = med([x[0] for x in al[(name, "disk")]])
        lines.append(f"| {name} | {ops:.0f} | {med([x[1] for x in al[(name, 'disk')]]):.2f} | {ops / r_ops:.2f}x "
                     f"| {med([x[0] for x in al[(name, 'tmpfs')]]):.0f} | {med([x[1] for x in al[(name, 'tmpfs')]]):.2f} "
                     f"| {med([x[0] for x in al[(name, 'off')]]):.0f} |")
    p1 = med([x[0] for x in al[("percore", "disk")]])
    p2 = med([x[0] for x in al[("percore-2", "disk")]])
    o1 = med([x[0] for x in al[("percore", "off")]])
    o2 = med([x[0] for x in al[("percore-2", "off")]])
    lines += ["", f"Two shards against one: {p2 / p1:.2f}x with `always` on the disk, {o2 / o1:.2f}x with the "
              "AOF off (the load generator shares CPU 1 with the second shard).", "",
              f"## Load at start: the AOF of {a.keys} SETs", "",
              "| server | AOF MB | start to first PING s | vs redis-server |", "|---|---|---|---|"]
    r_load = med([x[0] for x in ld["redis"]])
    for name in ["percore", "percore-2", "redis"]:
        secs = med([x[0] for x in ld[name]])
        lines.append(f"| {name} | {ld[name][0][1] / 1e6:.1f} | {secs:.3f} | {secs / r_load:.2f}x |")
    os.makedirs(a.out, exist_ok=True)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
