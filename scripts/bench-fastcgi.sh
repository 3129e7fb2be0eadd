#!/usr/bin/env bash
# FastCGI behind a real nginx, side by side in one interleaved run (loopback only). Every app
# answers GET /login with `Cookie: session_id=abc` by {"session_id":"abc"}, as the pycnic seed
# does:
#   limit    scripts/bench/minimal_fcgi.c: one thread, one epoll loop, one write per answer;
#            the most any FastCGI app can reach behind this nginx on this machine
#   pycnic   target/release/pycnic fastcgi (the seed binary), as it runs by default: a master
#            over 2 worker processes (PYCNIC_PROCESSES=1 benchmarks one process)
#   libfcgi  scripts/bench/libfcgi_login.c: the classic C libfcgi accept loop (needs
#            libfcgi-dev; skipped when missing), one process per mode
#   php-fpm  a PHP script under php-fpm, pm static, 4 children per mode (skipped when missing,
#            or with PEER_PHP=0)
# in four modes at 32 connections: TCP with a new upstream connection per request, TCP with
# kept-alive upstream connections (keepalive + fastcgi_keep_conn), the same two over a unix
# socket (limit and pycnic only); and both TCP modes again at 256 connections.
# nginx (worker_processes 1) and the apps are pinned to CPU 0, wrk to CPU 1 (taskset), as a
# user's single-core share would be. Each configuration runs ROUNDS times, interleaved (each
# round rotates the order of a mode's apps by one, so no app always runs right after the same
# other one); the table prints medians of req/s, p50 and p99 (wrk --latency through a Lua
# done() hook, in a fixed format), timeouts and errors summed over the rounds.
# "x limit" is the median, over the rounds, of an app's req/s divided by the limit's in the
# same round: the two runs of a round are seconds apart, so a drift of the machine (a busy VM
# host) that moves both cancels out, where a ratio of two medians taken minutes apart would
# keep it. Under each mode, pycnic's paired ratio is printed round by round, with a 95%
# confidence interval for its median (distribution-free, from the order statistics): many
# short rounds (say `3 20`) narrow it more than a few long ones.
# Usage: scripts/bench-fastcgi.sh [SECONDS_PER_RUN] [ROUNDS]
#   environment: CONNS (32) and CONNS_HIGH (256, 0 skips) connection counts, MODES (a subset of
#   "tcp_new tcp_keep unix_new unix_keep", all by default), PEER_PHP=0
#   skips PHP-FPM, BENCH_KEEP=1 keeps the work directory (configurations, wrk outputs, logs),
#   BASELINE=PATH adds another pycnic build (e.g. an older commit's target/release/pycnic) as
#   the app "baseline", run in the same rounds, with pycnic's paired ratio to it per mode
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

if [ -n "${BASELINE:-}" ]; then
    baseline_port=$(free_port)
    RUST_LOG=warn $cpu0 "$BASELINE" fastcgi --listen "127.0.0.1:$baseline_port" \
        --listen "unix:$work/baseline.sock" --socket-mode 666 2>"$work/baseline.log" &
    pids+=("$!")
    wait_port "$baseline_port"
    upstream[baseline tcp_new]="127.0.0.1:$baseline_port"
    upstream[baseline tcp_keep]="127.0.0.1:$baseline_port"
    upstream[baseline unix_new]="unix:$work/baseline.sock"
    upstream[baseline unix_keep]="unix:$work/baseline.sock"
    apps+=(baseline)
fi

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
modes=(${MODES:-tcp_new tcp_keep unix_new unix_keep})
for mode in "${modes[@]}"; do
    case "$mode" in tcp_new | tcp_keep | unix_new | unix_keep) ;;
        *) echo "MODES: unknown mode $mode" >&2; exit 2 ;; esac
done
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

# pycnic's resident memory in kB: the process and, under a master (the default pool; the
# environment is passed on, so PYCNIC_PROCESSES=1 benchmarks one process), its workers, summed.
rss() {
    local p total=0 kb
    for p in "$1" $(pgrep -P "$1"); do
        kb=$(awk -v k="$2" '$1 == k":" {print $2}' "/proc/$p/status" 2>/dev/null)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}
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
import re, statistics, sys
sys.dont_write_bytecode = True  # no __pycache__ left in scripts/bench
sys.path.insert(0, "scripts/bench")
from stats import median_ci
work, rounds, low, high = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
configs = [c.split(":") for c in sys.argv[5:]]
apps = list(dict.fromkeys(app for app, _ in configs))
mode_label = {"tcp_new": "TCP, new connection per request", "tcp_keep": "TCP, kept-alive upstream",
              "unix_new": "unix, new connection", "unix_keep": "unix, kept-alive"}

