#!/usr/bin/env python3
"""Captures redis-server's own description of its commands, the source of percore's COMMAND
INFO (key specs, tips, subcommands) and COMMAND DOCS (summary, since, group, complexity,
arguments, history): the RESP3 replies of `COMMAND INFO` and `COMMAND DOCS`, byte for byte,
into crates/server/data/. percore serves the entries of the commands it implements from
them (crates/server/src/commands.rs), so redis-cli's hints and `help` read as with Redis.

Usage: scripts/capture-commands.py [redis-server binary]   (run it again for a new Redis)
"""
import os, socket, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "server", "data")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_value(f):
    """Reads one RESP3 value from the file object, returning its bytes."""
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in b"+-:,#_(":
        return line
    if t in b"$=!":
        n = int(rest)
        return line + f.read(n + 2)
    if t in b"*~>":
        return line + b"".join(read_value(f) for _ in range(int(rest)))
    if t == b"%":
        return line + b"".join(read_value(f) for _ in range(2 * int(rest)))
    raise ValueError(f"unexpected RESP line {line!r}")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "redis-server"
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        f = sock.makefile("rb")

        def ask(*words):
            sock.sendall(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
            return read_value(f)

        ask(b"HELLO", b"3")
        version = ask(b"INFO", b"server").split(b"redis_version:")[1].split(b"\r\n")[0].decode()
        os.makedirs(OUT, exist_ok=True)
        for sub in ("info", "docs"):
            path = os.path.join(OUT, f"command-{sub}.resp")
            with open(path, "wb") as out:
                out.write(ask(b"COMMAND", sub.upper().encode()))
            print(f"{path}: COMMAND {sub.upper()} of redis-server {version}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
