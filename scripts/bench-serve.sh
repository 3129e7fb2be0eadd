#!/usr/bin/env bash
# `pycnic serve` next to its peers, in one run: PHP's built-in server (`php -S`, a router
# script answering the same bytes) and a minimal tiny_http hello (scripts/bench/tiny-hello),
# each answering the seed's GET /login ({"session_id":null}) on loopback. wrk drives each for
# SECONDS with CONNECTIONS kept-alive connections; ROUNDS rounds rotate the order, and the
# figures are each server's median requests per second over the rounds and its ratio to
# pycnic's. The bar for `serve` is being pleasant and correct, not fast: it is a development
# server. Usage: scripts/bench-serve.sh [SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
connections=${2:-8}
rounds=${3:-3}
for cmd in wrk php curl python3; do
    command -v "$cmd" >/dev/null || { echo "$cmd missing: scripts/install-deps.sh" >&2; exit 2; }
done

cargo build --release --locked -q
CARGO_TARGET_DIR="$PWD/target/bench-tiny" cargo build --release --locked -q \
    --manifest-path scripts/bench/tiny-hello/Cargo.toml
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/router.php" <<'PHP'
<?php
header('Content-Type: application/json');
echo '{"session_id":null}';
PHP

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {
    for _ in $(seq 1 200); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.05
    done
    echo "no answer from $1" >&2
    exit 1
}

declare -A url
port=$(free_port)
target/release/pycnic serve --listen "127.0.0.1:$port" 2>/dev/null &
pids+=($!)
url[pycnic-serve]="http://127.0.0.1:$port/login"
port=$(free_port)
php -S "127.0.0.1:$port" "$work/router.php" >/dev/null 2>&1 &
pids+=($!)
url[php-S]="http://127.0.0.1:$port/login"
port=$(free_port)
target/bench-tiny/release/tiny-hello "127.0.0.1:$port" &
pids+=($!)
url[tiny_http]="http://127.0.0.1:$port/login"
names=(pycnic-serve php-S tiny_http)
for name in "${names[@]}"; do wait_for "${url[$name]}"; done
body=$(curl -s "${url[pycnic-serve]}")
[ "$body" = '{"session_id":null}' ] || { echo "pycnic answered $body" >&2; exit 1; }

declare -A samples
for round in $(seq 0 $((rounds - 1))); do
    for i in 0 1 2; do
        name=${names[$(((i + round) % 3))]}
        rps=$(wrk -t1 -c"$connections" -d"${seconds}s" "${url[$name]}" |
            awk '/^Requests\/sec/ { print $2 }')
        samples[$name]="${samples[$name]:-} $rps"
    done
done

echo "GET /login, wrk -t1 -c$connections -d${seconds}s, $rounds rounds, median requests/s:"
python3 - "${samples[pycnic-serve]}" "${samples[php-S]}" "${samples[tiny_http]}" <<'PY'
import statistics, sys
names = ["pycnic serve", "php -S", "tiny_http hello"]
medians = [statistics.median(float(x) for x in arg.split()) for arg in sys.argv[1:]]
for name, median in zip(names, medians):
    print(f"  {name:16} {median:10.0f} req/s   pycnic serve / this = {medians[0] / median:.2f}")
PY
