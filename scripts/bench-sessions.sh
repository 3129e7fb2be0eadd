#!/usr/bin/env bash
# Sessions through a real nginx with wrk, side by side in one run (loopback only): the plain
# seed route `GET /login` (no session) next to `GET /me` (load the session, count the visit,
# write it back) with each store: cookie, SQLite, Redis, memcached. One `sessions` FastCGI
# backend per store (examples/sessions.rs), kept-alive upstream connections, SESSIONS
# logged-in sessions picked at random per request (so parallel requests rarely share one).
# Each configuration runs ROUNDS times, interleaved; medians of requests/s and p99 are printed
# with the ratio to the plain route. Then the cost of cross-origin protection: the same Redis
# store behind two backends, one with the protection on (the default) and one with
# PYCNIC_CROSS_ORIGIN_PROTECTION=0, on a POST that carries the page's own Origin (the full
# check runs: no Sec-Fetch-Site, Origin against HTTP_HOST and SERVER_PORT) without a session
# (`POST /logout`), and with one (`PUT /note/k`, a session write); printed as on/off ratios.
# Usage: scripts/bench-sessions.sh [SECONDS_PER_RUN] [ROUNDS] [CONNECTIONS] [SESSIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
rounds=${2:-3}
conns=${3:-32}
sessions=${4:-256}
source scripts/bench/common.sh
need_tools nginx wrk redis-server memcached curl python3
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked -q --example sessions
bin="$PWD/target/release/examples/sessions"


redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --daemonize no \
    --dir "$work" >"$work/redis.log" 2>&1 &
pids+=("$!")
memcached_port=$(free_port)
memcached -l 127.0.0.1 -p "$memcached_port" -U 0 -m 64 $([ "$(id -u)" = 0 ] && echo -u root) \
    >"$work/memcached.log" 2>&1 &
pids+=("$!")
wait_port "$redis_port"
wait_port "$memcached_port"
"$bin" keygen > "$work/keys"

declare -A store=(
    [cookie]="cookie"
    [sqlite]="sqlite:$work/sessions.db"
    [redis]="redis://127.0.0.1:$redis_port/0"
    [memcached]="memcached://127.0.0.1:$memcached_port"
    [redis_off]="redis://127.0.0.1:$redis_port/0"
)
# The cookie store keeps login counts (the throttle) in a server-side store of its own.
declare -A extra=(
    [cookie]="PYCNIC_AUTH_STORE=sqlite:$work/auth.db"
    [redis_off]="PYCNIC_CROSS_ORIGIN_PROTECTION=0"
)
backends=(cookie sqlite redis memcached redis_off)
declare -A fcgi port
servers=
for name in "${backends[@]}"; do
    fcgi[$name]=$(free_port)
    port[$name]=$(free_port)
    env ${extra[$name]:-} PYCNIC_SESSION_STORE="${store[$name]}" PYCNIC_SECRET_KEY_FILE="$work/keys" \
        RUST_LOG=warn "$bin" fastcgi --listen "127.0.0.1:${fcgi[$name]}" 2>"$work/app-$name.log" &
    pids+=("$!")
    wait_port "${fcgi[$name]}"
    servers+="upstream up_$name { server 127.0.0.1:${fcgi[$name]}; keepalive $((conns * 2)); }
    server { listen 127.0.0.1:${port[$name]};
        location / { include /etc/nginx/fastcgi_params; fastcgi_keep_conn on; fastcgi_pass up_$name; } }
"
done
write_nginx_conf 4096 "$servers"
"$nginx_bin" -p "$work" -c "$work/nginx.conf" 2>>"$work/nginx-error.log" &
pids+=("$!")
for name in "${backends[@]}"; do wait_port "${port[$name]}"; done

# SESSIONS logins per store; a wrk script sends one of them at random with each request.
for name in "${backends[@]}"; do
    {
        echo "local cookies = {"
        for _ in $(seq "$sessions"); do
            cookie=$(curl -sS -D - -o /dev/null -H 'Content-Type: application/json' \
                -d '{"username":"foo","password":"foo"}' "http://127.0.0.1:${port[$name]}/login" \
                | tr -d '\r' | sed -n 's/^Set-Cookie: \(session=[^;]*\).*/\1/Ip')
            [ -n "$cookie" ] || { echo "login failed on $name" >&2; tail "$work/app-$name.log" >&2; exit 1; }
            echo "  \"$cookie\","
        done
        echo "}"
        echo 'request = function() return wrk.format("GET", "/me", {Cookie = cookies[math.random(#cookies)]}) end'
    } > "$work/me-$name.lua"
    echo "$name: $(curl -sS -H "$(sed -n 2p "$work/me-$name.lua" | tr -d ' ",' | sed 's/^/Cookie: /')" "http://127.0.0.1:${port[$name]}/me")"
