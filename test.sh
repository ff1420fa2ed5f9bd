#!/usr/bin/env bash
# Every test shopgen has: formatting, lints, the drift check, and the whole test suite
# (compiler, runtimes, the generated crates started as real processes against SQLite
# and a throwaway PostgreSQL). Run from the repository root: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "shopgen check: every checked-in generated/ folder is current"
cargo build --quiet -p shopgen
for spec in specs/*.toml; do
  "${CARGO_TARGET_DIR:-target}/debug/shopgen" check "$spec"
done

step "shopgen links no server stack unless built with the up feature"
if cargo tree -p shopgen -e normal --prefix none | grep -E '^(tokio|hyper|axum) '; then
  echo "error: the shopgen package links the crates above without the up feature" >&2
  exit 1
fi

# `shopgen up` is the `up` feature of the shopgen package (it links the server stack);
# everything below builds and tests with it, and clippy also checks the build without.
step "cargo clippy (workspace, generated crates included)"
cargo clippy --workspace --all-targets --features shopgen/up --quiet -- -D warnings
cargo clippy -p shopgen --all-targets --quiet -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --features shopgen/up --no-deps --quiet

step "cargo build (the binaries the integration tests start)"
cargo build --workspace --bins --features shopgen/up

step "cargo test"
cargo test --workspace --features shopgen/up --no-fail-fast
