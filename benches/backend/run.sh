#!/usr/bin/env bash
# Load test of the generated shop backend (release build) side by side with the Rails
# API of the peer harness, on the same rows, in one run; plus the ceiling (the same
# axum stack serving the same body from memory) and memory.
#
# Per engine (SQLite, then PostgreSQL):
#   1. the peers' run.sh (--targets rails) seeds its database (100 products x 5 reviews,
#      Faker, fixed seed) and load-tests Rails on the same paths with the same wrk
#      settings; its GET /products body is kept;
#   2. those rows are created in a fresh shop-backend database through our API, in
#      order (POST /products, POST /products/{id}/reviews), so ids match; our
#      GET /products body is compared byte for byte with Rails';
#   3. shop-backend is load-tested: wrk -t2 -c32 -d10s after a 2 s warm-up, on
#      GET /products and GET /products/1; idle RSS and RSS after load (VmRSS, VmHWM);
#   4. the same process again with the response cache off (RESPONSE_CACHE_BYTES=0),
#      on GET /products;
#   5. PostgreSQL only: two shop-backend replicas on the one database (the deployed
#      shape), both loaded at once (one wrk -t1 -c16 each) on GET /products, while a
#      third client adds one review every 100 ms through replica B (each write
#      invalidates every cached GET /products on both); req/s summed.
# Then the ceiling on our body, and a summary with the same-run ratios.
# Everything on 127.0.0.1; every process started here is stopped by PID on exit.
#
#   benches/backend/run.sh [--peers DIR] [--duration 10s] [--engines sqlite,postgres]
#                          [--no-rails] [--no-build]
# --peers: the bench-peers checkout (default $BENCH_PEERS or ../shared/bench-peers);
# its run.sh must have been run once without --skip-install (it installs Rails).
# --no-rails: seed 100 x 5 synthetic rows instead and skip the peer (no ratios).
# --no-build: use the release binaries as they are (no cargo).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"

DURATION=10s
ENGINES=sqlite,postgres
PEERS="${BENCH_PEERS:-../shared/bench-peers}"
RAILS=1
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --engines) ENGINES="$2"; shift 2 ;;
    --peers) PEERS="$2"; shift 2 ;;
    --no-rails) RAILS=0; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
if [ "$RAILS" = 1 ]; then
  [ -x "$PEERS/run.sh" ] || { echo "no $PEERS/run.sh (use --peers DIR or --no-rails)"; exit 2; }
  PEERS="$(cd "$PEERS" && pwd)"
fi

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ "$BUILD" = 1 ]; then
  cargo build --release -q -p shop-backend
  cargo build --release -q -p shopgen-backend-runtime --example ceiling
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/shop-backend"
CEILING="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/ceiling"

. "$ROOT/benches/backend/common.sh"

# Our body against Rails': byte-identical, or the same rows with prices equal as
# decimals (Rails' BigDecimal drops a trailing zero: "44.4" where we keep the column's
# scale, "44.40"), or different.
compare_bodies() {
  python3 - "$1" "$2" <<'PY'
import json, sys
from decimal import Decimal
a, b = (open(f, "rb").read() for f in sys.argv[1:3])
if a == b:
    print("body=byte-identical-to-rails"); sys.exit()
def norm(body):
    data = json.loads(body)
    for product in data["products"]:
        product["price"] = Decimal(product["price"])
    return data
zeros = sum(1 for p in json.loads(a)["products"] if "." in p["price"] and len(p["price"].split(".")[1]) < 2)
if norm(a) == norm(b):
    print(f"body=same-rows-as-rails(bytes-differ:{len(b) - len(a)};rails-drops-trailing-zero-in-{zeros}-prices)")
else:
    print("body=DIFFERS-from-rails")
PY
}

bench() {
  local label="$1" port="$2" path="$3"
  wrk -t2 -c32 -d2s "http://127.0.0.1:$port$path" >/dev/null 2>&1 || true
  local line
  line="$(wrk -t2 -c32 -d"$DURATION" --timeout 10s -s "$report_lua" "http://127.0.0.1:$port$path" | grep '^BENCH')"
  echo "$label $path $line" | tee -a "$work/summary"
}

