#!/usr/bin/env bash
# Builds a statically linked release binary (static PIE: glibc and the unwinder linked in, so the
# dynamic loader has nothing to load). It is the fastest start for one-shot CGI, where every
# request starts a process: about 0.2 ms less per request than the default dynamic build on the
# machine we measured (scripts/bench-cgi.sh prints both, next to a C CGI program).
#
#   scripts/build-static.sh [CARGO BUILD ARGS…]     e.g. --example showcase
#
# The binary lands in target/<host triple>/release/. `--target` is what keeps the flag off the
# build's own proc-macros, which cannot be static. Host names in `--listen` are still resolved
# (glibc loads its NSS modules at run time, so build and run on the same distribution release).
# Copy this script next to your own application's Cargo.toml to build it the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
    *-linux-gnu*) ;;
    *) echo "build-static.sh: static glibc builds are for *-linux-gnu hosts, not $host" >&2; exit 2 ;;
esac
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$host" "$@"
echo "built: target/$host/release/ (static PIE)" >&2
