#!/usr/bin/env bash
# FastCGI throughput and latency through a real nginx, side by side in one run (loopback only):
#   nginx `return 200` itself (the floor), pycnic over TCP with a new upstream connection per
#   request, pycnic with kept-alive upstream connections (fastcgi_keep_conn + keepalive), the
#   same over a unix socket, and PHP-FPM answering the same JSON (the usual peer) when
#   php-fpm is installed or can be (PEER_PHP=0 skips it).
# Each configuration runs ROUNDS times, interleaved; the medians of requests/s and p99 are
# printed, with resident memory of the pycnic server idle and at its peak under load.
# Usage: scripts/bench-fastcgi.sh [SECONDS_PER_RUN] [ROUNDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-3}
conns=${3:-32}
for tool in nginx wrk; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
        echo "$tool missing: run scripts/install-deps.sh" >&2; exit 2; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

php_fpm=
if [ "${PEER_PHP:-1}" = 1 ]; then
    php_fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -1 || true)
    if [ -z "$php_fpm" ] && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q php-fpm >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q php-fpm >/dev/null 2>&1; }) || true
        php_fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -1 || true)
    fi
fi

cargo build --release --locked -q
bin="$PWD/target/release/pycnic"
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1; logs:" >&2
    tail -n 20 "$work"/*.log >&2 || true
    return 1
}

fcgi_port=$(free_port)
RUST_LOG=warn "$bin" fastcgi --listen "127.0.0.1:$fcgi_port" --listen "unix:$work/pycnic.sock" \
    --socket-mode 666 2>"$work/pycnic.log" &
app_pid=$!; pids+=("$app_pid")
wait_port "$fcgi_port"

php_upstream=
if [ -n "$php_fpm" ]; then
    php_port=$(free_port)
    cat > "$work/login.php" <<'PHP'
<?php
header('Content-Type: application/json');
echo json_encode(['session_id' => $_COOKIE['session_id'] ?? null]);
PHP
    cat > "$work/php-fpm.conf" <<EOF
[global]
error_log = $work/php-fpm.log
daemonize = no
[bench]
listen = 127.0.0.1:$php_port
pm = static
pm.max_children = 4
clear_env = no
EOF
    "$php_fpm" -n -y "$work/php-fpm.conf" -R -F 2>>"$work/php-fpm.log" &
    pids+=("$!")
    wait_port "$php_port"
    php_upstream="server 127.0.0.1:$php_port;"
fi

declare -A port
for name in floor tcp_new tcp_keep unix_keep php_keep; do port[$name]=$(free_port); done
php_blocks=
if [ -n "$php_upstream" ]; then
    php_blocks="upstream php { $php_upstream keepalive $((conns * 2)); }
    server { listen 127.0.0.1:${port[php_keep]};
        location / { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $work/login.php;
                     fastcgi_keep_conn on; fastcgi_pass php; } }"
fi
cat > "$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
user root;
events { worker_connections 4096; }
http {
    access_log off;
    upstream pycnic_tcp  { server 127.0.0.1:$fcgi_port; keepalive $((conns * 2)); }
    upstream pycnic_unix { server unix:$work/pycnic.sock; keepalive $((conns * 2)); }
    server { listen 127.0.0.1:${port[floor]};
        location / { default_type application/json; return 200 '{"session_id":null}'; } }
    server { listen 127.0.0.1:${port[tcp_new]};
        location / { include /etc/nginx/fastcgi_params; fastcgi_pass 127.0.0.1:$fcgi_port; } }
    server { listen 127.0.0.1:${port[tcp_keep]};
        location / { include /etc/nginx/fastcgi_params; fastcgi_keep_conn on; fastcgi_pass pycnic_tcp; } }
    server { listen 127.0.0.1:${port[unix_keep]};
        location / { include /etc/nginx/fastcgi_params; fastcgi_keep_conn on; fastcgi_pass pycnic_unix; } }
    $php_blocks
}
EOF
"$nginx_bin" -p "$work" -c "$work/nginx.conf" 2>>"$work/nginx-error.log" &
pids+=("$!")
wait_port "${port[floor]}"

configs=(floor tcp_new tcp_keep unix_keep)
[ -n "$php_upstream" ] && configs+=(php_keep)
# Each answers before anything is timed.
for name in "${configs[@]}"; do
    body=$(curl -sS "http://127.0.0.1:${port[$name]}/login")
    echo "$name: $body"
done

rss() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
idle_rss=$(rss "$app_pid" VmRSS)

for round in $(seq "$rounds"); do
    for name in "${configs[@]}"; do
        wrk -t1 -c"$conns" -d"${seconds}s" --latency "http://127.0.0.1:${port[$name]}/login" \
            > "$work/wrk-$name-$round.txt"
    done
done
peak_rss=$(rss "$app_pid" VmHWM)

python3 - "$work" "$rounds" "${configs[@]}" <<'PY'
import re, statistics, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
label = {"floor": "nginx return 200 (floor)", "tcp_new": "pycnic TCP, new connection",
         "tcp_keep": "pycnic TCP, keep-alive", "unix_keep": "pycnic unix, keep-alive",
         "php_keep": "PHP-FPM TCP, keep-alive"}
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
rows = {}
for name in names:
    rps, p99, errors = [], [], 0
    for r in range(1, rounds + 1):
        out = open(f"{work}/wrk-{name}-{r}.txt").read()
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
        p99.append(ms(re.search(r"99%\s+(\S+)", out).group(1)))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors += int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: (.*)", out)
        errors += sum(int(x) for x in re.findall(r"\d+", m.group(1))) if m else 0
    rows[name] = (statistics.median(rps), statistics.median(p99), errors)
floor = rows["floor"][0]
print(f"\n{'configuration':<30} {'req/s':>9} {'x floor':>8} {'p99 ms':>8} {'errors':>7}")
for name in names:
    rps, p99, errors = rows[name]
    print(f"{label[name]:<30} {rps:>9.0f} {rps/floor:>8.2f} {p99:>8.2f} {errors:>7}")
if "php_keep" in rows:
    print(f"pycnic keep-alive / PHP-FPM keep-alive: x{rows['tcp_keep'][0]/rows['php_keep'][0]:.2f} req/s")
PY
echo "pycnic resident memory: idle ${idle_rss} kB, peak under load $peak_rss kB"
echo "(medians of $rounds interleaved ${seconds}s runs, wrk -t1 -c$conns, nginx worker_processes 1)"
