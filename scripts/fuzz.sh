#!/usr/bin/env bash
# Fuzz the parsers that read client bytes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh --build-only
#
# Runs each TARGET (default: every fuzz/fuzz_targets/*.rs) for SECONDS (default 60) with
# cargo-fuzz, and exits non-zero if any target finds a crash (its input is kept under
# fuzz/artifacts/TARGET/). There is no nightly toolchain here: RUSTC_BOOTSTRAP=1 lets stable
# rustc take the sanitizer flags cargo-fuzz passes. `--build-only` builds every target (one
# cargo build, the same flags `cargo fuzz run` uses, so a run after it builds nothing) and runs
# none: the test gate starts it early, in the background at the lowest priority.
#
# With FUZZ_LOG_DIR=DIR each target's output goes to DIR/TARGET.log and only one line per
# target reaches the terminal (the test gate does this, with target/fuzz-logs). With it,
# FUZZ_JOBS=N runs N targets at once (default 1); each fuzzer is one process on one core, so
# on a machine with N free cores every target still gets its SECONDS of a whole core.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build_only=
if [[ ${1:-} == --build-only ]]; then
    build_only=1
    shift
fi
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
# LLVM's libFuzzer as Debian ships it (libclang-rt-NN-dev, scripts/install-deps.sh), the newest
# there is: libfuzzer-sys links it instead of compiling its own copy of libFuzzer's C++, the
# longest step of the build. Without it, libfuzzer-sys builds its own, as before.
if [[ -z ${CUSTOM_LIBFUZZER_PATH:-} ]]; then
    prebuilt=$(compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" \
        | sort -V | tail -n 1 || true)
    if [[ -n $prebuilt ]]; then export CUSTOM_LIBFUZZER_PATH=$prebuilt; fi
fi
if [[ -n $build_only ]]; then
    cargo fuzz build
    echo "fuzz.sh: built every target" >&2
    exit 0
fi
failed=()
log_dir=${FUZZ_LOG_DIR:-}
jobs=${FUZZ_JOBS:-1}
if [[ -n $log_dir ]]; then mkdir -p "$log_dir"; else jobs=1; fi

build_each() {
    local target
    for target in "${targets[@]}"; do cargo fuzz build "$target" || return 1; done
}

# fuzz_one TARGET: one target's run, its output in its log; one line on the terminal.
fuzz_one() {
    local target=$1
    local log="$log_dir/$target.log"
    if cargo fuzz run "$target" -- -max_total_time="$seconds" >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 || true)
        echo "fuzz.sh: ${target}: no crash in ${seconds}s${runs:+ (${runs#Done })} (log: $log)" >&2
    else
        echo "fuzz.sh: ${target}: FAILED (log: $log; inputs in fuzz/artifacts/${target}/)" >&2
        return 1
    fi
}

if [[ -n $log_dir ]]; then
    # The build first (nothing to do when `--build-only` ran): runs started together would
    # otherwise wait on each other's build.
    if [[ $# -eq 0 ]]; then build=(cargo fuzz build); else build=(build_each); fi
    "${build[@]}" >"$log_dir/build.log" 2>&1 \
        || { echo "fuzz.sh: build FAILED (log: $log_dir/build.log)" >&2; exit 1; }
fi
running=()
for target in "${targets[@]}"; do
    if [[ -z $log_dir ]]; then
        echo "fuzz.sh: ${target} for ${seconds}s" >&2
        if ! cargo fuzz run "$target" -- -max_total_time="$seconds"; then
            failed+=("$target")
        fi
        continue
    fi
    fuzz_one "$target" &
    running+=("$!:$target")
    if [[ ${#running[@]} -ge $jobs ]]; then
        entry=${running[0]}
        running=("${running[@]:1}")
        wait "${entry%%:*}" || failed+=("${entry#*:}")
    fi
done
for entry in "${running[@]}"; do
    wait "${entry%%:*}" || failed+=("${entry#*:}")
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, no crash" >&2
