#!/usr/bin/env bash
# Fuzzes the generated shop backend with schemathesis against its own /openapi.json:
# no 5xx, every status, content type, header and body as the document says.
#
# Starts <target dir>/<profile>/shop-backend (built first if missing) on a fresh SQLite
# file on a free loopback port, runs schemathesis (from PATH, .ci/venv, or a venv this
# script creates), and stops the server by PID whatever happens.
#
#   .ci/schemathesis.sh                   # default budget
#   MAX_EXAMPLES=200 .ci/schemathesis.sh  # more cases per operation
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-debug}"
MAX_EXAMPLES="${MAX_EXAMPLES:-60}"
BIN="${CARGO_TARGET_DIR:-target}/$PROFILE/shop-backend"

if ! command -v schemathesis >/dev/null; then
  if [ ! -x .ci/venv/bin/schemathesis ]; then
    python3 -m venv .ci/venv >/dev/null
    .ci/venv/bin/pip install --quiet --disable-pip-version-check schemathesis
  fi
  export PATH="$PWD/.ci/venv/bin:$PATH"
fi
if [ ! -x "$BIN" ]; then
  if [ "$PROFILE" = release ]; then cargo build --release -p shop-backend; else cargo build -p shop-backend; fi
fi

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/shop.db" LOG_LEVEL=warn \
  "$BIN" >"$work/server.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 200); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; echo "shop-backend exited"; exit 1; }
  sleep 0.05
done

# Seed one product with reviews so item routes hit real records too.
curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"title":"Veranda Symphony","price":"83.84"}' "http://127.0.0.1:$port/products" >/dev/null
curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"name":"Ann","message":"Good","rate":4}' "http://127.0.0.1:$port/products/1/reviews" >/dev/null

status=0
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
  --max-examples "$MAX_EXAMPLES" \
  --seed 1 \
  --generation-deterministic \
  --request-timeout 10 \
  --no-color \
  || status=$?

if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "server logged errors:"; grep '"level":"ERROR"' "$work/server.log" | head -20
  status=1
fi
exit "$status"
