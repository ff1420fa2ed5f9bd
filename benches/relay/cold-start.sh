#!/usr/bin/env bash
# Cold start of the Rust relay, repeated: exec -> first proxied 2xx on GET /products/1,
# timed by the peers' tools/launch.py (polls every ~2 ms), N times; prints each figure
# and the min / median / max. The upstream is the static nginx of run.sh.
#
# usage: benches/relay/cold-start.sh [N] [--peers DIR] [--relay-bin PATH]
#   N defaults to 20. Needs nginx and python3. Loopback only; every process started
#   here is stopped by PID.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS="${BENCH_PEERS:-$REPO/../shared/bench-peers}"
RELAY_BIN="$REPO/target/release/shopgen-relay-dev"
N=20
while [ $# -gt 0 ]; do
  case "$1" in
    --peers) PEERS="$2"; shift 2 ;;
    --relay-bin) RELAY_BIN="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) N="$1"; shift ;;
  esac
done
[ -x "$RELAY_BIN" ] || (cd "$REPO" && cargo build --release -q -p shopgen-relay-runtime --bin shopgen-relay-dev)

WORK=/tmp/shopgen-relay-cold
rm -rf "$WORK"; mkdir -p "$WORK/root" "$WORK/logs" "$WORK/tmp"
echo '{"product":{"title":"Veranda Symphony","price":"95.12"}}' >"$WORK/root/product.json"
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    server {
        listen 127.0.0.1:18090;
        root $WORK/root;
        default_type application/json;
        location ~ ^/products/[0-9]+\$ { try_files /product.json =404; }
    }
}
EOF
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/logs/error.log" -g 'daemon off;' >/dev/null 2>&1 &
UP=$!
RELAY=""
cleanup() {
  [ -n "$RELAY" ] && kill -TERM "$RELAY" 2>/dev/null || true
  kill -TERM "$UP" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18090/products/1 >/dev/null && break; sleep 0.05; done

FIGURES=()
for i in $(seq 1 "$N"); do
  read -r RELAY cold < <(HOST=127.0.0.1 PORT=18099 UPSTREAM_URL=http://127.0.0.1:18090 \
    python3 "$PEERS/tools/launch.py" --url http://127.0.0.1:18099/products/1 \
    --pidfile "$WORK/relay.pid" --log "$WORK/logs/relay.log" -- "$RELAY_BIN")
  FIGURES+=("$cold")
  kill -TERM "$RELAY"
  for _ in $(seq 1 100); do kill -0 "$RELAY" 2>/dev/null || break; sleep 0.02; done
  RELAY=""
done
printf '%s\n' "${FIGURES[@]}" | sort -n | awk '
  { v[NR] = $1 }
  END { printf "cold start ms over %d runs: min %.1f  median %.1f  max %.1f\n", NR, v[1], v[int((NR + 1) / 2)], v[NR] }'
