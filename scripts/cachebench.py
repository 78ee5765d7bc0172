#!/usr/bin/env python3
"""A cache under maxmemory (issue 17), percore against redis-server (and valkey-server when
installed), same run, same limit and policy; server pinned to CPU 0, load on CPU 1.

1. Hit ratio: a cache-aside client (GET; on a miss, SET) over a key space several times
   larger than fits, keys drawn from a Gaussian (memtier's G pattern: mean in the middle,
   standard deviation a sixth of the range), 32-byte values, in pipelined batches of 1,000
   GETs then the SETs of their misses. A warm-up of WARM requests, then MEASURE requests
   counted. The same seeded key sequence for every server.
2. Writes under eviction: memtier_benchmark SETs of new keys (pattern P: each connection
   walks its own part of the keys; memtier's R pattern gives every connection the same
   sequence, 16,000 distinct keys in all), after a fill to the limit (3 s at pipeline 16, not
   measured), so every measured write evicts; pipeline 1 and 16, 50 connections: ops/s and
   server CPU per op, and RSS at the end against maxmemory.
3. With --burst: eviction that cannot keep up. After the same fill with 32-byte values,
   10 connections SET 256 KB values (each write needs about 2,500 small keys evicted) for
   4 s; used_memory and RSS sampled every 10 ms: their peaks, and SETs/s. Pipeline 1 (the
   default) or --burst-pipeline N (then the clients' own pipelined values, up to N x 256 KB
   a connection, are query buffers the server holds and counts).

Medians of ROUNDS rounds. Usage: scripts/cachebench.py [--maxmemory 64mb] [--policy allkeys-lru]
[--keys 3000000] [--rounds 3] [--shards 1] [--writes-only] [--fill 3] [--burst]
"""
import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import cmdbench  # noqa: E402  (memtier runner)

VALUE = b"x" * 32


def key_sequence(n, keys, seed):
    rnd = random.Random(seed)
    mid, sd = keys / 2, keys / 6
    out = []
    while len(out) < n:
        k = int(rnd.gauss(mid, sd))
        if 0 <= k < keys:
            out.append(b"key:%d" % k)
    return out


def read_replies(sock, n, buf):
    """Reads `n` replies to GETs of 32-byte values (or nil) or to SETs; returns how many were
    hits (bulk strings) and the unread rest of the buffer."""
    hits = 0
    pos = 0
    done = 0
    while done < n:
        while True:
            end = buf.find(b"\r\n", pos)
            if end >= 0:
                break
            buf = buf[pos:] + sock.recv(1 << 20)
            pos = 0
        head = buf[pos:end]
        if head.startswith(b"$") and head != b"$-1":
            size = int(head[1:])
            while len(buf) < end + 2 + size + 2:
                buf += sock.recv(1 << 20)
            pos = end + 2 + size + 2
            hits += 1
        elif head.startswith(b"-"):
            raise RuntimeError(head.decode())
        else:
            pos = end + 2
        done += 1
    return hits, buf[pos:]


def cache_aside(port, seq, count_from):
    sock = socket.create_connection(("127.0.0.1", port))
    buf = b""
    hits = requests = 0
    for start in range(0, len(seq), 1000):
        batch = seq[start:start + 1000]
        sock.sendall(b"".join(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k) for k in batch))
        # Which were misses: read each reply in order.
        missed = []
        for k in batch:
            h, buf = read_replies(sock, 1, buf)
            if not h:
                missed.append(k)
        if missed:
            sock.sendall(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n" % (len(k), k, VALUE)
                                  for k in missed))
            _, buf = read_replies(sock, len(missed), buf)
        if start >= count_from:
            requests += len(batch)
            hits += len(batch) - len(missed)
    sock.close()
    return hits / max(requests, 1)


