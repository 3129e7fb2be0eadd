#!/usr/bin/env bash
# The per-request cost of the operations features (status counters, access log, running
# table), behind one real nginx with wrk, side by side in one interleaved run (loopback only).
# GET /login with `Cookie: session_id=abc` at CONNS connections over kept-alive upstream
# connections on a unix socket (the fastest mode, so a per-request cost shows most), to five
# FastCGI backends, each its own process:
#   limit      scripts/bench/minimal_fcgi.c, the cheapest responder we could write (the ceiling)
#   off        pycnic fastcgi with every operations feature off (the default)
#   counters   --status-path /status --ping-path /ping (the status page's counters kept)
#   accesslog  --access-log FILE (a file in the work directory)
#   all        --status-path /status --ping-path /ping --access-log FILE --slow-log 1
#              --request-timeout 30
# nginx (worker_processes 1) and the apps are pinned to CPU 0, wrk to CPU 1 (taskset), as in
# scripts/bench-fastcgi.sh. Each configuration runs ROUNDS times, interleaved (each round
# starting one configuration further along); the table prints medians of req/s, p50 and p99,
# req/s as a ratio to the limit and to "off", the cost per request against "off",
# (1/rps - 1/rps_off) * 1e6 µs (since nginx and the app share CPU 0, the CPU time each request
# costs more on that core, as long as that core is saturated), CPU 0's busy share during the
# runs to show that it was, and the app process's own CPU time per request (all its threads,
# from /proc/PID/task/*/schedstat), measured rather than inferred: the steadier figure of the
# two. The access logs' line counts are checked against the responses wrk counted (within 1%:
# wrk counts completed responses only; it fails the run otherwise).
# The access logs grow by about 100 bytes a request in the (temporary) work directory.
# Usage: scripts/bench-ops.sh [SECONDS_PER_RUN] [ROUNDS]
#   environment: CONNS (32), BENCH_KEEP=1 keeps the work directory (configurations, logs)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-3}
conns=${CONNS:-32}
source scripts/bench/common.sh
need_tools nginx wrk gcc taskset curl python3
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (apps on CPU 0, wrk on CPU 1)" >&2; exit 2; }

cargo build --release --locked -q
bin="$PWD/target/release/pycnic"

gcc -O2 -Wall -Wextra -o "$work/minimal_fcgi" scripts/bench/minimal_fcgi.c

# Started as `$cpu0 program &` (not through a function), so that $! is the program itself.
cpu0="taskset -c 0"

configs=(limit off counters accesslog all)
declare -A flags=(
    [off]=""
    [counters]="--status-path /status --ping-path /ping"
    [accesslog]="--access-log $work/access-accesslog.log"
    [all]="--status-path /status --ping-path /ping --access-log $work/access-all.log --slow-log 1 --request-timeout 30"
)
declare -A app_pid
$cpu0 "$work/minimal_fcgi" --listen "unix:$work/limit.sock" 2>"$work/limit.log" &
pids+=("$!")
app_pid[limit]=$!
wait_socket "$work/limit.sock"
for config in "${configs[@]:1}"; do
    # Word splitting of the flags is meant: none holds a space of its own ($work is mktemp's).
    # shellcheck disable=SC2086
    RUST_LOG=warn $cpu0 "$bin" fastcgi --listen "unix:$work/$config.sock" --socket-mode 666 \
        ${flags[$config]} 2>"$work/$config.log" &
    pids+=("$!")
    app_pid[$config]=$!
    wait_socket "$work/$config.sock"
done

# One nginx server (port) per configuration, each with its kept-alive upstream.
declare -A port
servers=
for config in "${configs[@]}"; do
    p=$(free_port)
    port[$config]=$p
    servers+="upstream up_$config { server unix:$work/$config.sock; keepalive 512; }
    server { listen 127.0.0.1:$p backlog=4096;
        location / { include /etc/nginx/fastcgi_params; fastcgi_keep_conn on; fastcgi_pass up_$config; } }
    "
done
write_nginx_conf 8192 "$servers"
$cpu0 "$nginx_bin" -p "$work" -c "$work/nginx.conf" 2>>"$work/nginx-error.log" &
pids+=("$!")
wait_port "${port[limit]}"

