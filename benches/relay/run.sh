#!/usr/bin/env bash
# Relay benchmark: shopgen's Rust relay next to the peers (nginx reverse proxy, the
# Node.js Cloud Functions Framework relay) and the upstream direct, all in front of the
# SAME fast upstream (nginx serving two static JSON files: a ~47 KB list like
# GET /products of the reference shop, and a ~0.1 KB single product), on 127.0.0.1 only.
#
# Measures, per target: throughput and p50/p99 latency (wrk, after a warm-up), cold
# start (exec -> first proxied 2xx, timed by the peers' tools/launch.py), idle RSS and
# RSS after load (tools/rss.sh, process tree), and the relay binary's size.
#
# usage: benches/relay/run.sh [options]
#   --peers DIR         the peers harness (default: ../shared/bench-peers next to the repo,
#                       or $BENCH_PEERS)
#   --targets LIST      comma list of direct,rust,rust2,rust-nolog,nginx,node
#                       (default direct,rust,rust-nolog,rust2,nginx,node)
#                       rust = 1 worker thread with access log (the default settings),
#                       rust-nolog = ACCESS_LOG=false, rust2 = WORKER_THREADS=2
#   --paths LIST        comma list (default /products,/products/1)
#   --upstream KIND     static (default): the two JSON files above, served from disk;
#                       small: every path answered with one fixed 53-byte JSON body by
#                       nginx's `return 200` (no file I/O: the fastest upstream nginx can
#                       be, so the relays' own per-request cost dominates)
#   --duration D        wrk duration per run (default 10s)
#   --warmup D          un-reported wrk warm-up per run (default 2s)
#   --threads N         wrk threads (default 2)
#   --connections N     wrk connections (default 32)
#   --relay-bin PATH    relay binary (default: target/release/shopgen-relay-dev, built
#                       with cargo if missing)
#   --work DIR          scratch directory (default /tmp/shopgen-relay-bench)
#   --no-build          do not run cargo
# Needs: wrk, nginx, python3, curl; node + npm for the node target (its dependencies are
# installed into the scratch directory, the peers folder is left untouched).
# Every process started here is stopped by PID on exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS="${BENCH_PEERS:-$REPO/../shared/bench-peers}"
TARGETS="direct,rust,rust-nolog,rust2,nginx,node"
PATHS="/products,/products/1"
DURATION=10s
WARMUP=2s
THREADS=2
CONNECTIONS=32
RELAY_BIN="$REPO/target/release/shopgen-relay-dev"
WORK=/tmp/shopgen-relay-bench
BUILD=1
UPSTREAM=static

while [ $# -gt 0 ]; do
  case "$1" in
    --peers) PEERS="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    --paths) PATHS="$2"; shift 2 ;;
    --upstream) UPSTREAM="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --relay-bin) RELAY_BIN="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

PEERS="$(cd "$PEERS" && pwd)"
for tool in wrk nginx python3 curl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install wrk nginx python3 curl)" >&2; exit 1; }
done
[ -f "$PEERS/tools/launch.py" ] || { echo "run.sh: no peers harness at $PEERS" >&2; exit 1; }

UP_PORT=18080
declare -A PORT=([direct]=18080 [rust]=18081 [rust-nolog]=18084 [rust2]=18085 [nginx]=18082 [node]=18083)

rm -rf "$WORK"; mkdir -p "$WORK/upstream/root" "$WORK/logs"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

if [ "$BUILD" = 1 ] && [ "$RELAY_BIN" = "$REPO/target/release/shopgen-relay-dev" ]; then
  (cd "$REPO" && cargo build --release -q -p shopgen-relay-runtime --bin shopgen-relay-dev)
fi

# --- the upstream: nginx, one worker, two static JSON bodies -------------------------
python3 - "$WORK/upstream/root" <<'EOF'
import json, random, sys
root = sys.argv[1]
rng = random.Random(42)
words = "veranda symphony espresso roast blend house aroma velvet breakfast dark light".split()
def review(i):
    return {"id": i, "name": f"Reviewer {i}", "message": " ".join(rng.choice(words) for _ in range(4)).capitalize() + ".", "rate": rng.randint(1, 5)}
def product(p):
    return {"title": " ".join(rng.choice(words) for _ in range(2)).title(), "price": f"{rng.randint(100, 9999) / 100:.2f}", "reviews": [review(p * 5 + r + 1) for r in range(5)]}
products = [product(p) for p in range(100)]
open(f"{root}/products.json", "w").write(json.dumps({"products": products}, separators=(",", ":")))
open(f"{root}/product.json", "w").write(json.dumps({"product": {"title": products[0]["title"], "price": products[0]["price"]}}, separators=(",", ":")))
EOF
mkdir -p "$WORK/upstream/logs" "$WORK/upstream/tmp"
cat > "$WORK/upstream/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000;
    client_body_temp_path $WORK/upstream/tmp/body;
    proxy_temp_path $WORK/upstream/tmp/proxy;
    fastcgi_temp_path $WORK/upstream/tmp/fastcgi;
    uwsgi_temp_path $WORK/upstream/tmp/uwsgi;
    scgi_temp_path $WORK/upstream/tmp/scgi;
    server {
        listen 127.0.0.1:$UP_PORT;
        root $WORK/upstream/root;
        default_type application/json;
$(if [ "$UPSTREAM" = small ]; then
    echo "        location / { return 200 '{\"product\":{\"title\":\"Veranda Symph\",\"price\":\"83.84\"}}'; }"
  else
    echo "        location = /products { try_files /products.json =404; }"
    echo "        location ~ ^/products/[0-9]+$ { try_files /product.json =404; }"
  fi)
    }
}
EOF
nginx -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf" -e "$WORK/upstream/logs/error.log" -g 'daemon off;' \
  >"$WORK/logs/upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$UP_PORT/products/1" >/dev/null && break; sleep 0.05; done
