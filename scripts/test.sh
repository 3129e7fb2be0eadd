#!/usr/bin/env bash
# The one test gate (README, .ci/run): installs what the tests need when it is missing, then
# format check, clippy with warnings denied, unit + integration + end-to-end tests (real nginx,
# Apache, lighttpd, spawn-fcgi, cgi-fcgi), the shell-script request tests, and a short run of
# every fuzz target. Environment:
#   FUZZ_SECONDS=N      seconds per fuzz target (default 10; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "installing test dependencies (only what is missing)"
scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "build the binary and the examples"
cargo build --locked --all-targets

step "cargo test (unit, integration, end-to-end, doc)"
cargo test --locked --no-fail-fast

step "shell-script request tests"
PYCNIC_BIN="$PWD/target/debug/pycnic" SHOWCASE_BIN="$PWD/target/debug/examples/showcase" \
    sh tests/shell/run.sh

fuzz_seconds=${FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" -gt 0 ]; then
    step "fuzz every parser for ${fuzz_seconds}s each"
    scripts/fuzz.sh "$fuzz_seconds"
fi

printf '\n==> test gate passed in %ss\n' "$(( $(date +%s) - started ))"
