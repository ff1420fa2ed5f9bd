#!/usr/bin/env bash
# PostgreSQL nested creates alone, with how they were grouped: the generated shop
# backend (release build) on a fresh PostgreSQL cluster, 100 products x 5 reviews
# created through the API, then POST /products/{id}/reviews (ids 1..100 in turn) at
# wrk -t2 -c32 for the duration after a 2 s warm-up. Prints wrk's figures and, from the
# backend's /metrics, the group statements (`shopgen_pg_group_inserts_total`) and the
# rows they wrote, so a reader sees how many creates one statement carried; and, from
# the server's pg_stat_wal, its WAL flushes, how many creates one flush carried, and
# (with --pg-option track_wal_io_timing=on) the milliseconds spent flushing.
#
# For a figure against Rails use writes.sh (same run, same loads); this one is for
# looking at the PostgreSQL write path alone, e.g. under a server option
# (--pg-option fsync=off tells whether WAL flushes bound the figure) or with busy
# neighbours on the cores (--busy N: N busy shell loops at nice 10 during the load).
#
# --bin PATH runs another build of the backend (an A/B of two builds, alternating runs);
# it implies --no-build. --keys sends every create with an Idempotency-Key of its own
# (a transaction per create, not grouped: docs/api.md, "Sending a create again").
#
#   benches/backend/pg-writes.sh [--duration 10s] [--pg-option NAME=VALUE ...]
#                                [--busy N] [--no-build] [--bin PATH] [--keys]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"

DURATION=10s
BUILD=1
BUSY=0
BIN=""
pg_options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --pg-option) pg_options+=(-c "$2"); shift 2 ;;
    --busy) BUSY="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --bin) BIN="$2"; BUILD=0; shift 2 ;;
    --keys) export IDEMPOTENCY_KEYS=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ "$BUILD" = 1 ] && cargo build --release -q -p shop-backend
BIN="${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/shop-backend}"

. "$ROOT/benches/backend/common.sh"

start_postgres "${pg_options[@]}"
port="$(free_port)"
HOST=127.0.0.1 PORT="$port" DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/postgres" \
  LOG_LEVEL=warn "$BIN" >"$work/backend.log" 2>&1 &
pids+=("$!")
wait_up "$port" /healthz "$work/backend.log"
load_rows "$port"


for _ in $(seq 1 "$BUSY"); do
  nice -n 10 sh -c 'while :; do :; done' &
  pids+=("$!")
done
metric() { curl -fsS "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
wrk -t2 -c32 -d2s -s "$work/writes.lua" "http://127.0.0.1:$port/" >/dev/null
# WAL flushes and the milliseconds spent in them (the time only with
# --pg-option track_wal_io_timing=on), from pg_stat_wal.
wal() { psql -qAtX -F ' ' -h 127.0.0.1 -p "$pgport" -U postgres -c 'SELECT wal_sync, round(wal_sync_time) FROM pg_stat_wal' postgres; }
read -r syncs_before sync_ms_before <<<"$(wal)"
groups_before="$(metric shopgen_pg_group_inserts_total)"
rows_before="$(metric shopgen_pg_group_insert_rows_total)"
line="$(wrk -t2 -c32 -d"$DURATION" --timeout 10s -s "$work/writes.lua" "http://127.0.0.1:$port/" | grep '^BENCH')"
groups=$(( $(metric shopgen_pg_group_inserts_total) - ${groups_before:-0} ))
rows=$(( $(metric shopgen_pg_group_insert_rows_total) - ${rows_before:-0} ))
read -r syncs_after sync_ms_after <<<"$(wal)"
syncs=$(( syncs_after - ${syncs_before:-0} ))
sync_ms=$(( sync_ms_after - ${sync_ms_before:-0} ))
echo "nested creates: $line"
awk -v g="$groups" -v r="$rows" 'BEGIN { printf "group statements %d, rows in them %d, %.1f rows per statement\n", g, r, (g > 0 ? r / g : 0) }'
awk -v s="$syncs" -v ms="$sync_ms" -v l="$line" 'BEGIN { split(l, f, " "); n = 0; for (i in f) if (f[i] ~ /^requests=/) { sub("requests=", "", f[i]); n = f[i] } printf "WAL flushes %d, %.1f creates per flush, %d ms in them\n", s, (s > 0 ? n / s : 0), ms }'
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL options: ${pg_options[*]:-none}; busy loops: $BUSY; idempotency keys: ${IDEMPOTENCY_KEYS:-0}"
