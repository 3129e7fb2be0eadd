#!/usr/bin/env bash
# Fuzz the parsers that read client bytes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each TARGET (default: every fuzz/fuzz_targets/*.rs) for SECONDS (default 60) with
# cargo-fuzz, one after another, and exits non-zero if any target finds a crash (its input is
# kept under fuzz/artifacts/TARGET/). There is no nightly toolchain here: RUSTC_BOOTSTRAP=1
# lets stable rustc take the sanitizer flags cargo-fuzz passes.
#
# With FUZZ_LOG_DIR=DIR each target's output goes to DIR/TARGET.log and only one line per
# target reaches the terminal (the test gate does this, with target/fuzz-logs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    for file in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$file" .rs)")
    done
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
failed=()
log_dir=${FUZZ_LOG_DIR:-}
if [[ -n $log_dir ]]; then mkdir -p "$log_dir"; fi
for target in "${targets[@]}"; do
    if [[ -z $log_dir ]]; then
        echo "fuzz.sh: ${target} for ${seconds}s" >&2
        if ! cargo fuzz run "$target" -- -max_total_time="$seconds"; then
            failed+=("$target")
        fi
        continue
    fi
    log="$log_dir/$target.log"
    if cargo fuzz run "$target" -- -max_total_time="$seconds" >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 || true)
        echo "fuzz.sh: ${target}: no crash in ${seconds}s${runs:+ (${runs#Done })} (log: $log)" >&2
    else
        echo "fuzz.sh: ${target}: FAILED (log: $log; inputs in fuzz/artifacts/${target}/)" >&2
        failed+=("$target")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, no crash" >&2
