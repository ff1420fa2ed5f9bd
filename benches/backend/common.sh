# What the backend benchmarks share (sourced by run.sh and writes.sh after they set
# their options): a scratch folder and the processes started in it, stopped by PID on
# exit; wrk's report line; free ports; memory; waiting for a server; the rows of a
# `{"products": [...]}` body created through our API; a throwaway PostgreSQL.

work="$(mktemp -d)"
chmod 755 "$work"
pids=()
pg_data=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  stop_postgres
  rm -rf "$work"
}
trap cleanup EXIT

# wrk's summary as one `BENCH key=value …` line.
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

# The wrk script of nested creates (`$work/writes.lua`), with the report line:
# WRITE_EVERY=N makes every Nth request a create and the others GET /products (10 is
# writes.sh's 90/10 mix). WRAP=1 sends the body
# Rails' strong parameters expect ({"review": {...}}), else ours (the fields).
# IDEMPOTENCY_KEYS=1 sends each create with an Idempotency-Key of its own.
cat >"$work/writes.lua" <<'LUA'
local review = '{"name":"Bench","message":"a review written under load","rate":3}'
local body = os.getenv("WRAP") == "1" and ('{"review":' .. review .. '}') or review
local headers = { ["Content-Type"] = "application/json" }
local n = 0
local every = tonumber(os.getenv("WRITE_EVERY") or "1")
local keys = os.getenv("IDEMPOTENCY_KEYS") == "1"
local threads = 0
-- Keys of one wrk run never meet those of another (the warm-up's).
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000))
setup = function(thread)
  threads = threads + 1
  thread:set("id", math.random(1, 100))
  thread:set("key_prefix", "bench-" .. run .. "-" .. threads .. "-")
end
request = function()
  n = n + 1
  if n % every == 0 then
    local product = (n + id) % 100 + 1
    if keys then headers["Idempotency-Key"] = key_prefix .. n end
    return wrk.format("POST", "/products/" .. product .. "/reviews", headers, body)
  end
  return wrk.format("GET", "/products")
end
LUA
cat "$report_lua" >>"$work/writes.lua"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# VmRSS and VmHWM of a process, in MiB.
rss() { awk '/^(VmRSS|VmHWM)/ {sub(":", "", $1); printf "%s=%.1fMiB ", $1, $2/1024}' "/proc/$1/status"; }
# wait_up PORT PATH [LOG]: waits for PATH to answer; otherwise stops the run, with the
# end of the server's LOG.
wait_up() {
  for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server on $1 did not start"
  if [ -n "${3:-}" ]; then tail -20 "$3"; fi
  exit 1
}

# Creates the products and reviews of a `{"products": [...]}` body through the API, in
# order (so ids match), over one keep-alive connection; or 100 x 5 synthetic rows
# without a body.
load_rows() {
  python3 - "$1" "${2:-}" <<'PY'
import http.client, json, sys
port, source = int(sys.argv[1]), sys.argv[2]
if source:
    products = json.load(open(source))["products"]
else:
    products = [{"title": f"Blend number {p}", "price": f"{p % 97 + 1}.{p * 7 % 100:02d}",
                 "reviews": [{"name": f"Reviewer {p}-{r}", "rate": (p + r) % 5 + 1,
                              "message": f"Review {r} of blend {p}: rich, round and a little sweet."}
                             for r in range(1, 6)]} for p in range(1, 101)]
conn = http.client.HTTPConnection("127.0.0.1", port)
def post(path, body):
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 201:
        sys.exit(f"POST {path}: {response.status} {data[:200]!r}")
    return response.getheader("location").rsplit("/", 1)[1]
for product in products:
    pid = post("/products", {"title": product["title"], "price": product["price"]})
    for review in product["reviews"]:
        post(f"/products/{pid}/reviews",
             {k: review[k] for k in ("name", "message", "rate")})
PY
}

# A fresh PostgreSQL cluster in the scratch folder; its port in $pgport and its
# socket folder in $pg_run. Arguments are more server options (`-c fsync=off`).
start_postgres() {
  local d="$work/pg"
  mkdir -p "$d/data" "$d/run"; chmod 755 "$d"
  chown postgres:postgres "$d/data" "$d/run"
  pgport="$(free_port)"
  pg_run="$d/run"
  runuser -u postgres -- initdb -D "$d/data" -A trust -U postgres -E UTF8 --no-locale >/dev/null
  runuser -u postgres -- pg_ctl -D "$d/data" -l "$d/run/log" -w \
    -o "-p $pgport -c listen_addresses=127.0.0.1 -k $d/run $*" start >/dev/null
  pg_data="$d/data"
}
stop_postgres() {
  if [ -n "$pg_data" ]; then runuser -u postgres -- pg_ctl -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true; fi
  pg_data=""
}
