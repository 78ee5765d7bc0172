#!/usr/bin/env python3
"""EVALSHA as users run it (issue 15): memtier_benchmark sending EVALSHA of two small scripts
to percore (one shard) and redis-server in the same run, server pinned to CPU 0 and memtier
to CPU 1, 50 connections, pipeline 1 and 16. Scripts: INCR + EXPIRE of one key, and a
two-key script whose keys share a hash tag (INCR one, SET the other to its value). Reports
ops/s and server CPU per call (utime+stime from /proc), the median of the rounds, and the
ratios percore / redis-server.

Usage: scripts/evalbench.py [--rounds 3] [--duration 5] [--out benches/scripting]
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the servers and their CPU accounting)
import cmdbench  # noqa: E402  (memtier with one command template)

SCRIPTS = {
    "incr-expire": ("redis.call('incr', KEYS[1]); return redis.call('expire', KEYS[1], 100)", 1),
    "two-keys-tag": (
        "local n = redis.call('incr', KEYS[1]); redis.call('set', KEYS[2], n); return n",
        2,
    ),
}


def memtier(sha, nkeys, pipeline, duration):
    keys = ["{__key__}a", "{__key__}b"][:nkeys] if nkeys == 2 else ["__key__"]
    return cmdbench.memtier(" ".join(["evalsha", sha, str(nkeys)] + keys), pipeline, duration)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(bench.ROOT, "benches", "scripting"))
    ap.add_argument("--pipelines", default="1,16", help="comma-separated pipeline depths")
    ap.add_argument("--no-valkey", action="store_true", help="leave valkey-server out")
    ap.add_argument("--baseline", help="another percore-server binary, measured in the same "
                    "run as percore-base (before/after a change)")
    a = ap.parse_args()
    bench.OUT = a.out
    pipelines = [int(p) for p in a.pipelines.split(",")]
    cmds = bench.server_cmds()
    servers = ["percore", "redis"]
    if "valkey" in cmds and not a.no_valkey:
        servers.append("valkey")
    if a.baseline:
        cmds["percore-base"] = [a.baseline if w == bench.PERCORE else w for w in cmds["percore"]]
        servers.insert(1, "percore-base")
    rows = {}
    for rnd in range(a.rounds):
        for name in servers:
            for script, (body, nkeys) in SCRIPTS.items():
                for pipeline in pipelines:
                    srv = bench.Server(name, cmds[name])
                    try:
                        sha = bench.command(srv.sock, "SCRIPT", "LOAD", body).split(b"\r\n")[1].decode()
                        cpu0 = srv.cpu_seconds()
                        ops, total = memtier(sha, nkeys, pipeline, a.duration)
                        cpu = srv.cpu_seconds() - cpu0
                    finally:
                        srv.stop()
                    calls = total or ops * a.duration
                    rows.setdefault((script, pipeline, name), []).append((ops, cpu / calls * 1e6))
                    print(f"round {rnd} {name} {script} P{pipeline}: {ops:.0f} ops/s, "
                          f"{cpu / calls * 1e6:.2f} us CPU/call", flush=True)
    os.makedirs(a.out, exist_ok=True)
    lines = ["# EVALSHA, percore (1 shard) vs redis-server, same run", "",
             f"memtier_benchmark, 50 connections, {a.rounds} rounds of {a.duration} s, server on CPU 0, "
             "memtier on CPU 1; medians.", "",
             "| script | pipeline | percore ops/s | redis ops/s | ops ratio | percore CPU/call (µs) | redis CPU/call (µs) | CPU ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for script in SCRIPTS:
        for pipeline in pipelines:
            r = rows[(script, pipeline, "redis")]
            ro, rc = statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
            for name in [s for s in servers if s != "redis"]:
                p = rows[(script, pipeline, name)]
                po, pc = statistics.median(x[0] for x in p), statistics.median(x[1] for x in p)
                label = script if name == "percore" else f"{script} ({name})"
                lines.append(f"| {label} | {pipeline} | {po:.0f} | {ro:.0f} | {po / ro:.2f} | "
                             f"{pc:.2f} | {rc:.2f} | {pc / rc:.2f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
