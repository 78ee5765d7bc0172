#!/usr/bin/env python3
"""Bytes per element of one big collection of each type, percore (1 shard) against
redis-server, measured in the same run.

For each type, 1M elements (8-byte members; small integer scores and 8-byte hash values)
are loaded into one key with redis-cli --pipe (1000 elements per command); the growth of
INFO used_memory and of the process RSS is divided by the element count.

    scripts/mem-per-element.py [--elements N] [--per-key K] [--types list,hash,set,intset,zset]

With --per-key K the elements go K to a key (many small collections, the compact encodings);
the figures then include each key's own cost.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import rss_of as rss  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("PERCORE_BIN", os.path.join(ROOT, "target/release/percore-server"))


def cmd(*words):
    out = b"*%d\r\n" % len(words)
    for w in words:
        w = w if isinstance(w, bytes) else str(w).encode()
        out += b"$%d\r\n%s\r\n" % (len(w), w)
    return out


def command_for(kind, key, ids):
    if kind == "list":
        return cmd(b"RPUSH", key, *[b"e%07d" % i for i in ids])
    if kind == "hash":
        words = []
        for i in ids:
            words += [b"f%07d" % i, b"v%07d" % i]
        return cmd(b"HSET", key, *words)
    if kind == "set":
        return cmd(b"SADD", key, *[b"m%07d" % i for i in ids])
    if kind == "intset":
        # Integer members: a hash table past 512 in both servers.
        return cmd(b"SADD", key, *[str(i) for i in ids])
    words = []
    for i in ids:
        words += [str(i % 1000), b"m%07d" % i]
    return cmd(b"ZADD", key, *words)


def load_file(kind, n, path, per_key):
    """Each key's elements in commands of up to 1000, never across two keys."""
    with open(path, "wb") as f:
        for first in range(0, n, per_key):
            last = min(first + per_key, n)
            key = b"big" if per_key >= n else b"k%d" % (first // per_key)
            for base in range(first, last, 1000):
                f.write(command_for(kind, key, range(base, min(base + 1000, last))))


def info_field(port, field):
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "info", "memory"], capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    return 0


def measure(server, kind, n, path, port, probe):
    if server == "redis":
        p = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    else:
        p = subprocess.Popen(
            [BIN, "--port", str(port), "--shards", "1", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        for _ in range(200):
            r = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
            if r.stdout.strip() == b"PONG":
                break
            time.sleep(0.05)
        used0, rss0 = info_field(port, "used_memory"), rss(p.pid)
        with open(path, "rb") as f:
            subprocess.run(
                ["redis-cli", "-p", str(port), "--pipe"], stdin=f, stdout=subprocess.DEVNULL
            )
        enc = subprocess.run(
            ["redis-cli", "-p", str(port), "object", "encoding", probe],
            capture_output=True,
            text=True,
        ).stdout.strip()
        used1, rss1 = info_field(port, "used_memory"), rss(p.pid)
        return (used1 - used0) / n, (rss1 - rss0) / n, enc
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        p.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elements", type=int, default=1_000_000)
    ap.add_argument("--types", default="list,hash,set,intset,zset")
    ap.add_argument("--port", type=int, default=7398)
    ap.add_argument("--per-key", type=int, default=0,
                    help="elements per key (default: all in one key); e.g. 10 for many small ones")
    a = ap.parse_args()
    if not os.path.exists(BIN) and "PERCORE_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "--bin", "percore-server"], cwd=ROOT, check=True)
    print(f"| type | elements | percore used/RSS B | redis used/RSS B | used ratio | RSS ratio | encodings |")
    print("|---|---|---|---|---|---|---|")
    for kind in a.types.split(","):
        with tempfile.NamedTemporaryFile(delete=False) as t:
            path = t.name
        per_key = a.per_key or a.elements
        load_file(kind, a.elements, path, per_key)
        probe = "big" if per_key >= a.elements else "k0"
        r = measure("redis", kind, a.elements, path, a.port, probe)
        p = measure("percore", kind, a.elements, path, a.port, probe)
        os.unlink(path)
        print(
            f"| {kind} | {a.elements} | {p[0]:.1f} / {p[1]:.1f} | {r[0]:.1f} / {r[1]:.1f} "
            f"| {p[0] / r[0]:.2f} | {p[1] / r[1]:.2f} | {p[2]} / {r[2]} |"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
