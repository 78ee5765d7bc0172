#!/usr/bin/env bash
# RSS per key after loading 1M `SET key:N <32 bytes>` (redis-cli --pipe), for percore with
# 1 shard and redis-server, measured in the same run: (RSS after - RSS before) / 1M.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/percore-server
[ -x "$BIN" ] || cargo build --release --bin percore-server
PORT=7397
DATA=$(mktemp)
python3 - "$DATA" <<'PY'
import sys
v = b"x" * 32
with open(sys.argv[1], "wb") as f:
    for i in range(1_000_000):
        k = b"key:%d" % i
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n" % (len(k), k, v))
PY
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
for S in redis percore; do
  if [ $S = redis ]; then
    redis-server --port $PORT --save "" --appendonly no >/dev/null 2>&1 & PID=$!
  else
    "$BIN" --port $PORT --shards 1 --loglevel warning >/dev/null 2>&1 & PID=$!
  fi
  for _ in $(seq 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.05; done
  before=$(rss $PID)
  redis-cli -p $PORT --pipe < "$DATA" >/dev/null
  keys=$(redis-cli -p $PORT dbsize)
  after=$(rss $PID)
  echo "$S keys=$keys rss_per_key=$(( (after - before) / keys ))"
  redis-cli -p $PORT shutdown nosave >/dev/null 2>&1 || true
  wait $PID 2>/dev/null || true
done
rm -f "$DATA"
