#!/usr/bin/env bash
# Every test shopgen has: formatting, lints, the drift check, and the whole test suite
# (compiler, runtimes, the generated crates started as real processes against SQLite
# and a throwaway PostgreSQL). Run from the repository root: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

# Everything the tests run, the binaries they start and the test binaries, in one
# build: one resolution of dependency features, so `cargo test` below compiles nothing
# again, and the builds the tests make themselves (`shopgen up`, scratch workspaces)
# reuse it (compiler/tests/suite/builds.rs).
step "cargo build (the binaries and the tests)"
cargo build --workspace --bins --tests

step "shopgen check: every checked-in generated/ folder is current"
for spec in specs/*.toml; do
  "${CARGO_TARGET_DIR:-target}/debug/shopgen" check "$spec"
done

# `shopgen up` builds its runner (`tools/shopgen-up`: tokio, hyper, the gateway
# emulator) as a binary of its own; the shopgen package itself must not link a server
# stack.
step "shopgen links no server stack"
if cargo tree -p shopgen -e normal --prefix none | grep -E '^(tokio|hyper|axum) '; then
  echo "error: the shopgen package links the crates above; they belong in the runner of shopgen up (tools/shopgen-up)" >&2
  exit 1
fi

step "cargo clippy (workspace, generated crates included)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "cargo test"
cargo test --workspace --no-fail-fast