# Two wrk runs at once, one per replica (label port-a port-b path): summed req/s, the
# higher p99.
bench_pair() {
  local label="$1" pa="$2" pb="$3" path="$4"
  local other
  wrk -t1 -c16 -d2s "http://127.0.0.1:$pa$path" >/dev/null 2>&1 &
  other=$!
  wrk -t1 -c16 -d2s "http://127.0.0.1:$pb$path" >/dev/null 2>&1 || true
  wait "$other" || true
  wrk -t1 -c16 -d"$DURATION" --timeout 10s -s "$report_lua" "http://127.0.0.1:$pa$path" >"$work/pair-a" &
  other=$!
  wrk -t1 -c16 -d"$DURATION" --timeout 10s -s "$report_lua" "http://127.0.0.1:$pb$path" >"$work/pair-b"
  wait "$other"
  local line
  line="$(cat "$work/pair-a" "$work/pair-b" | grep '^BENCH' | awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2]; if (kv[1] == "p99_ms" && kv[2] > p99) p99 = kv[2]; if (kv[1] == "p50_ms" && kv[2] > p50) p50 = kv[2] } }
    END { printf "BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d sock_errors=%d non2xx=%d\n", v["rps"], p50, p99, v["requests"], v["sock_errors"], v["non2xx"] }')"
  echo "$label $path $line" | tee -a "$work/summary"
}

# One review every 100 ms through `port` until killed (writes during a read load).
trickle_writes() {
  python3 - "$1" <<'PY' &
import http.client, json, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
n = 0
while True:
    conn.request("POST", "/products/1/reviews", json.dumps({"name": "Bench", "message": f"write {n}", "rate": 3}),
                 {"content-type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 201:
        sys.exit(f"trickle: {r.status}")
    n += 1
    time.sleep(0.1)
PY
  trickle=$!; pids+=("$trickle")
}

# Rails on `engine`: its own run (seed, load), then its body and figures.
run_rails() {
  local engine="$1" out="$work/peers-$engine"
  "$PEERS/run.sh" --skip-install --db "$engine" --targets rails --paths /products,/products/1 \
    --duration "$DURATION" --work "$out" >"$work/peers-$engine.log" 2>&1 \
    || { tail -30 "$work/peers-$engine.log"; exit 1; }
  cp "$out/products-rails.json" "$work/rails-$engine.json"
  for path in /products /products/1; do
    local line
    line="$(grep '^BENCH ' "$out/wrk-rails-$(echo "$path" | tr '/' '_').txt")"
    echo "rails-$engine $path $line" | tee -a "$work/summary"
  done
  awk -F'|' '/rails direct/ && NF == 6 {gsub(/ /, ""); print "rails-'"$engine"' cold_start_ms=" $3 " idle_rss=" $4 "MiB after_load_rss=" $5 "MiB"}' "$out/results.md"
}

run_backend() {
  local engine="$1" url="$2"
  local port; port="$(free_port)"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="$url" LOG_LEVEL=info "$BIN" >"$work/$engine.log" 2>&1 &
  local pid=$!; pids+=("$pid")
  wait_up "$port" /healthz
  local source=""
  [ "$RAILS" = 1 ] && source="$work/rails-$engine.json"
  load_rows "$port" "$source"
  curl -fsS "http://127.0.0.1:$port/products" >"$work/products.json"
  local same=""
  [ -n "$source" ] && same="$(compare_bodies "$source" "$work/products.json")"
  echo "shop-$engine body_bytes=$(wc -c <"$work/products.json") sha1=$(sha1sum <"$work/products.json" | cut -c1-8) $same idle $(rss "$pid")"
  bench "shop-$engine" "$port" /products
  bench "shop-$engine" "$port" /products/1
  echo "shop-$engine after_load $(rss "$pid")"
  kill "$pid"; wait "$pid" 2>/dev/null || true

  # The same database, the cache off.
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="$url" LOG_LEVEL=info RESPONSE_CACHE_BYTES=0 "$BIN" >>"$work/$engine.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_up "$port" /healthz
  bench "shop-$engine-nocache" "$port" /products
  echo "shop-$engine-nocache after_load $(rss "$pid")"
  kill "$pid"; wait "$pid" 2>/dev/null || true

  if [ "$engine" = postgres ]; then
    local pa pb pida pidb
    pa="$(free_port)"; pb="$(free_port)"
    HOST=127.0.0.1 PORT="$pa" DATABASE_URL="$url" LOG_LEVEL=info "$BIN" >>"$work/$engine.log" 2>&1 &
    pida=$!; pids+=("$pida")
    HOST=127.0.0.1 PORT="$pb" DATABASE_URL="$url" LOG_LEVEL=info "$BIN" >>"$work/$engine.log" 2>&1 &
    pidb=$!; pids+=("$pidb")
    wait_up "$pa" /healthz; wait_up "$pb" /healthz
    bench_pair "shop-$engine-2rep" "$pa" "$pb" /products
    trickle_writes "$pb"
    bench_pair "shop-$engine-2rep-writes" "$pa" "$pb" /products
    kill "$trickle" 2>/dev/null || true; wait "$trickle" 2>/dev/null || true
    echo "shop-$engine-2rep cache: $(curl -fsS "http://127.0.0.1:$pa/metrics" | grep '^shopgen_response_cache_total' | tr '\n' ' ')"
    echo "shop-$engine-2rep after_load A $(rss "$pida") B $(rss "$pidb")"
    kill "$pida" "$pidb"; wait "$pida" "$pidb" 2>/dev/null || true
  fi
}

IFS=, read -r -a engines <<<"$ENGINES"
for engine in "${engines[@]}"; do
  [ "$RAILS" = 1 ] && run_rails "$engine"
  case "$engine" in
    sqlite) run_backend sqlite "sqlite://$work/bench.db" ;;
    postgres)
      start_postgres
      run_backend postgres "postgres://postgres@127.0.0.1:$pgport/postgres"
      stop_postgres
      ;;
  esac
