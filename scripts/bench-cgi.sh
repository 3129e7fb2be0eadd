#!/usr/bin/env bash
# One-shot CGI cost, side by side in one run: the floor (/bin/true), a C hello-world CGI program
# answering the same bytes (the least a compiled CGI program costs), this crate's seed binary,
# and Pycnic 0.1.9 itself (the same seed app under Python's wsgiref CGIHandler, from PyPI;
# skipped with NO_PYTHON=1). Prints hyperfine's medians, each above the floor, and pycnic's
# distance from the C program. Usage: scripts/bench-cgi.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
command -v hyperfine >/dev/null || { echo "hyperfine missing: scripts/install-deps.sh" >&2; exit 2; }

cargo build --release --locked -q
bin=${BIN:-"$PWD/target/release/pycnic"}
# The statically linked build (scripts/build-static.sh) on a glibc host.
static_bin=
host=$(rustc -vV | sed -n 's/^host: //p')
if [ -z "${BIN:-}" ] && [[ $host == *-linux-gnu* ]]; then
    scripts/build-static.sh -q 2>/dev/null
    static_bin="$PWD/target/$host/release/pycnic"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The C program: the seed's GET /login answer, byte for byte, and nothing else.
cat > "$work/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    const char *cookie = getenv("HTTP_COOKIE");
    char value[256] = "null", body[300];
    if (cookie && strncmp(cookie, "session_id=", 11) == 0)
        snprintf(value, sizeof value, "\"%s\"", cookie + 11);
    int len = snprintf(body, sizeof body, "{\"session_id\":%s}", value);
    printf("Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
           len, body);
    return 0;
}
C
cc -O2 -o "$work/hello" "$work/hello.c"

if [ -z "${NO_PYTHON:-}" ]; then
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

fi

cgi_env=(env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME= PATH_INFO=/login
         REQUEST_URI=/login QUERY_STRING= SERVER_NAME=localhost SERVER_PORT=80
         SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR=127.0.0.1 HTTP_COOKIE=session_id=abc)
# Every program answers the same request the same way before anything is timed.
names=("floor: /bin/true" "C hello-world CGI" "pycnic (Rust) CGI")
programs=(/bin/true "$work/hello" "$bin")
if [ -n "$static_bin" ]; then
    names+=("pycnic, static build")
    programs+=("$static_bin")
fi
if [ -z "${NO_PYTHON:-}" ]; then
    names+=("Pycnic 0.1.9 (Python) CGI")
    programs+=("$work/venv/bin/python3 $work/seed.py")
fi
args=()
for i in "${!names[@]}"; do
    [ "$i" -eq 0 ] || { ${cgi_env[@]} ${programs[$i]} | tail -c 40; echo; }
    args+=(-n "${names[$i]}" "${cgi_env[*]} ${programs[$i]}")
done

hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/cgi.json" "${args[@]}" >/dev/null

python3 - "$work/cgi.json" "$bin" <<'PY'
import json, os, sys
results = json.load(open(sys.argv[1]))["results"]
median = {r["command"]: r["median"] for r in results}
names = [r["command"] for r in results]
floor = median[names[0]]
print(f"{'command':<28} {'median':>10} {'minus floor':>12}")
for name in names:
    print(f"{name:<28} {median[name]*1e3:>8.3f}ms {(median[name]-floor)*1e3:>10.3f}ms")
c, ours = median[names[1]], median[names[2]]
for name in names[2:]:
    if name.startswith("pycnic"):
        print(f"{name} minus the C program: {(median[name] - c)*1e3:+.3f}ms")
python = [n for n in names if n.startswith("Pycnic 0.1.9")]
if python:
    print(f"Pycnic (Python) / pycnic (Rust), above the floor: "
          f"x{(median[python[0]] - floor)/(ours - floor):.1f}")
print(f"binary size: {os.path.getsize(sys.argv[2])} bytes")
PY
