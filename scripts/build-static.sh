#!/usr/bin/env bash
# Builds a statically linked release binary (static PIE: glibc and the unwinder linked in, so the
# dynamic loader has nothing to load). It is the fastest start for one-shot CGI, where every
# request starts a process: scripts/bench-cgi.sh measures it next to the default dynamic build
# and a C CGI program.
#
#   scripts/build-static.sh [--no-pie] [CARGO BUILD ARGS…]     e.g. --example showcase
#
# The binary lands in target/<host triple>/release/. `--target` is what keeps the flag off the
# build's own proc-macros, which cannot be static. Host names in `--listen` are still resolved
# (glibc loads its NSS modules at run time, so build and run on the same distribution release).
#
# --no-pie builds a static executable at a fixed address instead, in
# target/no-pie/<host triple>/release/. A PIE applies about 10,000 relocations to some 40
# pages of pointer tables each time it starts; at a fixed address there are none, which saves
# another 0.1–0.3 ms per CGI call on the machine we measured. The price is address-space
# layout randomisation for the binary's own code and data (the stack, heap and mappings are
# still randomised): a memory-safety bug, in the bundled SQLite say, would be easier to
# exploit. Use it only where that trade is yours to make.
#
# Copy this script next to your own application's Cargo.toml to build it the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
    *-linux-gnu*) ;;
    *) echo "build-static.sh: static glibc builds are for *-linux-gnu hosts, not $host" >&2; exit 2 ;;
esac
flags="-C target-feature=+crt-static"
dir=${CARGO_TARGET_DIR:-target}
what="static PIE"
if [ "${1:-}" = --no-pie ]; then
    shift
    flags+=" -C relocation-model=static"
    dir=$dir/no-pie
    what="static, not PIE"
fi
RUSTFLAGS="${RUSTFLAGS:-} $flags" CARGO_TARGET_DIR="$dir" \
    cargo build --release --locked --target "$host" "$@"
echo "built: $dir/$host/release/ ($what)" >&2