# Every configuration answers correctly before anything is timed: /login everywhere, /ping and
# /status where they are on (and not where they are off).
fail() {
    echo "$1" >&2
    tail -n 20 "$work"/*.log >&2 || true
    exit 1
}
want='{"session_id":"abc"}'
for config in "${configs[@]}"; do
    body=$(curl -sS -H 'Cookie: session_id=abc' "http://127.0.0.1:${port[$config]}/login")
    [ "$body" = "$want" ] || fail "$config answers /login with $body, not $want"
done
for config in counters all; do
    body=$(curl -sS "http://127.0.0.1:${port[$config]}/ping")
    [ "$body" = pong ] || fail "$config answers /ping with $body, not pong"
    body=$(curl -sS "http://127.0.0.1:${port[$config]}/status")
    [[ "$body" == '{'*'"requests"'* ]] || fail "$config answers /status with $body, not its JSON"
done
for config in off accesslog; do
    body=$(curl -sS "http://127.0.0.1:${port[$config]}/ping")
    [ "$body" != pong ] || fail "$config answers /ping with pong, but ping is off there"
done
# The access logs' lines so far (the checks above); the timed runs add to them.
declare -A lines_before
for config in accesslog all; do
    lines_before[$config]=$(wc -l < "$work/access-$config.log")
    [ "${lines_before[$config]}" -gt 0 ] || fail "$config's access log is empty after the checks"
done
echo "every configuration answers $want: ${configs[*]}"

write_wrk_report

# The app's own CPU time so far, in ns, all its threads (/proc/PID/task/*/schedstat): divided
# by the requests of a run, the app's CPU per request, measured rather than inferred.
app_cpu_ns() {
    local total=0 t p
    # The app's threads, and under a master (the default pool) its workers' threads too.
    for p in "$1" $(pgrep -P "$1"); do
        for t in /proc/"$p"/task/*/schedstat; do
            read -r ns _ < "$t" 2>/dev/null && total=$((total + ns))
        done
    done
    echo "$total"
}

# Each round starts one configuration further along, so that none always runs first or after
# the same neighbour. CPU 0's busy time around each run (from /proc/stat) shows whether that
# core was saturated, which the cost per request below assumes.
n=${#configs[@]}
for round in $(seq "$rounds"); do
    for i in $(seq 0 $((n - 1))); do
        config=${configs[$(((i + round - 1) % n))]}
        grep '^cpu0 ' /proc/stat > "$work/cpu0-$config-$round.txt"
        app_cpu_ns "${app_pid[$config]}" > "$work/appcpu-$config-$round.txt"
        taskset -c 1 wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$work/report.lua" \
            "http://127.0.0.1:${port[$config]}/login" > "$work/wrk-$config-$round.txt" 2>&1 || true
        grep '^cpu0 ' /proc/stat >> "$work/cpu0-$config-$round.txt"
        app_cpu_ns "${app_pid[$config]}" >> "$work/appcpu-$config-$round.txt"
    done
done
# Requests wrk gave up on at its end may still be answered: let them finish before counting.
sleep 1
lines=()
for config in accesslog all; do
    lines+=("$config=$(( $(wc -l < "$work/access-$config.log") - lines_before[$config] ))")
done

python3 - "$work" "$rounds" "${lines[*]}" "${configs[@]}" <<'PY'
import re, statistics, sys
work, rounds, lines, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
lines = dict((k, int(v)) for k, v in (kv.split("=") for kv in lines.split()))
label = {"limit": "limit (minimal_fcgi.c)", "off": "pycnic, all off", "counters": "status+ping on",
         "accesslog": "access log on", "all": "all on"}

def cpu0_busy(config, r):
    """CPU 0's busy share during that run: 1 - (idle + iowait) / all, from /proc/stat."""
    before, after = ([int(x) for x in line.split()[1:]]
                     for line in open(f"{work}/cpu0-{config}-{r}.txt").read().splitlines()[:2])
    delta = [a - b for a, b in zip(after, before)]
    total = sum(delta[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return 1 - (delta[3] + delta[4]) / total if total else 0.0

def app_us_per_request(config, r, requests):
    """The app's own CPU time (all threads) during that run, per request wrk counted."""
    before, after = (int(x) for x in open(f"{work}/appcpu-{config}-{r}.txt").read().split()[:2])
    return (after - before) / 1e3 / requests if requests else float("nan")

def result(config):
    rps, p50, p99, busy, requests, timeouts, errors, missing = [], [], [], [], 0, 0, 0, 0
    app = []
    for r in range(1, rounds + 1):
        text = open(f"{work}/wrk-{config}-{r}.txt").read()
        m = re.search(r"^BENCH (.*)$", text, re.M)
        if not m:
            missing += 1
            continue
        f = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        rps.append(f["requests"] / (f["duration_us"] / 1e6))
        p50.append(f["p50_us"] / 1e3)
        p99.append(f["p99_us"] / 1e3)
        busy.append(cpu0_busy(config, r))
        app.append(app_us_per_request(config, r, f["requests"]))
        requests += int(f["requests"])
        timeouts += int(f["timeout"])
        errors += int(f["connect"] + f["read"] + f["write"] + f["status"])
    if not rps:
        return None
    return dict(rps=statistics.median(rps), p50=statistics.median(p50), p99=statistics.median(p99),
                busy=statistics.median(busy), app=statistics.median(app), requests=requests, timeouts=timeouts, errors=errors, missing=missing)

rows = {c: result(c) for c in configs}
limit = (rows.get("limit") or {}).get("rps")
off = (rows.get("off") or {}).get("rps")
print("\nGET /login, unix socket, kept-alive upstream, medians")
print(f"  {'configuration':<23} {'req/s':>9} {'x limit':>8} {'x off':>6} {'p50 ms':>7} {'p99 ms':>7} "
      f"{'µs/req vs off':>14} {'app µs/req':>11} {'app vs off':>11} {'cpu0 busy':>10} {'timeouts':>9} {'errors':>7}")
for c in configs:
    r = rows[c]
    if not r:
        print(f"  {label[c]:<23} (no result: see wrk-{c}-*.txt)")
        continue
    x_limit = f"{r['rps'] / limit:.2f}" if limit else "-"
    x_off = f"{r['rps'] / off:.2f}" if off and c != "limit" else "-"
    cost = f"{(1 / r['rps'] - 1 / off) * 1e6:+.2f}" if off and c not in ("limit", "off") else "-"
    note = f"  ({r['missing']} runs without a result)" if r["missing"] else ""
    app_off = (rows.get("off") or {}).get("app")
    app_vs = f"{r['app'] - app_off:+.2f}" if app_off and c not in ("limit", "off") else "-"
    print(f"  {label[c]:<23} {r['rps']:>9.0f} {x_limit:>8} {x_off:>6} {r['p50']:>7.2f} {r['p99']:>7.2f} "
          f"{cost:>14} {r['app']:>11.2f} {app_vs:>11} {r['busy'] * 100:>9.0f}% {r['timeouts']:>9} {r['errors']:>7}{note}")
print("  µs/req vs off = (1/rps - 1/rps_off) * 1e6: nginx and the app share CPU 0, so this is the")
print("  CPU time per request each feature adds on that core (medians of req/s, not a profile);")
print("  it holds while CPU 0 is saturated (cpu0 busy near 100%) and nothing else runs there.")
print("  app µs/req: the app process's own CPU time (all threads, /proc/PID/task/*/schedstat) per")
print("  request, median of the runs; app vs off: its difference to pycnic with everything off.")

bad = []
for c, n in lines.items():
    r = rows.get(c)
    if not r:
        bad.append(f"{c}: no wrk result to compare its access log with")
        continue
    want = r["requests"]
    ok = abs(n - want) <= max(1, want / 100)
    print(f"access log of {c}: {n} lines, wrk counted {want} responses"
          f" ({(n - want) / want * 100 if want else 0:+.2f}%): {'ok' if ok else 'MISMATCH'}")
    if not ok:
        bad.append(f"{c}: {n} access-log lines for {want} responses")
if bad:
    print("FAILED: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
echo "(medians of $rounds interleaved ${seconds}s runs, $((rounds * ${#configs[@]})) runs in all;"
echo " wrk -t1 -c$conns on CPU 1; nginx worker_processes 1 and the apps on CPU 0;"
echo " $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