def report(app, mode, level, r):
    """One run's figures from the wrk hook's BENCH line: None if the run left none."""
    try:
        text = open(f"{work}/wrk-{app}-{mode}-{level}-{r}.txt").read()
    except FileNotFoundError:
        return None
    m = re.search(r"^BENCH (.*)$", text, re.M)
    if not m:
        return None
    f = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    f["rps"] = f["requests"] / (f["duration_us"] / 1e6)
    return f

def result(app, mode, level, limit):
    """An app's figures in a mode, its req/s paired round by round with `limit`'s runs."""
    runs = [report(app, mode, level, r) for r in range(1, rounds + 1)]
    got = [f for f in runs if f]
    if not got:
        return None
    # req/s over the limit's in the same round, where both runs gave a result.
    paired = [f["rps"] / l["rps"] for f, l in zip(runs, limit) if f and l and l["rps"]]
    return {
        "rps": statistics.median(f["rps"] for f in got),
        "p50": statistics.median(f["p50_us"] / 1e3 for f in got),
        "p99": statistics.median(f["p99_us"] / 1e3 for f in got),
        "timeouts": sum(int(f["timeout"]) for f in got),
        "errors": sum(int(f["connect"] + f["read"] + f["write"] + f["status"]) for f in got),
        "missing": rounds - len(got),
        "paired": paired,
        "ratio": median_ci(paired) if paired else None,
    }

levels = [low] + ([high] if int(high) > 0 else [])
summary = []
for level in levels:
    for mode in mode_label:
        limit = [report("limit", mode, level, r) for r in range(1, rounds + 1)]
        rows = {app: result(app, mode, level, limit) for app in apps}
        rows = {a: r for a, r in rows.items() if r}
        if not rows:
            continue
        print(f"\n{mode_label[mode]} @ {level} connections")
        print(f"  {'app':<9} {'req/s':>9} {'x limit':>8} {'p50 ms':>8} {'p99 ms':>8} {'timeouts':>9} {'errors':>7}")
        for app, r in rows.items():
            ratio = f"{r['ratio'][0]:.2f}" if r["ratio"] else "-"
            note = f"  ({r['missing']} runs without a result)" if r["missing"] else ""
            print(f"  {app:<9} {r['rps']:>9.0f} {ratio:>8} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                  f"{r['timeouts']:>9} {r['errors']:>7}{note}")
        pycnic = rows.get("pycnic")
        if pycnic and pycnic["ratio"]:
            median, ci = pycnic["ratio"]
            each = " ".join(f"{x:.2f}" for x in pycnic["paired"])
            print(f"  pycnic x limit round by round: {each}")
            interval = f"95% CI {ci[0]:.2f}-{ci[1]:.2f}" if ci else "too few rounds for a CI"
            print(f"  pycnic x limit, median of {len(pycnic['paired'])} rounds: {median:.2f} ({interval})")
        if pycnic and rows.get("baseline"):
            # pycnic over the other build, paired round by round like the ratio to the limit.
            mine = [report("pycnic", mode, level, r) for r in range(1, rounds + 1)]
            base = [report("baseline", mode, level, r) for r in range(1, rounds + 1)]
            paired = [p["rps"] / b["rps"] for p, b in zip(mine, base) if p and b and b["rps"]]
            if paired:
                median, ci = median_ci(paired)
                interval = f"95% CI {ci[0]:.2f}-{ci[1]:.2f}" if ci else "too few rounds for a CI"
                print(f"  pycnic x baseline, median of {len(paired)} rounds: {median:.2f} ({interval})")
        summary.append((mode, level, rows))

def cell(rows, app, with_ratio=True):
    r = rows.get(app)
    if not r:
        return "–"
    text = f"{r['rps'] / 1e3:.1f}k"
    if with_ratio and r["ratio"]:
        median, ci = r["ratio"]
        text += f" ({median:.2f}" + (f", CI {ci[0]:.2f}-{ci[1]:.2f})" if ci and app == "pycnic" else ")")
    return text + f", p99 {r['p99']:.1f} ms" + (f", {r['timeouts']} timeouts" if r["timeouts"] else "")

print("\n| mode | limit | pycnic (x limit) | C libfcgi (x limit) | PHP-FPM (x limit) |")
print("|---|---|---|---|---|")
for mode, level, rows in summary:
    print(f"| {mode_label[mode]} @ {level} | {cell(rows, 'limit', False)} | {cell(rows, 'pycnic')} "
          f"| {cell(rows, 'libfcgi')} | {cell(rows, 'php-fpm')} |")
PY
workers=$(pgrep -c -P "$app_pid" || true)
if [ "${workers:-0}" -gt 0 ]; then shape="a master and $workers workers, summed"; else shape="one process"; fi
echo "pycnic resident memory ($shape): idle ${idle_rss} kB, peak under load ${peak_rss} kB"
echo "(medians of $rounds interleaved ${seconds}s runs, each round's order rotated; x limit: median of the rounds' paired ratios;"
echo " $runs runs in all; wrk -t1 on CPU 1;"
echo " nginx worker_processes 1 and the apps on CPU 0; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
