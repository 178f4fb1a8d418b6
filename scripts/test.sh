#!/usr/bin/env bash
# The project's test command (run as root): unit, property and known-answer tests, the
# network-namespace interop tests against FRR, BIRD and GoBGP, the fuzz targets for a bounded
# time each, and the lab's end-to-end check.
#
# Environment:
#   FUZZ_SECONDS   seconds per fuzz target (default 60; 0 skips fuzzing)
#   SKIP_LAB=1     skip the lab's end-to-end check
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
step() { printf '\n==> %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "scripts/test.sh needs root (network namespaces)"; exit 1; }

step "formatting (rustfmt)"
cargo fmt --all --check

step "build (all targets, benchmarks included)"
cargo build --workspace --all-targets --locked

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --profile ci
else
  cargo test --workspace --locked
fi

if [ "$FUZZ_SECONDS" != 0 ]; then
  step "fuzz: each target for $FUZZ_SECONDS s from the committed seeds"
  for target in $(cargo +nightly fuzz list --fuzz-dir fuzz); do
    corpus=$(mktemp -d)
    # A crash makes cargo fuzz exit non-zero, which fails this script (set -e).
    cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus" "fuzz/seeds/$target" -- \
      -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 2>&1 | tail -n 12
    rm -rf "$corpus"
  done
fi

if [ "${SKIP_LAB:-0}" != 1 ]; then
  step "lab: seed example fabric, our daemon on every router, then FRR leaves"
  # CARGO_TARGET_DIR, when set, moves the binaries out of ./target.
  lab="${CARGO_TARGET_DIR:-target}/debug/hna-lab"
  [ -x "$lab" ] || { echo "$lab is missing after the build"; exit 1; }
  # The first run also measures a link cut, a graceful restart and the all-FRR reference time.
  "$lab" test --failover --reference
  "$lab" test --leaves frr
else
  step "lab skipped (SKIP_LAB=1)"
fi
step "all tests passed"