LIST_BYTES=$(curl -sf "http://127.0.0.1:$UP_PORT/products" | wc -c)
ONE_BYTES=$(curl -sf "http://127.0.0.1:$UP_PORT/products/1" | wc -c)

# --- the relays ---------------------------------------------------------------------
NODE_DIR="$WORK/node-relay"
launch() { # name -> prints "PID COLD_MS"
  local name="$1" port="${PORT[$1]}" url="http://127.0.0.1:${PORT[$1]}/products/1"
  local up="http://127.0.0.1:$UP_PORT"
  case "$name" in
    rust|rust-nolog|rust2)
      local threads=1 log=true
      [ "$name" = rust2 ] && threads=2
      [ "$name" = rust-nolog ] && log=false
      HOST=127.0.0.1 PORT="$port" UPSTREAM_URL="$up" WORKER_THREADS="$threads" ACCESS_LOG="$log" \
        python3 "$PEERS/tools/launch.py" --url "$url" --pidfile "$WORK/$name.pid" \
        --log "$WORK/logs/$name.log" -- "$RELAY_BIN" ;;
    nginx)
      UPSTREAM_URL="$up" PREFIX="$WORK/nginx-relay" LISTEN="127.0.0.1:$port" NGINX_WORKERS=auto \
        python3 "$PEERS/tools/launch.py" --url "$url" --pidfile "$WORK/$name.pid" \
        --log "$WORK/logs/$name.log" -- "$PEERS/nginx-relay/start.sh" ;;
    node)
      HOST=127.0.0.1 PORT="$port" UPSTREAM_URL="$up" \
        python3 "$PEERS/tools/launch.py" --url "$url" --pidfile "$WORK/$name.pid" \
        --log "$WORK/logs/$name.log" --cwd "$NODE_DIR" -- node server.js ;;
  esac
}

IFS=, read -r -a TARGET_LIST <<<"$TARGETS"
IFS=, read -r -a PATH_LIST <<<"$PATHS"
if [[ ",$TARGETS," == *",node,"* ]]; then
  command -v npm >/dev/null || { echo "run.sh: node target needs node and npm" >&2; exit 1; }
  mkdir -p "$NODE_DIR"
  cp "$PEERS/node-relay/"{index.js,server.js,package.json,package-lock.json} "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --silent --no-audit --no-fund >/dev/null)
fi

declare -A COLD RSS_IDLE RSS_LOAD
for t in "${TARGET_LIST[@]}"; do
  [ "$t" = direct ] && continue
  read -r pid cold < <(launch "$t")
  PIDS+=("$pid")
  COLD[$t]="$cold"
  sleep 1
  RSS_IDLE[$t]=$("$PEERS/tools/rss.sh" "$pid")
done

RESULTS="$WORK/results.md"
{
  if [ "$UPSTREAM" = small ]; then
    echo "Upstream: nginx 1 worker, \`return 200\` with a fixed $ONE_BYTES-byte JSON body on every path."
  else
    echo "Upstream: nginx 1 worker, static JSON (/products = $LIST_BYTES B, /products/1 = $ONE_BYTES B)."
  fi
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout 10s after a $WARMUP warm-up; $(nproc) cores shared by wrk, relay and upstream."
  echo
  echo "| target | path | req/s | p50 ms | p99 ms | errors |"
  echo "|---|---|---:|---:|---:|---:|"
} >"$RESULTS"
for path in "${PATH_LIST[@]}"; do
  for t in "${TARGET_LIST[@]}"; do
    url="http://127.0.0.1:${PORT[$t]}$path"
    if [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$url" >/dev/null 2>&1 || true
    fi
    line=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$PEERS/tools/report.lua" "$url" | grep '^BENCH')
    rps=$(sed -E 's/.*rps=([^ ]+).*/\1/' <<<"$line")
    p50=$(sed -E 's/.*p50_ms=([^ ]+).*/\1/' <<<"$line")
    p99=$(sed -E 's/.*p99_ms=([^ ]+).*/\1/' <<<"$line")
    errs=$(sed -E 's/.*sock_errors=([0-9]+) non2xx=([0-9]+).*/\1+\2/' <<<"$line")
    echo "| $t | $path | $rps | $p50 | $p99 | $errs |" | tee -a "$RESULTS"
  done
done
for t in "${TARGET_LIST[@]}"; do
  [ "$t" = direct ] && continue
  RSS_LOAD[$t]=$("$PEERS/tools/rss.sh" "$(cat "$WORK/$t.pid")")
done
{
  echo
  echo "| process | cold start ms | idle RSS MiB | RSS after load MiB |"
  echo "|---|---:|---:|---:|"
  for t in "${TARGET_LIST[@]}"; do
    [ "$t" = direct ] && continue
    awk -v t="$t" -v c="${COLD[$t]}" -v i="${RSS_IDLE[$t]}" -v l="${RSS_LOAD[$t]}" \
      'BEGIN { printf "| %s | %s | %.1f | %.1f |\n", t, c, i / 1024, l / 1024 }' 
  done
  echo
  echo "Relay binary: $RELAY_BIN, $(stat -c %s "$RELAY_BIN") bytes, linked against: $(ldd "$RELAY_BIN" 2>/dev/null | awk '/=>/{print $1}' | tr '\n' ' ')"
} >>"$RESULTS"
echo
cat "$RESULTS"
