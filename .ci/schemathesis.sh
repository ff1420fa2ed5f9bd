#!/usr/bin/env bash
# Fuzzes generated backends with schemathesis against their own /openapi.json: no 5xx,
# every status, content type, header and body as the document says.
#
# 1. shop-backend (the reference spec);
# 2. store-backend (specs/store.toml: custom operations, hooks, and rows owned by their
#    user), called as one signed-in user: a fresh key's JWK set is given to the backend
#    as under `shopgen up --jwks`, and every request carries a token it signed
#    (.ci/test-token.py) in X-Forwarded-Authorization, as the relay forwards it.
#
# Each backend is built from this checkout into <target dir>/<profile>/ and runs on a fresh
# SQLite file on a free loopback port, and is stopped by PID whatever happens.
# schemathesis comes from PATH, .ci/venv, or a venv this script creates.
#
#   .ci/schemathesis.sh                   # default budget
#   MAX_EXAMPLES=200 .ci/schemathesis.sh  # more cases per operation
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-debug}"
MAX_EXAMPLES="${MAX_EXAMPLES:-60}"
DIR="${CARGO_TARGET_DIR:-target}/$PROFILE"

if ! command -v schemathesis >/dev/null || ! python3 -c 'import cryptography' 2>/dev/null; then
  if [ ! -x .ci/venv/bin/schemathesis ] || ! .ci/venv/bin/python -c 'import cryptography' 2>/dev/null; then
    python3 -m venv .ci/venv >/dev/null
    .ci/venv/bin/pip install --quiet --disable-pip-version-check schemathesis cryptography
  fi
  export PATH="$PWD/.ci/venv/bin:$PATH"
fi

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME [ENV=VALUE …]: runs NAME-backend on a fresh database, waits for it.
start() {
  local name="$1"
  shift
  local bin="$DIR/$name-backend"
  # Always built from this checkout: the suite's scratch builds of a spec's crates
  # (an altered extension, say) write the same binary name into the target folder.
  if [ "$PROFILE" = release ]; then
    cargo build --quiet --release -p "$name-backend"
  else
    cargo build --quiet -p "$name-backend"
  fi
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  log="$work/$name.log"
  env HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/$name.db" LOG_LEVEL=warn "$@" \
    "$bin" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "$name-backend exited"; exit 1; }
    sleep 0.05
  done
  echo "$name-backend did not answer /healthz"; exit 1
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

# fuzz NAME [schemathesis args…]: one run against the started backend.
status=0
fuzz() {
  local name="$1"
  shift
  echo "==> schemathesis: $name-backend"
  schemathesis run "http://127.0.0.1:$port/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection \
    --max-examples "$MAX_EXAMPLES" \
    --seed 1 \
    --generation-deterministic \
    --request-timeout 10 \
    --no-color \
    "$@" \
    || status=$?
  if grep -q '"level":"ERROR"' "$log"; then
    echo "$name-backend logged errors:"; grep '"level":"ERROR"' "$log" | head -20
    status=1
  fi
}

# The reference shop, with one product and a review so item routes hit real records.
start shop
curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"title":"Veranda Symphony","price":"83.84"}' "http://127.0.0.1:$port/products" >/dev/null
curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"name":"Ann","message":"Good","rate":4}' "http://127.0.0.1:$port/products/1/reviews" >/dev/null
fuzz shop
stop

# The store, as the signed-in user "fuzz-user" of its `firebase` provider.
token="$(python3 .ci/test-token.py "$work/jwks.json" \
  https://securetoken.google.com/acme-store-staging acme-store-staging fuzz-user)"
start store IDENTITY_JWKS_FILES="firebase=$work/jwks.json"
auth="X-Forwarded-Authorization: Bearer $token"
curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"title":"Veranda Symphony","price":"83.84"}' "http://127.0.0.1:$port/products" >/dev/null
curl -fsS -X POST -H 'content-type: application/json' -H "$auth" \
  -d '{"title":"Birthday"}' "http://127.0.0.1:$port/wishlists" >/dev/null
# The token must make the caller: /me answers its subject.
curl -fsS -H "$auth" "http://127.0.0.1:$port/me" | grep -q '"fuzz-user"' \
  || { echo "store-backend did not take the test token"; cat "$log"; exit 1; }
fuzz store --header "$auth"
stop

exit "$status"
