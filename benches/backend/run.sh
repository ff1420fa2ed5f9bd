#!/usr/bin/env bash
# Load test of the generated shop backend (release build) on SQLite and PostgreSQL,
# and of the ceiling (the same axum stack serving the same body from memory).
#
# Seed: 100 products x 5 reviews created through the API (the peer harness's size).
# Load: wrk -t2 -c32 -d10s after a 2 s warm-up, on GET /products and GET /products/1,
# one machine-readable line per run (../../../shared/bench-peers/tools/report.lua when
# present). Also idle RSS and RSS after load (VmRSS, VmHWM). Everything on 127.0.0.1;
# every process started here is stopped by PID on exit.
#
#   benches/backend/run.sh [--duration 10s] [--engines sqlite,postgres]
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=10s
ENGINES=sqlite,postgres
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --engines) ENGINES="$2"; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p shop-backend
cargo build --release -q -p shopgen-backend-runtime --example ceiling
BIN=target/release/shop-backend
CEILING=target/release/examples/ceiling

work="$(mktemp -d)"
pids=()
pg_data=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$pg_data" ]; then runuser -u postgres -- pg_ctl -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

report_lua=""
for p in ../shared/bench-peers/tools/report.lua /work/shared/bench-peers/tools/report.lua; do
  [ -f "$p" ] && report_lua="$p" && break
done
if [ -z "$report_lua" ]; then
  report_lua="$work/report.lua"
  cat >"$report_lua" <<'LUA'
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d sock_errors=%d non2xx=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000.0, latency:percentile(99) / 1000.0,
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
LUA
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { awk '/^(VmRSS|VmHWM)/ {printf "%s=%.1fMiB ", $1, $2/1024}' "/proc/$1/status"; }
wait_up() { for _ in $(seq 1 400); do curl -fsS "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start"; exit 1; }

seed() {
  local base="$1"
  for p in $(seq 1 100); do
    curl -fsS -X POST -H 'content-type: application/json' \
      -d "{\"title\":\"Blend number $p\",\"price\":\"$((p % 97 + 1)).$((p * 7 % 100))\"}" "$base/products" >/dev/null
    for r in 1 2 3 4 5; do
      curl -fsS -X POST -H 'content-type: application/json' \
        -d "{\"name\":\"Reviewer $p-$r\",\"message\":\"Review $r of blend $p: rich, round and a little sweet.\",\"rate\":$(( (p + r) % 5 + 1 ))}" \
        "$base/products/$p/reviews" >/dev/null
    done
  done
}

load() {
  local label="$1" port="$2" path="$3"
  wrk -t2 -c32 -d2s "http://127.0.0.1:$port$path" >/dev/null 2>&1 || true
  local line
  line="$(wrk -t2 -c32 -d"$DURATION" --timeout 10s -s "$report_lua" "http://127.0.0.1:$port$path" | grep '^BENCH')"
  echo "$label $path $line"
}

run_backend() {
  local engine="$1" url="$2"
  local port; port="$(free_port)"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="$url" LOG_LEVEL=info "$BIN" >"$work/$engine.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_up "$port" /healthz
  seed "http://127.0.0.1:$port"
  curl -fsS "http://127.0.0.1:$port/products" >"$work/products.json"
  echo "$engine body_bytes=$(wc -c <"$work/products.json") idle $(rss "$pid")"
  load "$engine" "$port" /products
  load "$engine" "$port" /products/1
  echo "$engine after_load $(rss "$pid")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

IFS=, read -r -a engines <<<"$ENGINES"
for engine in "${engines[@]}"; do
  case "$engine" in
    sqlite) run_backend sqlite "sqlite://$work/bench.db" ;;
    postgres)
      d="$work/pg"; mkdir -p "$d/data" "$d/run"; chmod 755 "$work" "$d"
      chown postgres:postgres "$d/data" "$d/run"
      pgport="$(free_port)"
      runuser -u postgres -- initdb -D "$d/data" -A trust -U postgres -E UTF8 --no-locale >/dev/null
      runuser -u postgres -- pg_ctl -D "$d/data" -l "$d/run/log" -w \
        -o "-p $pgport -c listen_addresses=127.0.0.1 -k $d/run" start >/dev/null
      pg_data="$d/data"
      run_backend postgres "postgres://postgres@127.0.0.1:$pgport/postgres"
      ;;
  esac
done

cport="$(free_port)"
"$CEILING" "$work/products.json" "$cport" >/dev/null 2>&1 &
cpid=$!; pids+=("$cpid")
wait_up "$cport" /products
echo "ceiling idle $(rss "$cpid")"
load ceiling "$cport" /products
echo "ceiling after_load $(rss "$cpid")"
