#!/usr/bin/env python3
"""The network benchmark users would run: memtier_benchmark and redis-benchmark (percore-loadgen
as a third opinion) against percore (1 and 2 shards), redis-server and valkey-server, in one
run, for 1, 50 and 500 connections at pipeline 1 and 16.

Servers are pinned to CPU 0 (percore 2 shards: its shards pin themselves to CPUs 0 and 1), the
load tool to CPU 1. Workload: GET:SET 10:1 (redis-benchmark: GET, which has no ratio), 32-byte
values, 100k keys preloaded. Per run: ops/s, p50/p99/p99.9 latency (as the tool reports it),
server CPU per op (utime+stime from /proc/PID/stat) and voluntary context switches per op (sum
over /proc/PID/task/*/status). Rounds alternate the servers; each figure is the median of the
rounds, and ratios compare percore with redis-server from the same rounds.

Writes benches/network/results.csv (every run) and benches/network/RESULTS.md, or under --out.
percore-loadgen runs in its epoll mode (each connection served as its reply arrives, as the other
two tools drive theirs); the tool name loadgen-poll runs its poll mode (each round's requests sent
together). PERCORE_OLD_BIN and the server name percore-old add another percore build to compare.

Usage: scripts/netbench.py [--rounds 3] [--duration 3] [--tools memtier,redis-benchmark,loadgen]
                           [--conns 1,50,500] [--pipelines 1,16]
                           [--servers percore,percore-2,redis,valkey] [--out DIR] [--no-build]
"""

import argparse
import csv
import datetime
import glob
import os
import platform
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the servers, tools and their parsers)

FIELDS = ["round", "tool", "server", "conns", "pipeline", "ops_per_sec", "p50_us", "p99_us", "p999_us",
          "server_cpu_us_per_op", "vcs_per_op", "ops", "seconds"]


def voluntary_switches(pid):
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def server_argv(name):
    if name == "percore":
        return ["taskset", "-c", "0", bench.PERCORE, "--shards", "1"]
    if name == "percore-old":
        # A build to compare with (PERCORE_OLD_BIN), e.g. the previous network core.
        old = os.environ.get("PERCORE_OLD_BIN")
        return ["taskset", "-c", "0", old, "--shards", "1"] if old else None
    if name == "percore-2":
        # Its two shards pin themselves, one per CPU.
        return [bench.PERCORE, "--shards", "2"]
    if name == "redis":
        return ["taskset", "-c", "0", "redis-server"]
    if name == "valkey":
        valkey = bench.valkey_binary()
        if not valkey:
            return None
        return ["taskset", "-c", "0", valkey]
    raise SystemExit(f"unknown server {name}")


def spec(pipeline, tool):
    op = "get" if tool == "redis-benchmark" else None
    return {"name": f"get:set 10:1 32B P{pipeline}", "kind": "getset", "ratio": "10:1", "size": 32,
            "pipeline": pipeline, "op": op,
            "args": ["--workload", "getset", "--ratio", "10:1", "--value-size", "32",
                     "--pipeline", str(pipeline)]}


