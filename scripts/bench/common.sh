# Shared by the scripts/bench-*.sh benchmarks (sourced, not run): the tool check, a work
# directory with a trap that ends only the processes the script started (by PID, from `pids`)
# and removes the directory (kept with BENCH_KEEP=1), and waiting for loopback ports and unix
# sockets, and writing the nginx configuration and the wrk report hook the benchmarks share.
# Callers start background processes as `program &` and append `$!` to `pids`.

# Exits with a hint when one of the named tools is missing.
need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
            echo "$tool missing: run scripts/install-deps.sh" >&2; exit 2; }
    done
}

work=$(mktemp -d)
chmod 755 "$work"
pids=()
bench_cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap bench_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (10 s at most) until something accepts on 127.0.0.1:$1; else shows the logs.
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1; logs:" >&2
    tail -n 20 "$work"/*.log >&2 || true
    return 1
}

# Waits (10 s at most) until the unix socket $1 exists; else shows the logs.
wait_socket() {
    for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done
    echo "no socket $1; logs:" >&2
    tail -n 20 "$work"/*.log >&2 || true
    return 1
}

# Writes $work/nginx.conf: one worker (pinned by the caller), no access log, up to $1
# connections, and the http-block configuration $2 (upstreams and servers).
write_nginx_conf() {
    cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
user root;
events { worker_connections $1; }
http {
    access_log off;
    $2
}
CONF
}

# Writes $work/report.lua: wrk sends the seed's session cookie, and its done() hook prints one
# line in a fixed format (`BENCH requests=… duration_us=… p50_us=… p99_us=… connect=… read=…
# write=… status=… timeout=…`) for the scripts to parse, instead of wrk's rounded text.
write_wrk_report() {
    cat > "$work/report.lua" <<'LUA'
wrk.headers["Cookie"] = "session_id=abc"
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d p50_us=%.0f p99_us=%.0f connect=%d read=%d write=%d status=%d timeout=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        e.connect, e.read, e.write, e.status, e.timeout))
end
LUA
}
