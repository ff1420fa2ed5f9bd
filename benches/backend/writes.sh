#!/usr/bin/env bash
# Writes and mixed traffic: the generated shop backend (release build) against the
# Rails API of the peer harness, on the same rows, in one run.
#
# Per engine (SQLite, then PostgreSQL):
#   1. the peers' run.sh --hold keeps Rails up on a fresh database (100 products x 5
#      reviews, Faker, fixed seed); on it: GET /products, then the nested create
#      POST /products/{id}/reviews (ids 1..100 in turn); then Rails again on a fresh
#      database for the mix: 90 % GET /products, 10 % POST /products/{id}/reviews
#      (every write changes the list and invalidates every cached copy of it);
#   2. the same rows are created in a fresh shop-backend database through our API, in
#      order, from Rails' body; then the same loads: GET /products with the response
#      cache off (RESPONSE_CACHE_BYTES=0) and on, the nested create; then the mix on
#      a second fresh database with the same rows; during the mix a checker writes a
#      review with a unique message and reads GET /products at once, over and over,
#      and counts the reads that miss the write it just made (stale reads: the cache
#      must never serve them).
# The mix starts from the same rows on both sides, but every write adds a review the
# list embeds, so the faster server's list grows more during the run: the summary
# prints how many writes each side made.
# SQLite runs at its default durability, SQLITE_SYNCHRONOUS=full (a write is on disk
# before it is acknowledged). Every load is wrk -t2 -c32 -d10s after a 2 s warm-up, on
# 127.0.0.1; the summary prints the same-run ratios. Every process started here is
# stopped by PID on exit.
#
#   benches/backend/writes.sh [--peers DIR] [--duration 10s] [--engines sqlite,postgres]
#                             [--no-build]
# --peers: the bench-peers checkout (default $BENCH_PEERS or ../shared/bench-peers);
# its run.sh must have been run once without --skip-install (it installs Rails).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"

DURATION=10s
ENGINES=sqlite,postgres
PEERS="${BENCH_PEERS:-../shared/bench-peers}"
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --engines) ENGINES="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
[ -x "$PEERS/run.sh" ] || { echo "no $PEERS/run.sh (use --peers DIR)"; exit 2; }
PEERS="$(cd "$PEERS" && pwd)"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ "$BUILD" = 1 ] && cargo build --release -q -p shop-backend
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/shop-backend"
RAILS_PORT=3001

. "$ROOT/benches/backend/common.sh"


# bench LABEL PORT KIND [WRAP]: KIND read (GET /products), write (every request a
# nested create) or mix (every tenth).
bench() {
  local label="$1" port="$2" kind="$3" wrap="${4:-0}" every script
  case "$kind" in
    read) script="$report_lua" ;;
    write) script="$work/writes.lua"; every=1 ;;
    mix) script="$work/writes.lua"; every=10 ;;
  esac
  WRAP="$wrap" WRITE_EVERY="${every:-1}" wrk -t2 -c32 -d2s -s "$script" "http://127.0.0.1:$port/products" >/dev/null 2>&1 || true
  local line
  line="$(WRAP="$wrap" WRITE_EVERY="${every:-1}" wrk -t2 -c32 -d"$DURATION" --timeout 10s -s "$script" \
    "http://127.0.0.1:$port/products" | grep '^BENCH')"
  echo "$label $kind $line" | tee -a "$work/summary"
}

