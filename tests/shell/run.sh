#!/bin/sh
# Runs every tests/shell/*.sh (but this one) against $PYCNIC_BIN, $SHOWCASE_BIN and
# $SESSIONS_BIN (default target/debug/pycnic, target/debug/examples/showcase and sessions) and prints one total line
# "N passed, N failed"; exit 1 on any failure. A script that ends without its own summary
# line counts as one failure.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PYCNIC_BIN=${PYCNIC_BIN:-$root/target/debug/pycnic}
SHOWCASE_BIN=${SHOWCASE_BIN:-$root/target/debug/examples/showcase}
SESSIONS_BIN=${SESSIONS_BIN:-$root/target/debug/examples/sessions}
export PYCNIC_BIN SHOWCASE_BIN SESSIONS_BIN

out=$(mktemp "${TMPDIR:-/tmp}/pycnic-shell.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT
trap 'rm -f "$out"; exit 130' INT TERM HUP

passed=0
failed=0
for script in "$here"/*.sh; do
    [ "$(basename "$script")" = run.sh ] && continue
    echo "== $(basename "$script")"
    sh "$script" >"$out" 2>&1
    cat "$out"
    summary=$(tail -n 1 "$out")
    case $summary in
    *' passed, '*' failed')
        p=${summary%% passed,*}
        f=${summary#*passed, }
        f=${f%% failed}
        passed=$((passed + p))
        failed=$((failed + f))
        ;;
    *)
        echo "FAIL $(basename "$script"): ended without a summary line"
        failed=$((failed + 1))
        ;;
    esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
