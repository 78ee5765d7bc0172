#!/usr/bin/env bash
# CI's smoke run of the benchmark tooling: percore-loadgen drives percore-server for one
# second with every reply checked (timings are not judged; only that it runs and is correct).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --workspace --bins
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/debug/percore-server --port "$PORT" --bind 127.0.0.1 --shards 2 --loglevel warning &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
target/debug/percore-loadgen --port "$PORT" --preload --keys 10000 --conns 8 --pipeline 4 --duration 1
target/debug/percore-loadgen --port "$PORT" --workload mget --keys 10000 --conns 4 --duration 1
echo "smoke bench OK"
