#!/usr/bin/env bash
# FastCGI behind a real nginx, side by side in one interleaved run (loopback only). Every app
# answers GET /login with `Cookie: session_id=abc` by {"session_id":"abc"}, as the pycnic seed
# does:
#   limit    scripts/bench/minimal_fcgi.c: one thread, one epoll loop, one write per answer;
#            the most any FastCGI app can reach behind this nginx on this machine
#   pycnic   target/release/pycnic fastcgi (the seed binary)
#   libfcgi  scripts/bench/libfcgi_login.c: the classic C libfcgi accept loop (needs
#            libfcgi-dev; skipped when missing), one process per mode
#   php-fpm  a PHP script under php-fpm, pm static, 4 children per mode (skipped when missing,
#            or with PEER_PHP=0)
# in four modes at 32 connections: TCP with a new upstream connection per request, TCP with
# kept-alive upstream connections (keepalive + fastcgi_keep_conn), the same two over a unix
# socket (limit and pycnic only); and both TCP modes again at 256 connections.
# nginx (worker_processes 1) and the apps are pinned to CPU 0, wrk to CPU 1 (taskset), as a
# user's single-core share would be. Each configuration runs ROUNDS times, interleaved (each
# round rotates the order of a mode's apps by one); the table prints medians of req/s, p50
# and p99 (wrk --latency through a Lua done() hook, in a fixed format), timeouts and errors
# summed over the rounds, and req/s as a ratio to the limit in the same mode, with pycnic's
# ratio round by round under each mode. Absolute figures move with the machine's load;
# ratios less so.
# Usage: scripts/bench-fastcgi.sh [SECONDS_PER_RUN] [ROUNDS]
#   environment: CONNS (32) and CONNS_HIGH (256, 0 skips) connection counts, PEER_PHP=0
#   skips PHP-FPM, BENCH_KEEP=1 keeps the work directory (configurations, wrk outputs, logs)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-3}
conns=${CONNS:-32}
conns_high=${CONNS_HIGH:-256}
source scripts/bench/common.sh
need_tools nginx wrk gcc taskset curl python3
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (apps on CPU 0, wrk on CPU 1)" >&2; exit 2; }

cargo build --release --locked -q
bin="$PWD/target/release/pycnic"

gcc -O2 -Wall -Wextra -o "$work/minimal_fcgi" scripts/bench/minimal_fcgi.c
have_libfcgi=
if [ -e /usr/include/fcgiapp.h ]; then
    gcc -O2 -Wall -Wextra -o "$work/libfcgi_login" scripts/bench/libfcgi_login.c -lfcgi
    have_libfcgi=1
else
    echo "libfcgi-dev missing: no C libfcgi peer (scripts/install-deps.sh installs it)" >&2
fi
php_fpm=
if [ "${PEER_PHP:-1}" = 1 ]; then
    php_fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -1 || true)
    [ -n "$php_fpm" ] || echo "php-fpm missing: no PHP-FPM peer" >&2
fi

# Started as `$cpu0 program &` (not through a function), so that $! is the program itself.
cpu0="taskset -c 0"

# The apps, each on CPU 0. The event-loop servers (limit, pycnic) serve every mode from one
# process; libfcgi and PHP-FPM get one process (pool) per mode, because the connection nginx
# keeps alive holds a libfcgi process, or a PHP-FPM child, for as long as it stays open.
declare -A upstream   # "<app> <mode>" -> the address nginx passes to
limit_port=$(free_port)
$cpu0 "$work/minimal_fcgi" --listen "127.0.0.1:$limit_port" --listen "unix:$work/limit.sock" \
    2>"$work/limit.log" &
pids+=("$!")
wait_port "$limit_port"
upstream[limit tcp_new]="127.0.0.1:$limit_port"
upstream[limit tcp_keep]="127.0.0.1:$limit_port"
upstream[limit unix_new]="unix:$work/limit.sock"
upstream[limit unix_keep]="unix:$work/limit.sock"

pycnic_port=$(free_port)
RUST_LOG=warn $cpu0 "$bin" fastcgi --listen "127.0.0.1:$pycnic_port" \
    --listen "unix:$work/pycnic.sock" --socket-mode 666 2>"$work/pycnic.log" &
app_pid=$!; pids+=("$app_pid")
wait_port "$pycnic_port"
upstream[pycnic tcp_new]="127.0.0.1:$pycnic_port"
upstream[pycnic tcp_keep]="127.0.0.1:$pycnic_port"
upstream[pycnic unix_new]="unix:$work/pycnic.sock"
upstream[pycnic unix_keep]="unix:$work/pycnic.sock"
apps=(limit pycnic)

