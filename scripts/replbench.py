#!/usr/bin/env python3
"""Replication (issue 18): percore against redis-server (and valkey-server when installed),
each replicating to a replica of its own kind, same run. Master pinned to CPU 0; the load
and the replica on CPU 1.

1. Master CPU per write: memtier_benchmark SETs (32-byte values, 100,000 keys, 50
   connections, pipeline 16, 4 s) with no replica, then with one replica attached.
2. Replication lag under that load: master_repl_offset minus the replica's offset, sampled
   every 20 ms (bytes), and the time the replica takes to have everything once the load
   stops.
3. Full sync of 1,000,000 keys (memtier fills them, 32-byte values): REPLICAOF until the
   replica's link is up with the master's offset.

Medians of ROUNDS rounds. Usage: scripts/replbench.py [--rounds 3] [--shards 1]
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

MASTER, REPLICA = bench.PORT, bench.PORT + 1


class Proc:
    def __init__(self, argv, port, cpus, extra=()):
        # A directory of its own: a replica writes the RDB it received there.
        self.dir = tempfile.mkdtemp(prefix="replbench-")
        args = ["taskset", "-c", cpus] + argv + ["--port", str(port), "--bind", "127.0.0.1",
                                                  "--save", "", "--appendonly", "no",
                                                  "--dir", self.dir] + list(extra)
        self.port = port
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                if bench.command(self.sock, "PING").startswith(b"+PONG"):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{argv[0]} did not start on {port}")

    def info(self, section, field):
        text = bench.command(self.sock, "INFO", section).decode(errors="replace")
        m = re.search(rf"^{field}:(.*?)\r$", text, re.M)
        return m.group(1) if m else ""

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / bench.TICK

    def stop(self):
        try:
            bench.command(self.sock, "SHUTDOWN", "NOSAVE")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def memtier(port, extra, duration=None):
    argv = ["taskset", "-c", bench.LOAD_CPUS, "memtier_benchmark", "-s", "127.0.0.1", "-p", str(port),
            "--hide-histogram", "-t", "1", "--ratio=1:0", "-d", "32"] + extra
    if duration:
        argv.append(f"--test-time={duration}")
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    ops = float([line for line in out.splitlines() if line.startswith("Totals")][-1].split()[1])
    m = re.search(r"(\d+) total ops", out)
    return ops, (int(m.group(1)) if m else None)


def synced(master, replica):
    return (replica.info("replication", "master_link_status") == "up"
            and master.info("replication", "master_repl_offset")
            == replica.info("replication", "slave_repl_offset"))


def attach(master, replica, timeout=300):
    bench.command(replica.sock, "REPLICAOF", "127.0.0.1", str(master.port))
    started = time.time()
    while not synced(master, replica):
        if time.time() - started > timeout:
            raise RuntimeError("the replica did not sync")
        time.sleep(0.01)
    return time.time() - started


def write_load(master, rows, name, label):
    load = ["-c", "50", "--pipeline", "16", "--key-pattern=R:R", "--key-maximum=100000"]
    cpu0 = master.cpu()
    ops, total = memtier(master.port, load, 4)
    cpu = master.cpu() - cpu0
    rows.setdefault((name, f"SET P16 master CPU us/op, {label}"), []).append(cpu * 1e6 / (total or ops * 4))
    rows.setdefault((name, f"SET P16 ops/s, {label}"), []).append(ops)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shards", default="1")
    a = ap.parse_args()
    cmds = bench.server_cmds()
    rows = {}
    for rnd in range(a.rounds):
        for name, argv in cmds.items():
            argv = argv[3:]  # without taskset: Proc pins
            if name == "percore":
                argv = [bench.PERCORE, "--shards", a.shards]
            # Both start a full sync at once (redis-server 7.0's default waits 5 s).
            extra = ["--repl-diskless-sync-delay", "0"]
            master = Proc(argv, MASTER, bench.SERVER_CPUS, extra)
            replica = Proc(argv, REPLICA, bench.LOAD_CPUS)
            try:
                write_load(master, rows, name, "no replica")
                attach(master, replica)
                lags = []
                stop = threading.Event()

                def sample():
                    s = socket.create_connection(("127.0.0.1", REPLICA))
                    m = socket.create_connection(("127.0.0.1", MASTER))
                    while not stop.is_set():
                        mo = int(re.search(rb"master_repl_offset:(\d+)", bench.command(m, "INFO", "replication")).group(1))
                        ro = int(re.search(rb"slave_repl_offset:(\d+)", bench.command(s, "INFO", "replication")).group(1))
                        lags.append(max(0, mo - ro))
                        time.sleep(0.02)

                th = threading.Thread(target=sample)
                th.start()
                try:
                    write_load(master, rows, name, "one replica")
                finally:
                    stop.set()
                    th.join()
                t0 = time.time()
                while not synced(master, replica):
                    time.sleep(0.001)
                rows.setdefault((name, "catch-up after the load, ms"), []).append((time.time() - t0) * 1e3)
                rows.setdefault((name, "lag under load, median bytes"), []).append(statistics.median(lags))
                rows.setdefault((name, "lag under load, max bytes"), []).append(max(lags))
                bench.command(replica.sock, "REPLICAOF", "NO", "ONE")
                bench.command(replica.sock, "FLUSHALL")
                memtier(master.port, ["-c", "50", "--pipeline", "64", "--key-pattern=P:P",
                                      "--key-maximum=1000000", "-n", "allkeys"])
                keys = int(bench.command(master.sock, "DBSIZE")[1:].strip())
                secs = attach(master, replica)
                rows.setdefault((name, f"full sync of {keys:,} keys, s"), []).append(secs)
            finally:
                replica.stop()
                master.stop()
            bench.log(f"round {rnd + 1} {name} done")
    names = list(cmds)
    print(f"replication, percore shards {a.shards}, {a.rounds} rounds (medians)")
    print("| metric | " + " | ".join(names) + " | percore/redis |")
    print("|---|" + "---|" * (len(names) + 1))
    for m in sorted({m for _, m in rows}):
        vals = {n: statistics.median(rows[(n, m)]) for n in names if (n, m) in rows}
        ratio = vals["percore"] / vals["redis"] if vals.get("redis") else 0
        print(f"| {m} | " + " | ".join(f"{vals[n]:,.2f}" for n in names if n in vals) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