def burst(name, srv, pipeline):
    """Part 3: peaks of used_memory and RSS while 256 KB values replace small keys."""
    cmdbench.memtier_keys("set __key__ __data__", 16, 3, 4_999_999, "P")
    stop = threading.Event()
    peaks = {"used": 0, "rss": 0}

    def sample():
        sock = socket.create_connection(("127.0.0.1", bench.PORT))
        while not stop.is_set():
            info = bench.command(sock, "INFO", "memory").decode(errors="replace")
            used = int(info.split("used_memory:")[1].split("\r\n")[0])
            peaks["used"] = max(peaks["used"], used)
            peaks["rss"] = max(peaks["rss"], srv.rss())
            time.sleep(0.01)

    th = threading.Thread(target=sample)
    th.start()
    argv = ["taskset", "-c", bench.LOAD_CPUS, "memtier_benchmark", "-s", "127.0.0.1",
            "-p", str(bench.PORT), "--hide-histogram", "-t", "1", "-c", "10",
            "--pipeline", str(pipeline), "--test-time=4", "--ratio=1:0", "--key-pattern=P:P",
            "--key-minimum=5000000", "--key-maximum=9999999", "--data-size=262144"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    finally:
        stop.set()
        th.join()
    ops = float([line for line in out.splitlines() if line.startswith("Totals")][-1].split()[1])
    return {"burst peak used_memory MB": peaks["used"] / 1e6, "burst peak RSS MB": peaks["rss"] / 1e6,
            "burst end RSS MB": srv.rss() / 1e6, "burst SET/s": ops}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--maxmemory", default="64mb")
    ap.add_argument("--policy", default="allkeys-lru")
    ap.add_argument("--keys", type=int, default=3_000_000)
    ap.add_argument("--warm", type=int, default=2_000_000)
    ap.add_argument("--measure", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shards", default="1")
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--fill", type=int, default=3, help="seconds of writes before measuring (enough to reach the limit)")
    ap.add_argument("--writes-only", action="store_true", help="skip the hit-ratio part")
    ap.add_argument("--burst", action="store_true", help="only part 3: 256 KB values replacing small keys")
    ap.add_argument("--burst-pipeline", type=int, default=1)
    a = ap.parse_args()
    seq = key_sequence(a.warm + a.measure, a.keys, 17)
    cmds = bench.server_cmds()
    cmds["percore"][-1] = a.shards
    limit = ["--maxmemory", a.maxmemory, "--maxmemory-policy", a.policy]
    rows = {}
    for rnd in range(a.rounds):
        for name, argv in cmds.items():
            if a.burst:
                srv = bench.Server(name, argv + limit)
                try:
                    for m, v in burst(name, srv, a.burst_pipeline).items():
                        rows.setdefault((name, m), []).append(v)
                finally:
                    srv.stop()
                bench.log(f"round {rnd + 1} {name} done")
                continue
            srv = bench.Server(name, argv + limit) if not a.writes_only else None
            try:
                if srv is None:
                    raise StopIteration
                ratio = cache_aside(bench.PORT, seq, a.warm)
                rows.setdefault((name, "hit ratio"), []).append(ratio)
                info = bench.command(srv.sock, "INFO", "memory").decode()
                used = int(info.split("used_memory:")[1].split("\r\n")[0])
                keys = int(bench.command(srv.sock, "DBSIZE")[1:].strip())
                rows.setdefault((name, "keys held"), []).append(keys)
                rows.setdefault((name, "used_memory MB"), []).append(used / 1e6)
            except StopIteration:
                pass
            finally:
                if srv is not None:
                    srv.stop()
            for pipeline in (1, 16):
                srv = bench.Server(name, argv + limit)
                try:
                    # Fill to the limit first (not measured): then every write evicts.
                    cmdbench.memtier_keys("set __key__ __data__", 16, a.fill, 4_999_999, "P")
                    cpu0 = srv.cpu_seconds()
                    ops, total = cmdbench.memtier_keys("set __key__ __data__", pipeline, a.duration,
                                                       10_000_000, "P", 5_000_000)
                    evicted = bench.command(srv.sock, "INFO", "stats").decode()
                    evicted = int(evicted.split("evicted_keys:")[1].split("\r\n")[0])
                    rows.setdefault((name, f"SET P{pipeline} evicted"), []).append(evicted)
                    cpu = srv.cpu_seconds() - cpu0
                    rows.setdefault((name, f"SET P{pipeline} ops/s"), []).append(ops)
                    rows.setdefault((name, f"SET P{pipeline} CPU us/op"), []).append(
                        cpu * 1e6 / (total or ops * a.duration))
                    rows.setdefault((name, f"SET P{pipeline} RSS MB"), []).append(
                        bench.rss_of(srv.proc.pid) / 1e6)
                finally:
                    srv.stop()
            bench.log(f"round {rnd + 1} {name} done")
    print(f"maxmemory {a.maxmemory}, {a.policy}, {a.keys} keys (Gaussian), percore shards {a.shards}")
    names = list(cmds)
    metrics = sorted({m for _, m in rows}, key=lambda m: (m != "hit ratio", m))
    if not metrics:
        return
    print("| metric | " + " | ".join(names) + " | percore/redis |")
    print("|---|" + "---|" * (len(names) + 1))
    for m in metrics:
        vals = {n: statistics.median(rows[(n, m)]) for n in names if (n, m) in rows}
        ratio = vals["percore"] / vals["redis"] if vals.get("redis") else 0
        fmt = (lambda v: f"{v:.4f}") if m == "hit ratio" else (lambda v: f"{v:,.2f}")
        print(f"| {m} | " + " | ".join(fmt(vals[n]) for n in names) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