def run_one(tool, srv, sp, duration):
    if tool == "redis-benchmark":
        requests = bench.redis_benchmark_requests(sp, duration)
    cpu0, vcs0 = srv.cpu_seconds(), voluntary_switches(srv.proc.pid)
    if tool == "memtier":
        r = bench.memtier(sp, duration)
    elif tool == "redis-benchmark":
        r = bench.redis_benchmark(sp, requests)
    else:
        io = "poll" if tool == "loadgen-poll" else "epoll"
        got = bench.loadgen(srv.name, sp["args"] + ["--conns", str(bench.CONNS), "--keys", str(bench.KEYS),
                                                     "--key-prefix", "lg:", "--io", io], duration)
        r = {"ops": int(got["ops"]), "seconds": float(got["seconds"]),
             "ops_per_sec": float(got["ops_per_sec"]), "p50_us": float(got["p50_us"]),
             "p99_us": float(got["p99_us"]), "p999_us": float(got["p999_us"])}
    cpu1, vcs1 = srv.cpu_seconds(), voluntary_switches(srv.proc.pid)
    ops = max(r["ops"], 1)
    return {"ops_per_sec": r["ops_per_sec"], "p50_us": r["p50_us"], "p99_us": r["p99_us"],
            "p999_us": r["p999_us"], "server_cpu_us_per_op": (cpu1 - cpu0) * 1e6 / ops,
            "vcs_per_op": (vcs1 - vcs0) / ops, "ops": ops, "seconds": r["seconds"]}


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) not in (None, "")]
    return statistics.median(vals) if vals else None


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, float) and v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--tools", default="memtier,redis-benchmark,loadgen")
    ap.add_argument("--conns", default="1,50,500")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--servers", default="percore,percore-2,redis,valkey")
    ap.add_argument("--out", default=os.path.join(bench.ROOT, "benches", "network"))
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    bench.OUT = a.out
    os.makedirs(a.out, exist_ok=True)
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "percore-server", "-p", "loadgen"], check=True,
                       cwd=bench.ROOT)
    tools = a.tools.split(",")
    for t in tools:
        if not t.startswith("loadgen"):
            bench.tool_path(t)
    servers = [s for s in a.servers.split(",") if server_argv(s)]
    conns = [int(c) for c in a.conns.split(",")]
    pipelines = [int(p) for p in a.pipelines.split(",")]
    rows = []
    csv_path = os.path.join(a.out, "results.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for rnd in range(a.rounds):
            for name in servers:
                srv = bench.Server(name, server_argv(name))
                try:
                    # memtier's key:1..N, percore-loadgen's key:0..N-1, redis-benchmark's -r names.
                    bench.preload_keys(srv, [b"key:%d" % i for i in range(bench.KEYS + 1)], 32)
                    bench.preload_keys(srv, [b"key:%012d" % i for i in range(bench.KEYS)], 32)
                    if any(t.startswith("loadgen") for t in tools):  # its own values (it checks every reply), apart
                        bench.loadgen(name, ["--preload", "--keys", str(bench.KEYS), "--value-size", "32",
                                             "--requests", "1", "--conns", "1", "--key-prefix", "lg:"], None)
                    for tool in tools:
                        for c in conns:
                            for p in pipelines:
                                bench.CONNS = c
                                r = run_one(tool, srv, spec(p, tool), a.duration)
                                r.update({"round": rnd + 1, "tool": tool, "server": name, "conns": c,
                                          "pipeline": p})
                                rows.append(r)
                                w.writerow(r)
                                f.flush()
                                bench.log(f"round {rnd + 1} {tool} {name} c={c} P{p}: "
                                          f"{r['ops_per_sec']:,.0f} ops/s, "
                                          f"{r['server_cpu_us_per_op']:.2f} us/op, "
                                          f"{r['vcs_per_op']:.4f} vcs/op, p99 {r['p99_us']:.0f} us")
                finally:
                    srv.stop()
    write_md(a, rows, tools, servers, conns, pipelines)


def write_md(a, rows, tools, servers, conns, pipelines):
    def pick(tool, name, c, p):
        return [r for r in rows if (r["tool"], r["server"], r["conns"], r["pipeline"]) == (tool, name, c, p)]

    lines = ["# Network benchmark", "",
             f"Generated by `scripts/netbench.py` on {datetime.date.today()}: {platform.node()}, "
             f"{os.cpu_count()} CPUs, Linux {platform.release()}. Servers on CPU 0 (percore-2: shards on "
             f"CPUs 0 and 1), load tool on CPU 1. GET:SET 10:1 (redis-benchmark: GET), 32-byte values, "
             f"100k keys preloaded, {a.duration:g} s per run, medians of {a.rounds} rounds alternating the "
             f"servers. CPU = server CPU time per op; vcs = voluntary context switches per op; ratios are "
             f"percore (1 shard) / redis from the same rounds. percore-loadgen runs in its epoll mode (each "
             f"connection sends its next request as its reply arrives, as memtier and redis-benchmark do); "
             f"loadgen-poll is its poll mode. percore-old, when present, is the build named by "
             f"PERCORE_OLD_BIN.", ""]
    versions = {}
    for tool in tools:
        versions.update(bench.versions("loadgen" if tool.startswith("loadgen") else tool))
    lines += [f"- {k}: `{v}`" for k, v in versions.items()] + [""]
    for tool in tools:
        lines += [f"## {tool}", "",
                  "| conns | P | server | ops/s | p50 µs | p99 µs | p99.9 µs | CPU µs/op | vcs/op |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for c in conns:
            for p in pipelines:
                for name in servers:
                    rs = pick(tool, name, c, p)
                    if not rs:
                        continue
                    lines.append(f"| {c} | {p} | {name} | {fmt(med(rs, 'ops_per_sec'), 0)} | "
                                 f"{fmt(med(rs, 'p50_us'), 0)} | {fmt(med(rs, 'p99_us'), 0)} | "
                                 f"{fmt(med(rs, 'p999_us'), 0)} | {fmt(med(rs, 'server_cpu_us_per_op'))} | "
                                 f"{fmt(med(rs, 'vcs_per_op'), 4)} |")
        lines += ["", "percore (1 shard) / redis, same rounds:", "",
                  "| conns | P | CPU per op | ops/s | p50 | p99 |", "|---|---|---|---|---|---|"]
        for c in conns:
            for p in pipelines:
                pc, rd = pick(tool, "percore", c, p), pick(tool, "redis", c, p)
                if not pc or not rd:
                    continue
                ratio = [fmt(med(pc, k) / med(rd, k)) if med(pc, k) and med(rd, k) else "-"
                         for k in ("server_cpu_us_per_op", "ops_per_sec", "p50_us", "p99_us")]
                lines.append(f"| {c} | {p} | " + " | ".join(ratio) + " |")
        lines.append("")
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    bench.log(f"wrote {a.out}/RESULTS.md and results.csv")


if __name__ == "__main__":
    main()
