#!/usr/bin/env python3
"""Single commands as users run them (issue 16's families): memtier_benchmark sending one
command template to percore (one shard) and redis-server (and valkey-server when installed)
in the same run, server pinned to CPU 0 and memtier to CPU 1, 50 connections, pipeline 1 and
16. Workloads run in order on one server process, so a later one reads what an earlier one
wrote (BITCOUNT counts the bits SETBIT set). Reports ops/s and server CPU per op
(utime+stime from /proc), the median of the rounds, and the ratios to redis-server.

Usage: scripts/cmdbench.py [--rounds 3] [--duration 4] [--family bitmap] [--out DIR]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the servers and their CPU accounting)

# Family -> [(workload, memtier command template)], run in this order.
FAMILIES = {
    "bitmap": [
        ("setbit", "setbit __key__ 1023 1"),
        ("bitcount", "bitcount __key__"),
        ("bitpos", "bitpos __key__ 1"),
    ],
    "geo": [
        ("geoadd", "geoadd __key__ 13.361389 38.115556 m"),
        ("geopos", "geopos __key__ m"),
        ("geodist", "geodist __key__ m m km"),
    ],
    # One sorted set of 100,000 points (geo_points), searched around its members.
    "geosearch": [
        ("geosearch radius", "geosearch city frommember __key__ byradius 10 km count 10 asc"),
        ("geosearch box", "geosearch city frommember __key__ bybox 20 20 km asc"),
        ("georadius_ro", "georadius_ro city 5 45 10 km withdist"),
    ],
    # 100,000 small streams (XADD, XRANGE, XREAD, XLEN on random keys), one long capped
    # stream, and consumers reading a preloaded queue (stream_jobs) a new entry at a time.
    "stream": [
        ("xadd", "xadd __key__ * f __data__"),
        ("xadd capped", "xadd events maxlen ~ 100000 * f __data__ n 1"),
        ("xrange", "xrange __key__ - + count 10"),
        ("xread", "xread count 10 streams __key__ 0"),
        ("xlen", "xlen __key__"),
        ("xreadgroup", "xreadgroup group g __key__ count 1 streams jobs >"),
    ],
    "hyperloglog": [
        ("pfadd", "pfadd __key__ __data__"),
        ("pfcount", "pfcount __key__"),
    ],
}


def geo_points(srv):
    """GEOADD city: memtier-0 .. memtier-100000 spread over 10 x 10 degrees (about 40 points
    within 10 km of each), 1000 per command; written before the rounds, so not charged."""
    import random
    rnd = random.Random(16)
    for start in range(0, 100001, 1000):
        words = [b"GEOADD", b"city"]
        for i in range(start, min(start + 1000, 100001)):
            words += [b"%.6f" % rnd.uniform(0, 10), b"%.6f" % rnd.uniform(40, 50), b"memtier-%d" % i]
        reply = bench.command(srv.sock, *words)
        if not reply.startswith(b":"):
            raise RuntimeError(f"{srv.name}: GEOADD failed: {reply[:200]!r}")


def pipelined(srv, commands, lines_per_reply):
    """Sends the commands (lists of words) in batches of 1000 and reads their replies, each
    `lines_per_reply` CRLF-ended lines (2 for a bulk string); fails on an error reply."""
    for start in range(0, len(commands), 1000):
        batch = commands[start:start + 1000]
        srv.sock.sendall(b"".join(
            b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in c)
            for c in batch))
        want, data = len(batch) * lines_per_reply, b""
        while data.count(b"\r\n") < want:
            chunk = srv.sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"-") or b"\r\n-" in data:
            raise RuntimeError(f"{srv.name}: {data[:200]!r}")


def stream_jobs(srv):
    """XADD jobs: 1,500,000 entries (more than the consumers read in a round) and the group g
    that the xreadgroup workload's consumers (one per key name) read new entries from."""
    pipelined(srv, [[b"XADD", b"jobs", b"%d-1" % (i + 1), b"job", b"payload-%d" % i]
                    for i in range(1_500_000)], 2)
    pipelined(srv, [[b"XGROUP", b"CREATE", b"jobs", b"g", b"0"]], 1)


# Family -> what the workloads expect to find loaded.
SETUP = {"geosearch": geo_points, "stream": stream_jobs}


def memtier(command, pipeline, duration):
    return memtier_keys(command, pipeline, duration, 100_000)


def memtier_keys(command, pipeline, duration, keys, pattern="R", first=0):
    argv = ["taskset", "-c", bench.LOAD_CPUS, "memtier_benchmark", "-s", "127.0.0.1",
            "-p", str(bench.PORT), "--hide-histogram", "-t", "1", "-c", "50",
            "--pipeline", str(pipeline), f"--test-time={duration}",
            f"--command={command}", f"--command-key-pattern={pattern}", f"--key-maximum={keys}",
            "--random-data"]
    if first:
        argv.append(f"--key-minimum={first}")
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    total = [line for line in out.splitlines() if line.startswith("Totals")]
    ops = float(total[-1].split()[1])
    m = re.search(r"(\d+) total ops", out)
    return ops, (int(m.group(1)) if m else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--family", default="bitmap", choices=sorted(FAMILIES))
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--out", default=None, help="default: benches/<family>")
    a = ap.parse_args()
    out_dir = a.out or os.path.join(bench.ROOT, "benches", a.family)
    bench.OUT = out_dir
    pipelines = [int(p) for p in a.pipelines.split(",")]
    cmds = bench.server_cmds()
    servers = [s for s in ("percore", "redis", "valkey") if s in cmds]
    workloads = FAMILIES[a.family]
    rows = {}
    for rnd in range(a.rounds):
        for name in servers:
            for pipeline in pipelines:
                srv = bench.Server(name, cmds[name])
                try:
                    if a.family in SETUP:
                        SETUP[a.family](srv)
                    for work, command in workloads:
                        cpu0 = srv.cpu_seconds()
                        ops, total = memtier(command, pipeline, a.duration)
                        cpu = srv.cpu_seconds() - cpu0
                        calls = total or ops * a.duration
                        rows.setdefault((work, pipeline, name), []).append((ops, cpu / calls * 1e6))
                        print(f"round {rnd} {name} {work} P{pipeline}: {ops:.0f} ops/s, "
                              f"{cpu / calls * 1e6:.2f} us CPU/op", flush=True)
                finally:
                    srv.stop()
    os.makedirs(out_dir, exist_ok=True)
    lines = [f"# {a.family}: percore (1 shard) vs redis-server, same run", "",
             f"`scripts/cmdbench.py --family {a.family}`: memtier_benchmark, 50 connections, "
             f"{a.rounds} rounds of {a.duration} s, 100,000 keys, server on CPU 0, memtier on "
             "CPU 1; medians. Ratios are to redis-server.", "",
             "| workload | pipeline | server | ops/s | ops ratio | CPU/op (µs) | CPU ratio |",
             "|---|---|---|---|---|---|---|"]
    for work, command in workloads:
        for pipeline in pipelines:
            r = rows[(work, pipeline, "redis")]
            ro, rc = statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
            for name in servers:
                p = rows[(work, pipeline, name)]
                po, pc = statistics.median(x[0] for x in p), statistics.median(x[1] for x in p)
                lines.append(f"| `{command}` | {pipeline} | {name} | {po:.0f} | {po / ro:.2f} | "
                             f"{pc:.2f} | {pc / rc:.2f} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
