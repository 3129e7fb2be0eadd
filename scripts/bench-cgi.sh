#!/usr/bin/env bash
# One-shot CGI cost, side by side in one run: the floor (/bin/true), a C hello-world CGI program
# answering the same bytes (the least a compiled CGI program costs), this crate's seed binary,
# and Pycnic 0.1.9 itself (the same seed app under Python's wsgiref CGIHandler, from PyPI;
# skipped with NO_PYTHON=1), with the static builds (scripts/build-static.sh, PIE and
# --no-pie) on a glibc host. Usage: scripts/bench-cgi.sh [RUNS_PER_ROUND] [ROUNDS]
#
# A process start on a VM costs more or less from one minute to the next (the floor moved from
# 0.97 ms to 1.6 ms between two days here, and hyperfine timing one program after another has
# shown the floor above the C program). So the programs run in ROUNDS rounds (20), each timing
# every program RUNS_PER_ROUND times (100) in an order rotated by one per round; a program's
# distance from the C program is the median over the rounds of the two medians' difference
# within a round, with a 95% confidence interval for it (distribution-free, from the order
# statistics; 6 rounds at least).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
rounds=${2:-20}
command -v hyperfine >/dev/null || { echo "hyperfine missing: scripts/install-deps.sh" >&2; exit 2; }

cargo build --release --locked -q
bin=${BIN:-"$PWD/target/release/pycnic"}
# The statically linked builds (scripts/build-static.sh) on a glibc host.
static_bin=
static_no_pie=
host=$(rustc -vV | sed -n 's/^host: //p')
if [ -z "${BIN:-}" ] && [[ $host == *-linux-gnu* ]]; then
    scripts/build-static.sh -q 2>/dev/null
    static_bin="$PWD/target/$host/release/pycnic"
    scripts/build-static.sh --no-pie -q 2>/dev/null
    static_no_pie="$PWD/target/no-pie/$host/release/pycnic"
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
    names+=("pycnic, static PIE" "pycnic, static, not PIE")
    programs+=("$static_bin" "$static_no_pie")
fi
if [ -z "${NO_PYTHON:-}" ]; then
    names+=("Pycnic 0.1.9 (Python) CGI")
    programs+=("$work/venv/bin/python3 $work/seed.py")
fi
for i in "${!names[@]}"; do
    [ "$i" -eq 0 ] || { ${cgi_env[@]} ${programs[$i]} | tail -c 40; echo; }
done

n=${#names[@]}
for round in $(seq "$rounds"); do
    args=()
    for k in $(seq 0 $((n - 1))); do
        i=$(((k + round - 1) % n))
        args+=(-n "${names[$i]}" "${cgi_env[*]} ${programs[$i]}")
    done
    # hyperfine's warning about outliers is expected here; anything else it says is shown.
    hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/cgi-$round.json" "${args[@]}" \
        2>&1 >/dev/null | grep -v -e 'Statistical outliers were detected' -e '^ *$' >&2 || true
done

python3 - "$work" "$rounds" "$runs" "$bin" "${names[@]}" <<'PY'
import json, os, statistics, sys
sys.dont_write_bytecode = True  # no __pycache__ left in scripts/bench
sys.path.insert(0, "scripts/bench")
from stats import median_ci
work, rounds, runs, binary = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
names = sys.argv[5:]
per_round = []
for r in range(1, rounds + 1):
    results = json.load(open(f"{work}/cgi-{r}.json"))["results"]
    per_round.append({x["command"]: x["median"] * 1e3 for x in results})

floor, c = names[0], names[1]
print(f"{'command':<28} {'median':>9} {'minus floor':>12} {'minus C (95% CI)':>26}")
for name in names:
    med = statistics.median(r[name] for r in per_round)
    above = statistics.median(r[name] - r[floor] for r in per_round)
    text = ""
    if name not in (floor, c):
        diff, ci = median_ci([r[name] - r[c] for r in per_round])
        text = f"{diff:+.3f}ms" + (f" ({ci[0]:+.3f} to {ci[1]:+.3f})" if ci else "")
    print(f"{name:<28} {med:>7.3f}ms {above:>10.3f}ms {text:>26}")
python = [n for n in names if n.startswith("Pycnic 0.1.9")]
if python:
    ratio = statistics.median((r[python[0]] - r[floor]) / (r[names[2]] - r[floor]) for r in per_round)
    print(f"Pycnic (Python) / pycnic (Rust), above the floor: x{ratio:.1f}")
print(f"(medians over {rounds} rounds, each timing every program {runs} times with hyperfine -N,"
      f" in an order rotated per round; differences paired within a round)")
print(f"binary size: {os.path.getsize(binary)} bytes")
PY