if [ -n "$have_libfcgi" ]; then
    for mode in tcp_new tcp_keep; do
        libfcgi_port=$(free_port)
        $cpu0 "$work/libfcgi_login" "127.0.0.1:$libfcgi_port" 2>"$work/libfcgi-$mode.log" &
        pids+=("$!")
        wait_port "$libfcgi_port"
        upstream[libfcgi $mode]="127.0.0.1:$libfcgi_port"
    done
    apps+=(libfcgi)
fi

if [ -n "$php_fpm" ]; then
    php_new=$(free_port)
    php_keep=$(free_port)
    cat > "$work/login.php" <<'PHP'
<?php
header('Content-Type: application/json');
echo json_encode(['session_id' => $_COOKIE['session_id'] ?? null]);
PHP
    cat > "$work/php-fpm.conf" <<EOF
[global]
error_log = $work/php-fpm.log
daemonize = no
[new]
listen = 127.0.0.1:$php_new
pm = static
pm.max_children = 4
clear_env = no
[keep]
listen = 127.0.0.1:$php_keep
pm = static
pm.max_children = 4
clear_env = no
EOF
    $cpu0 "$php_fpm" -n -y "$work/php-fpm.conf" -R -F 2>>"$work/php-fpm.log" &
    pids+=("$!")
    wait_port "$php_new"
    wait_port "$php_keep"
    upstream[php-fpm tcp_new]="127.0.0.1:$php_new"
    upstream[php-fpm tcp_keep]="127.0.0.1:$php_keep"
    apps+=(php-fpm)
fi

# One nginx server (port) per app and mode.
modes=(tcp_new tcp_keep unix_new unix_keep)
declare -A port
servers=
upstreams=
for app in "${apps[@]}"; do
    for mode in "${modes[@]}"; do
        transport=${mode%_*}
        addr=${upstream[$app $mode]:-}
        [ -n "$addr" ] || continue
        p=$(free_port)
        port[$app $mode]=$p
        script=
        [ "$app" = php-fpm ] && script="fastcgi_param SCRIPT_FILENAME $work/login.php;"
        if [ "${mode#*_}" = keep ]; then
            name="up_${app//-/_}_$transport"
            upstreams+="upstream $name { server $addr; keepalive 512; }
    "
            pass="fastcgi_keep_conn on; fastcgi_pass $name;"
        else
            pass="fastcgi_pass $addr;"
        fi
        servers+="server { listen 127.0.0.1:$p backlog=4096;
        location / { include /etc/nginx/fastcgi_params; $script $pass } }
    "
    done
done
write_nginx_conf 8192 "$upstreams
    $servers"
$cpu0 "$nginx_bin" -p "$work" -c "$work/nginx.conf" 2>>"$work/nginx-error.log" &
pids+=("$!")
first_key=$(printf '%s\n' "${!port[@]}" | head -1)
wait_port "${port[$first_key]}"

