#!/usr/bin/env bash
# The one test gate (README, .ci/run). It INSTALLS SYSTEM PACKAGES when they are missing:
# nginx, Apache (+ mod_fcgid), lighttpd, spawn-fcgi, cgi-fcgi, systemd tools, curl, wrk,
# hyperfine, redis-server, memcached (and the benchmarks' gcc, libfcgi-dev, php-fpm) with
# apt-get (root or sudo, network), and cargo-fuzz with `cargo install`. Then:
# format check, clippy with warnings denied, the docs with warnings denied, unit + integration +
# end-to-end tests (real nginx, Apache, lighttpd, spawn-fcgi, cgi-fcgi), the shell-script
# request tests, and a short run of every fuzz target (output in target/fuzz-logs/TARGET.log).
# Every step runs even when an earlier one failed; the last lines are the summary, each step
# with its time (the package install included, about 3 minutes on a fresh machine).
#
# Where the time goes and what keeps it down: the compile steps share their work (clippy
# checks what `cargo doc` reuses; `cargo build --all-targets` builds what `cargo test` runs,
# three integration-test binaries rather than one per file, and the user-app test builds in the
# same target/); the fuzz targets' build (release, AddressSanitizer: a second build of every
# dependency) starts in the background at the lowest priority as soon as the checks start, so
# it takes only the CPU the other steps leave idle (links, and tests waiting on timers); and
# the fuzz targets run as many at once as there are cores, each on a core of its own.
#
#   scripts/test.sh               install what is missing, then test
#   scripts/test.sh --no-install  install nothing: name what is missing and stop (exit 1)
#
# Environment:
#   FUZZ_SECONDS=N      seconds per fuzz target (default 10; 0 skips fuzzing)
set -uo pipefail
cd "$(dirname "$0")/.."

install=1
case "${1:-}" in
    --no-install) install= ;;
    "") ;;
    *) echo "usage: scripts/test.sh [--no-install]" >&2; exit 2 ;;
esac

started=$(date +%s)
names=()
results=()
times=()

# record NAME STATUS SECONDS: a step in the summary.
record() {
    names+=("$1")
    if [ "$2" -eq 0 ]; then results+=(ok); else results+=(FAILED); fi
    times+=("$3")
}

# step NAME COMMAND...: runs it, records ok/failed and its time.
step() {
    local name=$1
    shift
    printf '\n==> %s\n' "$name"
    local begin status=0
    begin=$(date +%s)
    "$@" || status=$?
    record "$name" "$status" "$(( $(date +%s) - begin ))"
}

if [ -n "$install" ]; then
    echo "test.sh: installs missing system packages (apt-get: root or sudo, network) and"
    echo "test.sh: cargo-fuzz (cargo install); run with --no-install to only check for them."
    printf '\n==> installing test dependencies (only what is missing)\n'
    begin=$(date +%s)
    scripts/install-deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }
    record "install test dependencies (only what is missing)" 0 "$(( $(date +%s) - begin ))"
else
    printf '==> checking test dependencies (--no-install)\n'
    scripts/install-deps.sh --check || {
        echo "test.sh: stopped: install the above, or run scripts/test.sh without --no-install" >&2
        exit 1
    }
fi

fuzz_seconds=${FUZZ_SECONDS:-10}
fuzz_build=
if [ "$fuzz_seconds" -gt 0 ]; then
    mkdir -p target/fuzz-logs
    # In a session of its own (setsid), so that it can be stopped whole. A new session is also
    # a new scheduling autogroup on Linux (kernel.sched_autogroup_enabled), and CPU is shared
    # fairly between autogroups whatever the nice of the processes in them: the build would
    # take a whole core from clippy and the build (measured: both steps took twice as long).
    # So the group itself gets nice 19 (/proc/self/autogroup; anyone may lower their own).
    setsid sh -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 "$0" --build-only' \
        scripts/fuzz.sh >target/fuzz-logs/build-early.log 2>&1 &
    fuzz_build=$!
    trap 'kill -TERM -- "-$fuzz_build" 2>/dev/null' EXIT
fi

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy --all-targets --locked -- -D warnings
step "cargo clippy, no session store features" \
    cargo clippy --lib --locked --no-default-features -- -D warnings
step "cargo doc -D warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked
step "build the binary and the examples" cargo build --locked --all-targets
# The end-to-end tests mostly wait (on servers starting, timeouts, idle sessions), so they run
# 8 at a time (85 s with libtest's default of one per core, 26 s so); the load and fault tests
# keep the default, and take turns where they flood the machine (tests/load/main.rs).
# (cargo takes --doc only alone.)
unit_and_load() {
    local status=0
    cargo test --locked --no-fail-fast --lib --bins --test fast --test load || status=1
    cargo test --locked --no-fail-fast --doc || status=1
    return "$status"
}
step "cargo test (unit, fast in-process, load and faults, doc)" unit_and_load
step "cargo test (end-to-end with real servers, 8 at a time)" \
    cargo test --locked --no-fail-fast --test e2e -- --test-threads 8
step "shell-script request tests" env PYCNIC_BIN="$PWD/target/debug/pycnic" \
    SHOWCASE_BIN="$PWD/target/debug/examples/showcase" sh tests/shell/run.sh

# fuzz_all: waits for the early build, back at normal priority if it is still running (at the
# lowest it would crawl on a machine others are using; renice needs root, as CI runs, and
# without it the build goes on as it was), then runs every target, one per core at a time. A
# failed early build shows again in fuzz.sh's own (target/fuzz-logs/build.log).
fuzz_all() {
    renice -n 0 -g "$fuzz_build" >/dev/null 2>&1
    echo 0 >"/proc/$fuzz_build/autogroup" 2>/dev/null
    wait "$fuzz_build" 2>/dev/null
    FUZZ_LOG_DIR="$PWD/target/fuzz-logs" FUZZ_JOBS="$(nproc)" scripts/fuzz.sh "$fuzz_seconds"
}
if [ "$fuzz_seconds" -gt 0 ]; then
    step "fuzz every parser for ${fuzz_seconds}s each" fuzz_all
fi

passed=0
failed=0
printf '\n==> summary\n'
for i in "${!names[@]}"; do
    printf '%-8s %5ss  %s\n' "${results[$i]}" "${times[$i]}" "${names[$i]}"
    if [ "${results[$i]}" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
printf 'total %ss: %d passed, %d failed\n' "$(( $(date +%s) - started ))" "$passed" "$failed"
[ "$failed" -eq 0 ]
