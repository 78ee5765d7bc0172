#!/usr/bin/env bash
# Runs every test: unit, property, integration (the real binary against real clients) and
# differential (the same commands against percore and Debian's redis-server).
# Needs redis-server and redis-cli on the PATH (apt-get install -y redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "MISSING: $tool (apt-get install -y redis-server redis-tools)" >&2; exit 1; }
done
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