# Every configuration answers correctly before anything is timed.
want='{"session_id":"abc"}'
configs=()
for mode in "${modes[@]}"; do
    for app in "${apps[@]}"; do
        p=${port[$app $mode]:-}
        [ -n "$p" ] || continue
        body=$(curl -sS -H 'Cookie: session_id=abc' "http://127.0.0.1:$p/login")
        if [ "$body" != "$want" ]; then
            echo "$app $mode answers $body, not $want" >&2
            tail -n 20 "$work"/*.log >&2 || true
            exit 1
        fi
        configs+=("$app:$mode")
    done
done
echo "every configuration answers $want: ${configs[*]}"

write_wrk_report

rss() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
idle_rss=$(rss "$app_pid" VmRSS)

levels=("$conns")
[ "$conns_high" -gt 0 ] && levels+=("$conns_high")
runs=0
for round in $(seq "$rounds"); do
    for level in "${levels[@]}"; do
        for mode in "${modes[@]}"; do
            # At the high level only the TCP modes run.
            if [ "$level" != "$conns" ] && [ "${mode%_*}" != tcp ]; then continue; fi
            # This mode's apps, in an order rotated by one each round, so that no app always
            # runs right after the same other one: what a run leaves behind (a new-connection
            # run's tens of thousands of TIME_WAIT sockets, say) falls on each app in turn.
            mine=()
            for config in "${configs[@]}"; do
                [ "${config#*:}" = "$mode" ] && mine+=("${config%%:*}")
            done
            n=${#mine[@]}
            for i in $(seq 0 $((n - 1))); do
                app=${mine[$(((i + round - 1) % n))]}
                taskset -c 1 wrk -t1 -c"$level" -d"${seconds}s" --latency -s "$work/report.lua" \
                    "http://127.0.0.1:${port[$app $mode]}/login" \
                    > "$work/wrk-$app-$mode-$level-$round.txt" 2>&1 || true
                runs=$((runs + 1))
            done
        done
    done
done
peak_rss=$(rss "$app_pid" VmHWM)

python3 - "$work" "$rounds" "$conns" "$conns_high" "${configs[@]}" <<'PY'
import glob, re, statistics, sys
work, rounds, low, high = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
configs = [c.split(":") for c in sys.argv[5:]]
apps = list(dict.fromkeys(app for app, _ in configs))
mode_label = {"tcp_new": "TCP, new connection per request", "tcp_keep": "TCP, kept-alive upstream",
              "unix_new": "unix, new connection", "unix_keep": "unix, kept-alive"}

def round_rps(app, mode, level):
    """Each round's req/s (None where a run gave no result)."""
    out = []
    for r in range(1, rounds + 1):
        try:
            text = open(f"{work}/wrk-{app}-{mode}-{level}-{r}.txt").read()
        except FileNotFoundError:
            out.append(None)
            continue
        m = re.search(r"^BENCH requests=(\d+) duration_us=(\d+)", text, re.M)
        out.append(int(m.group(1)) / (int(m.group(2)) / 1e6) if m else None)
    return out

def result(app, mode, level):
    rps, p50, p99, timeouts, errors, missing = [], [], [], 0, 0, 0
    for r in range(1, rounds + 1):
        try:
            text = open(f"{work}/wrk-{app}-{mode}-{level}-{r}.txt").read()
        except FileNotFoundError:
            return None
        m = re.search(r"^BENCH (.*)$", text, re.M)
        if not m:
            missing += 1
            continue
        f = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        rps.append(f["requests"] / (f["duration_us"] / 1e6))
        p50.append(f["p50_us"] / 1e3)
        p99.append(f["p99_us"] / 1e3)
        timeouts += int(f["timeout"])
        errors += int(f["connect"] + f["read"] + f["write"] + f["status"])
    if not rps:
        return None
    return statistics.median(rps), statistics.median(p50), statistics.median(p99), timeouts, errors, missing

levels = [low] + ([high] if int(high) > 0 else [])
summary = []
for level in levels:
    for mode in mode_label:
        rows = {app: result(app, mode, level) for app in apps}
        rows = {a: r for a, r in rows.items() if r}
        if not rows:
            continue
        limit = rows.get("limit", (None,))[0]
        print(f"\n{mode_label[mode]} @ {level} connections")
        print(f"  {'app':<9} {'req/s':>9} {'x limit':>8} {'p50 ms':>8} {'p99 ms':>8} {'timeouts':>9} {'errors':>7}")
        for app, (rps, p50, p99, timeouts, errors, missing) in rows.items():
            ratio = f"{rps / limit:.2f}" if limit else "-"
            note = f"  ({missing} runs without a result)" if missing else ""
            print(f"  {app:<9} {rps:>9.0f} {ratio:>8} {p50:>8.2f} {p99:>8.2f} {timeouts:>9} {errors:>7}{note}")
        if limit and "pycnic" in rows:
            # The same ratio round by round (each pair of runs minutes apart at most), to show
            # how much of the table's ratio is the machine's drift.
            pairs = zip(round_rps("pycnic", mode, level), round_rps("limit", mode, level))
            each = [f"{p / l:.2f}" for p, l in pairs if p and l]
            print(f"  pycnic x limit round by round: {' '.join(each)}")
        summary.append((mode, level, rows, limit))

def cell(rows, app, limit, with_ratio=True):
    r = rows.get(app)
    if not r:
        return "–"
    text = f"{r[0] / 1e3:.1f}k"
    if with_ratio and limit:
        text += f" ({r[0] / limit:.2f})"
    return text + f", p99 {r[2]:.1f} ms" + (f", {r[3]} timeouts" if r[3] else "")

print("\n| mode | limit | pycnic (x limit) | C libfcgi (x limit) | PHP-FPM (x limit) |")
print("|---|---|---|---|---|")
for mode, level, rows, limit in summary:
    print(f"| {mode_label[mode]} @ {level} | {cell(rows, 'limit', limit, False)} | {cell(rows, 'pycnic', limit)} "
          f"| {cell(rows, 'libfcgi', limit)} | {cell(rows, 'php-fpm', limit)} |")
PY
echo "pycnic resident memory: idle ${idle_rss} kB, peak under load ${peak_rss} kB"
echo "(medians of $rounds interleaved ${seconds}s runs, each round's order rotated; $runs runs in all; wrk -t1 on CPU 1;"
echo " nginx worker_processes 1 and the apps on CPU 0; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