# Writes a review with a unique message and reads GET /products at once, until
# killed; prints checks and stale reads (a read without the write just acknowledged).
checker() {
  python3 - "$1" "$work/checker.out" <<'PY' &
import http.client, json, signal, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
checks = stale = 0
def report(*_):
    open(out, "w").write(f"checks={checks} stale={stale}\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, report)
conn = http.client.HTTPConnection("127.0.0.1", port)
n = 0
while True:
    n += 1
    product = n % 100 + 1
    message = f"checker write {n} at {time.time()}"
    conn.request("POST", f"/products/{product}/reviews",
                 json.dumps({"name": "Checker", "message": message, "rate": 4}),
                 {"content-type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 201:
        continue
    conn.request("GET", "/products")
    r = conn.getresponse(); body = r.read()
    if r.status != 200:
        continue
    checks += 1
    seen = any(rv["message"] == message
               for p in json.loads(body)["products"] if p.get("reviews") is not None
               for rv in p["reviews"])
    if not seen:
        stale += 1
PY
  checker_pid=$!; pids+=("$checker_pid")
}

# Rails on a fresh database, held up by the peers' run.sh until stop_rails.
start_rails() {
  local engine="$1" out="$work/peers-$engine-$2"
  "$PEERS/run.sh" --skip-install --db "$engine" --targets rails --hold 3600 --work "$out" \
    >"$out.log" 2>&1 &
  rails_pid=$!; pids+=("$rails_pid")
  for _ in $(seq 1 1800); do
    grep -q "holding for" "$out.log" && return 0
    kill -0 "$rails_pid" 2>/dev/null || { tail -30 "$out.log"; exit 1; }
    sleep 0.1
  done
  echo "Rails did not come up"; exit 1
}
stop_rails() { kill "$rails_pid"; wait "$rails_pid" 2>/dev/null || true; }

run_rails() {
  local engine="$1"
  start_rails "$engine" 1
  curl -fsS "http://127.0.0.1:$RAILS_PORT/products" >"$work/rails-$engine.json"
  bench "rails-$engine" "$RAILS_PORT" read
  bench "rails-$engine" "$RAILS_PORT" write 1
  stop_rails
  start_rails "$engine" 2
  bench "rails-$engine" "$RAILS_PORT" mix 1
  stop_rails
}

run_backend() {
  local engine="$1" url="$2" mix_url="$3" port pid
  port="$(free_port)"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="$url" LOG_LEVEL=info RESPONSE_CACHE_BYTES=0 "$BIN" >"$work/$engine.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_up "$port" /healthz "$work/$engine.log"
  load_rows "$port" "$work/rails-$engine.json"
  bench "shop-$engine-nocache" "$port" read
  kill "$pid"; wait "$pid" 2>/dev/null || true
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="$url" LOG_LEVEL=info "$BIN" >>"$work/$engine.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_up "$port" /healthz "$work/$engine.log"
  bench "shop-$engine" "$port" read
  bench "shop-$engine" "$port" write
  kill "$pid"; wait "$pid" 2>/dev/null || true
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="$mix_url" LOG_LEVEL=info "$BIN" >>"$work/$engine.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_up "$port" /healthz "$work/$engine.log"
  load_rows "$port" "$work/rails-$engine.json"
  checker "$port"
  bench "shop-$engine" "$port" mix
  kill "$checker_pid"; wait "$checker_pid" 2>/dev/null || true
  echo "shop-$engine mix-checker $(cat "$work/checker.out")" | tee -a "$work/summary"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

IFS=, read -r -a engines <<<"$ENGINES"
for engine in "${engines[@]}"; do
  run_rails "$engine"
  case "$engine" in
    sqlite) run_backend sqlite "sqlite://$work/bench.db" "sqlite://$work/mix.db" ;;
    postgres)
      start_postgres
      runuser -u postgres -- createdb -h "$pg_run" -p "$pgport" mix
      run_backend postgres "postgres://postgres@127.0.0.1:$pgport/postgres" \
        "postgres://postgres@127.0.0.1:$pgport/mix"
      stop_postgres
      ;;
  esac
done

echo "--- summary (same run; load average $(cut -d' ' -f1-3 /proc/loadavg))"
awk '
  { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[$1 "|" $2 "|" kv[1]] = kv[2] } }
  END {
    split("sqlite postgres", es, " ")
    for (k = 1; k <= 2; k++) {
      e = es[k]
      if (!(("rails-" e "|read|rps") in v)) continue
      split("read write mix", ks, " ")
      for (j = 1; j <= 3; j++) {
        kind = ks[j]; s = v["shop-" e "|" kind "|rps"]; r = v["rails-" e "|" kind "|rps"]
        printf "%-8s %-6s shop %9.1f req/s p99 %8.2f ms non2xx %s | rails %7.1f req/s p99 %8.1f ms non2xx %s | %7.1fx",
          e, kind, s, v["shop-" e "|" kind "|p99_ms"], v["shop-" e "|" kind "|non2xx"],
          r, v["rails-" e "|" kind "|p99_ms"], v["rails-" e "|" kind "|non2xx"], (r > 0 ? s / r : 0)
        if (kind == "mix") printf " | writes made: shop %d, rails %d", v["shop-" e "|mix|requests"] / 10, v["rails-" e "|mix|requests"] / 10
        printf "\n"
      }
      s = v["shop-" e "-nocache|read|rps"]; r = v["rails-" e "|read|rps"]
      printf "%-8s read, cache off: shop %9.1f req/s p99 %8.2f ms | %7.1fx rails | cache on = %.1fx off\n",
        e, s, v["shop-" e "-nocache|read|p99_ms"], (r > 0 ? s / r : 0), (s > 0 ? v["shop-" e "|read|rps"] / s : 0)
      printf "%-8s mix stale reads: %s of %s checks\n", e, v["shop-" e "|mix-checker|stale"], v["shop-" e "|mix-checker|checks"]
    }
  }' "$work/summary"
