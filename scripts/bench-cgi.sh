#!/usr/bin/env bash
# One-shot CGI cost, side by side in one run: the floor (/bin/true), this crate's seed binary,
# and Pycnic 0.1.9 itself (the same seed app under Python's wsgiref CGIHandler, from PyPI).
# Prints hyperfine's medians and the ratios. Usage: scripts/bench-cgi.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
command -v hyperfine >/dev/null || { echo "hyperfine missing: scripts/install-deps.sh" >&2; exit 2; }

cargo build --release --locked -q
bin="$PWD/target/release/pycnic"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q pycnic==0.1.9
cat > "$work/seed.py" <<'PY'
from wsgiref.handlers import CGIHandler
from pycnic.core import WSGI, Handler
from pycnic.errors import HTTP_400, HTTP_401

class Login(Handler):
    def get(self):
        return {"session_id": self.request.cookies.get("session_id")}
    def post(self):
        username = self.request.data.get("username"); password = self.request.data.get("password")
        if not username or not password: raise HTTP_400("Username and password are required")
        if username != "foo" or password != "foo": raise HTTP_401("Username or password are incorrect")
        self.response.set_cookie("session_id", "1234567890abcdefg")
        return {"message": "Logged in"}

class app(WSGI):
    routes = [("/login", Login())]

CGIHandler().run(app)
PY

cgi_env=(env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME= PATH_INFO=/login
         REQUEST_URI=/login QUERY_STRING= SERVER_NAME=localhost SERVER_PORT=80
         SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR=127.0.0.1 HTTP_COOKIE=session_id=abc)
# Both answer the same request the same way before anything is timed.
"${cgi_env[@]}" "$bin" | tail -c 40; echo
"${cgi_env[@]}" "$work/venv/bin/python3" "$work/seed.py" | tail -c 40; echo

hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/cgi.json" \
    -n "floor: /bin/true" "${cgi_env[*]} /bin/true" \
    -n "pycnic (Rust) CGI" "${cgi_env[*]} $bin" \
    -n "Pycnic 0.1.9 (Python) CGI" "${cgi_env[*]} $work/venv/bin/python3 $work/seed.py" >/dev/null

python3 - "$work/cgi.json" "$bin" <<'PY'
import json, os, sys
results = json.load(open(sys.argv[1]))["results"]
median = {r["command"]: r["median"] for r in results}
names = [r["command"] for r in results]
floor = median[names[0]]
print(f"{'command':<28} {'median':>10} {'minus floor':>12}")
for name in names:
    print(f"{name:<28} {median[name]*1e3:>8.3f}ms {(median[name]-floor)*1e3:>10.3f}ms")
ours, theirs = median[names[1]] - floor, median[names[2]] - floor
print(f"Pycnic (Python) / pycnic (Rust), above the floor: x{theirs/ours:.1f}")
print(f"binary size: {os.path.getsize(sys.argv[2])} bytes")
PY
