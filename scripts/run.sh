#!/usr/bin/env bash
# Runs percore-server in the foreground with the embedded defaults (port 6379, loopback only),
# passing any redis-server style arguments through: scripts/run.sh --port 7000 --shards 2
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --bin percore-server -- "$@"
