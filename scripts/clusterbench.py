#!/usr/bin/env python3
"""Cluster mode (issue 19): percore nodes against redis-server nodes, same run. Every node is
pinned to CPU 0, the load (memtier_benchmark, redis-cli) to CPU 1.

1. Server CPU per op: three masters made by `redis-cli --cluster create`, memtier_benchmark
   --cluster-mode (GET:SET 1:1, 32-byte values, 100,000 keys preloaded, 50 connections,
   pipeline 1 and 16, 4 s); the three nodes' CPU time over the operations.
2. Resharding: two masters (all slots on the first), 1,000,000 keys written by memtier, then
   `redis-cli --cluster reshard` of every slot to the second node (MIGRATE, pipeline 10):
   the time it takes.

Medians of ROUNDS rounds (the reshard runs once per round too).
Usage: scripts/clusterbench.py [--rounds 3] [--reshard-keys 1000000]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

BASE = 7480


class Node:
    def __init__(self, name, port):
        self.dir = tempfile.mkdtemp(prefix="clusterbench-")
        self.port = port
        if name == "percore":
            argv = [bench.PERCORE, "--shards", "1"]
        else:
            argv = [shutil.which("redis-server")]
        args = ["taskset", "-c", bench.SERVER_CPUS] + argv + [
            "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.dir, "--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.cmd("PING").startswith("PONG"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not start on {port}")

    def cmd(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), capture_output=True, text=True)
        return r.stdout.strip()

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / bench.TICK

    def stop(self):
        self.cmd("SHUTDOWN", "NOSAVE")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_ok(nodes, known):
    deadline = time.time() + 60
    while time.time() < deadline:
        infos = [n.cmd("CLUSTER", "INFO") for n in nodes]
        if all("cluster_state:ok" in i and f"cluster_known_nodes:{known}" in i for i in infos):
            return
        time.sleep(0.2)
    raise RuntimeError("cluster did not come up")


def memtier(port, extra):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.json")
        argv = ["taskset", "-c", bench.LOAD_CPUS, "memtier_benchmark", "-s", "127.0.0.1", "-p", str(port),
                "--cluster-mode", "--hide-histogram", "-t", "1", "-d", "32", "--key-prefix=key:",
                f"--json-out-file={path}"] + extra
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-2000:])
        with open(path) as f:
            return json.load(f)["ALL STATS"]


def cpu_per_op(name, rows):
    nodes = [Node(name, BASE + i) for i in range(3)]
    try:
        out = subprocess.run(["taskset", "-c", bench.LOAD_CPUS, "redis-cli", "--cluster", "create"]
                             + [f"127.0.0.1:{n.port}" for n in nodes] + ["--cluster-yes"],
                             capture_output=True, text=True).stdout
        assert "[OK] All 16384 slots covered." in out, out
        wait_ok(nodes, 3)
        memtier(nodes[0].port, ["-c", "50", "--ratio=1:0", "--key-pattern=P:P", "--key-minimum=1",
                                "--key-maximum=100000", "--requests=allkeys"])
        for pipeline in (1, 16):
            before = sum(n.cpu() for n in nodes)
            stats = memtier(nodes[0].port, ["-c", "50", "--ratio=1:1", "--key-pattern=R:R",
                                            "--key-minimum=1", "--key-maximum=100000",
                                            f"--pipeline={pipeline}", "--test-time=4",
                                            "--distinct-client-seed"])
            used = sum(n.cpu() for n in nodes) - before
            ops = stats["Totals"]["Count"]
            rows.setdefault((name, f"GET:SET 1:1 P{pipeline} server CPU us/op"), []).append(used / ops * 1e6)
            rows.setdefault((name, f"GET:SET 1:1 P{pipeline} ops/s"), []).append(stats["Totals"]["Ops/sec"])
    finally:
        for n in nodes:
            n.stop()


def reshard_time(name, keys, rows):
    a, b = Node(name, BASE + 10), Node(name, BASE + 11)
    try:
        a.cmd("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        a.cmd("CLUSTER", "MEET", "127.0.0.1", str(b.port))
        wait_ok([a, b], 2)
        memtier(a.port, ["-c", "20", "--pipeline=32", "--ratio=1:0", "--key-pattern=P:P", "--key-minimum=1",
                         f"--key-maximum={keys}", "--requests=allkeys"])
        held = int(a.cmd("DBSIZE"))
        start = time.time()
        r = subprocess.run(["taskset", "-c", bench.LOAD_CPUS, "redis-cli", "--cluster", "reshard",
                            f"127.0.0.1:{a.port}", "--cluster-from", a.cmd("CLUSTER", "MYID"),
                            "--cluster-to", b.cmd("CLUSTER", "MYID"), "--cluster-slots", "16384",
                            "--cluster-yes"], capture_output=True, text=True)
        took = time.time() - start
        assert r.returncode == 0 and "[ERR]" not in r.stdout, r.stdout[-2000:]
        moved = int(b.cmd("DBSIZE"))
        assert moved == held and int(a.cmd("DBSIZE")) == 0, (held, moved)
        rows.setdefault((name, f"reshard {held:,} keys, s"), []).append(took)
    finally:
        a.stop()
        b.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reshard-keys", type=int, default=1_000_000)
    a = ap.parse_args()
    rows = {}
    for rnd in range(a.rounds):
        for name in ("percore", "redis"):
            cpu_per_op(name, rows)
            reshard_time(name, a.reshard_keys, rows)
            print(f"round {rnd + 1} {name} done", flush=True)
    metrics = sorted({m for (_, m) in rows}, key=lambda m: (not m.startswith("GET"), m))
    print(f"cluster mode, {a.rounds} rounds (medians)")
    print("| metric | percore | redis | percore/redis |")
    print("|---|---|---|---|")
    for m in metrics:
        p = statistics.median(rows[("percore", m)])
        r = statistics.median(rows[("redis", m)])
        print(f"| {m} | {p:,.2f} | {r:,.2f} | {p / r:.2f} |")


if __name__ == "__main__":
    main()