done
# The plain route goes through the same wrk script machinery (a random Cookie per request), so
# the client's own cost is the same on both sides of each ratio.
{
    echo "local cookies = {"
    for i in $(seq "$sessions"); do echo "  \"session_id=$i\","; done
    echo "}"
    echo 'request = function() return wrk.format("GET", "/login", {Cookie = cookies[math.random(#cookies)]}) end'
} > "$work/plain.lua"
echo "plain: $(curl -sS -H 'Cookie: session_id=1' "http://127.0.0.1:${port[sqlite]}/login")"

# Cross-origin protection on (redis) and off (redis_off): POST /logout without a session and
# PUT /note/k with one, each with the page's own Origin.
for name in redis redis_off; do
    own="http://127.0.0.1:${port[$name]}"
    echo "request = function() return wrk.format(\"POST\", \"/logout\", {Origin = \"$own\"}) end" \
        > "$work/logout-$name.lua"
    {
        sed -n '/^local cookies/,/^}/p' "$work/me-$name.lua"
        echo "request = function() return wrk.format(\"PUT\", \"/note/k\", {Cookie = cookies[math.random(#cookies)], Origin = \"$own\", [\"Content-Type\"] = \"application/json\"}, '{\"value\": 1}') end"
    } > "$work/note-$name.lua"
    echo "$name: $(curl -sS -X POST -H "Origin: $own" "$own/logout") $(curl -sS -X POST -H "Origin: http://elsewhere.example" "$own/logout")"
done

configs=(plain cookie sqlite redis memcached logout_on logout_off note_on note_off)
for round in $(seq "$rounds"); do
    for name in "${configs[@]}"; do
        if [ "$name" = plain ]; then
            wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$work/plain.lua" \
                "http://127.0.0.1:${port[sqlite]}/login" > "$work/wrk-$name-$round.txt"
        elif [[ "$name" == *_on || "$name" == *_off ]]; then
            route=${name%_*}
            backend=redis; [[ "$name" == *_off ]] && backend=redis_off
            wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$work/$route-$backend.lua" \
                "http://127.0.0.1:${port[$backend]}/" > "$work/wrk-$name-$round.txt"
        else
            wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$work/me-$name.lua" \
                "http://127.0.0.1:${port[$name]}/me" > "$work/wrk-$name-$round.txt"
        fi
    done
done

python3 - "$work" "$rounds" "${configs[@]}" <<'PY'
import re, statistics, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
label = {"plain": "GET /login, no session (seed)", "cookie": "GET /me, cookie store",
         "sqlite": "GET /me, SQLite", "redis": "GET /me, Redis", "memcached": "GET /me, memcached",
         "logout_on": "POST /logout, protection on", "logout_off": "POST /logout, protection off",
         "note_on": "PUT /note, Redis, protection on", "note_off": "PUT /note, Redis, protection off"}
def ms(text):
    found = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if not found:
        return float("nan")
    value, unit = found.groups()
    if unit == "m":
        return float(value) * 60e3
    return float(value) * {"us": 1e-3, "ms": 1, "s": 1e3}[unit]
rows = {}
for name in names:
    rps, p99, errors = [], [], 0
    for r in range(1, rounds + 1):
        out = open(f"{work}/wrk-{name}-{r}.txt").read()
        if "99%" not in out:
            print(f"--- {name} round {r}: no latency figures\n{out}", file=sys.stderr)
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))
        found = re.search(r"99%\s+(\S+)", out)
        p99.append(ms(found.group(1)) if found else float("nan"))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors += int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: (.*)", out)
        errors += sum(int(x) for x in re.findall(r"\d+", m.group(1))) if m else 0
    rows[name] = (statistics.median(rps), statistics.median(p99), errors)
plain = rows["plain"][0]
print(f"\n{'configuration':<32} {'req/s':>9} {'x plain':>8} {'p99 ms':>8} {'errors':>7}")
for name in names:
    rps, p99, errors = rows[name]
    print(f"{label[name]:<32} {rps:>9.0f} {rps/plain:>8.2f} {p99:>8.2f} {errors:>7}")
for route in ("logout", "note"):
    on, off = rows[f"{route}_on"][0], rows[f"{route}_off"][0]
    print(f"cross-origin protection, {route}: on/off = {on/off:.3f} ({(on/off - 1) * 100:+.1f} %)")
PY
echo "(medians of $rounds interleaved ${seconds}s runs, wrk -t1 -c$conns, $sessions sessions per store, nginx worker_processes 1)"
