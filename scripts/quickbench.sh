#!/usr/bin/env bash
# Side-by-side redis-benchmark run: percore (1 and 2 shards) and redis-server, each server
# pinned to CPU 0 and the load generator to CPU 1, same workloads, same run. Reports ops/s
# and server CPU time per operation (utime+stime from /proc/PID/stat), the fair figure on a
# 2-core box where the load generator may saturate its own core first.
# Usage: scripts/quickbench.sh [requests]   (needs redis-server, redis-benchmark, taskset)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
BIN=target/release/percore-server
[ -x "$BIN" ] || cargo build --release --bin percore-server
PORT=7390
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start() { # name -> sets PID
  case "$1" in
    redis) taskset -c 0 redis-server --port $PORT --save "" --appendonly no --bind 127.0.0.1 >/dev/null 2>&1 & PID=$! ;;
    percore1) taskset -c 0 "$BIN" --port $PORT --shards 1 --loglevel warning >/tmp/percore-bench.log 2>&1 & PID=$! ;;
    percore2) "$BIN" --port $PORT --shards 2 --loglevel warning >/tmp/percore-bench2.log 2>&1 & PID=$! ;;
  esac
  for _ in $(seq 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "server $1 did not start" >&2; exit 1
}

stop() {
  redis-cli -p $PORT shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}

echo "server,test,pipeline,ops_per_sec,server_cpu_us_per_op"
for P in 1 16; do
  for S in redis percore1 percore2; do
    start $S
    for T in set get; do
      before=$(cpu_ticks "$PID")
      # percore2 uses both cores for the server, so the load shares CPU 1 with shard 1.
      out=$(taskset -c 1 redis-benchmark -p $PORT -t $T -n "$N" -P $P -c 50 -r 100000 -d 32 --csv 2>/dev/null | tail -1)
      after=$(cpu_ticks "$PID")
      rps=$(echo "$out" | awk -F'","' '{print $2}')
      cpu=$(awk -v a="$after" -v b="$before" -v t="$TICK" -v n="$N" 'BEGIN{printf "%.3f", (a-b)/t*1e6/n}')
      echo "$S,$T,$P,$rps,$cpu"
    done
    stop
  done
done