done

cport="$(free_port)"
"$CEILING" "$work/products.json" "$cport" >/dev/null 2>&1 &
cpid=$!; pids+=("$cpid")
wait_up "$cport" /products
echo "ceiling idle $(rss "$cpid")"
bench ceiling "$cport" /products
echo "ceiling after_load $(rss "$cpid")"

# Same-run ratios: shop / Rails throughput, shop / ceiling and cache on / off on
# /products.
echo "--- summary (same run)"
awk '
  { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[$1 "|" $2 "|" kv[1]] = kv[2] } seen[$1] = 1 }
  END {
    c = v["ceiling|/products|rps"]
    split("sqlite postgres", es, " ")
    for (k = 1; k <= 2; k++) {
      e = es[k]
      if (!(("shop-" e) in seen)) continue
      split("/products /products/1", ps, " ")
      for (j = 1; j <= 2; j++) {
        p = ps[j]; s = v["shop-" e "|" p "|rps"]; r = v["rails-" e "|" p "|rps"]
        line = sprintf("%-8s %-12s shop %9.1f req/s p99 %7.2f ms", e, p, s, v["shop-" e "|" p "|p99_ms"])
        if (r > 0) line = line sprintf(" | rails %7.1f req/s p99 %8.1f ms | %6.1fx", r, v["rails-" e "|" p "|p99_ms"], s / r)
        if (p == "/products" && c > 0) line = line sprintf(" | %.1f%% of ceiling", 100 * s / c)
        print line
      }
      r = v["rails-" e "|/products|rps"]
      split("nocache 2rep 2rep-writes", vs, " ")
      for (j = 1; j <= 3; j++) {
        t = "shop-" e "-" vs[j]
        if (!(t in seen)) continue
        s = v[t "|/products|rps"]
        line = sprintf("%-8s %-12s %-11s %9.1f req/s p99 %7.2f ms", e, "/products", vs[j], s, v[t "|/products|p99_ms"])
        if (r > 0) line = line sprintf(" | %6.1fx rails", s / r)
        if (c > 0) line = line sprintf(" | %.1f%% of ceiling", 100 * s / c)
        if (vs[j] == "nocache" && s > 0) line = line sprintf(" | cache on = %.1fx off", v["shop-" e "|/products|rps"] / s)
        print line
      }
    }
  }' "$work/summary"
