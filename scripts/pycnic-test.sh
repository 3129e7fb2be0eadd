# pycnic-test.sh: request tests for a Pycnic app in plain POSIX sh. Copy it beside your tests.
#
#   PYCNIC=./myapp            # the binary under test (default ./pycnic)
#   . ./pycnic-test.sh
#   request POST /login -d '{"username":"foo","password":"foo"}'   # via `$PYCNIC request`
#   assert_status 200
#   assert_header Set-Cookie 'session_id=1234567890abcdefg; Path=/'
#   assert_body_json .message 'Logged in'
#   cgi GET /login -b 'session_id=abc'      # the binary as a bare CGI program (env -i)
#   assert_json_body '{"session_id":"abc"}'
#   done_testing                            # prints "N passed, N failed"; exit 1 on failure
#
# `request METHOD TARGET [ARGS…]` passes ARGS to `$PYCNIC request` (-H, -b, -d, -e, …) with
# the test file's cookie jar ($PT_COOKIE_JAR, curl's cookie file format): the Set-Cookie of
# `request POST /login …` goes with the next `request GET /me`, as in a browser.
# `forget_cookies` empties the jar; `assert_cookie NAME VALUE` checks a cookie in it
# (`assert_cookie NAME ''` checks that there is none). Set PT_COOKIE_JAR= (empty) before
# sourcing this file to send only the cookies you give with -b.
# `cgi METHOD TARGET [-H 'Name: value'] [-b COOKIES] [-d DATA|@FILE|@-] [NAME=VALUE…]` runs
# `env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=… $PYCNIC` with the body on stdin; the
# caller's PYCNIC_* settings (session store, key file, …) are passed on.
# After either: $PT_STATUS, $PT_EXIT (exit status), files $PT_HEADERS (one `Name: value` a
# line), $PT_BODY and $PT_STDERR. JSON checks use python3; nothing else beyond POSIX tools.
# The library owns the EXIT trap: it removes its temporary directory.

: "${PYCNIC:=./pycnic}"
PT_PASSED=0
PT_FAILED=0
PT_LAST='(no request yet)'
PT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pycnic-test.XXXXXX") || exit 2
PT_RAW=$PT_DIR/raw
PT_HEADERS=$PT_DIR/headers
PT_BODY=$PT_DIR/body
PT_STDERR=$PT_DIR/stderr
PT_COOKIE_JAR=${PT_COOKIE_JAR-$PT_DIR/cookies}
PT_STATUS=
PT_EXIT=
trap 'rm -rf "$PT_DIR"' EXIT
trap 'rm -rf "$PT_DIR"; exit 130' INT TERM HUP

pt_pass() {
    PT_PASSED=$((PT_PASSED + 1))
    [ -n "${PT_VERBOSE:-}" ] && printf 'ok   %s: %s\n' "$PT_LAST" "$1"
    return 0
}

pt_fail() {
    PT_FAILED=$((PT_FAILED + 1))
    printf 'FAIL %s: %s\n' "$PT_LAST" "$1"
    return 1
}

# Splits $PT_RAW into $PT_STATUS, $PT_HEADERS (CR stripped) and $PT_BODY (bytes as sent).
pt_parse() {
    PT_STATUS=$(head -n 1 "$PT_RAW" | tr -d '\r' | sed -n 's/^Status: \([0-9][0-9][0-9]\).*/\1/p')
    LC_ALL=C awk 'NR == 1 { next } /^\r?$/ { exit } { sub(/\r$/, ""); print }' \
        "$PT_RAW" >"$PT_HEADERS"
    pt_head=$(LC_ALL=C awk '{ n += length($0) + 1 } /^\r?$/ { print n; exit }' "$PT_RAW")
    if [ -n "$pt_head" ]; then
        tail -c +$((pt_head + 1)) "$PT_RAW" >"$PT_BODY"
    else
        : >"$PT_BODY"
    fi
}

# request METHOD TARGET [ARGS…]: one request through `$PYCNIC request`.
request() {
    PT_LAST="request $1 $2"
    if [ -n "$PT_COOKIE_JAR" ]; then
        "$PYCNIC" request "$@" --cookie-jar "$PT_COOKIE_JAR" >"$PT_RAW" 2>"$PT_STDERR" </dev/null
    else
        "$PYCNIC" request "$@" >"$PT_RAW" 2>"$PT_STDERR" </dev/null
    fi
    PT_EXIT=$?
    pt_parse
}

# forget_cookies: empties the cookie jar (a new browser).
forget_cookies() {
    [ -n "$PT_COOKIE_JAR" ] && rm -f "$PT_COOKIE_JAR"
    return 0
}

# assert_cookie NAME VALUE: the jar holds cookie NAME with VALUE ('' : no such cookie).
assert_cookie() {
    pt_got=
    if [ -n "$PT_COOKIE_JAR" ] && [ -f "$PT_COOKIE_JAR" ]; then
        pt_got=$(sed 's/^#HttpOnly_//; /^#/d' "$PT_COOKIE_JAR" |
            awk -F '\t' -v n="$1" 'NF == 7 && $6 == n { v = $7 } END { print v }')
    fi
    if [ "$pt_got" = "$2" ]; then
        pt_pass "cookie $1=$2"
    else
        pt_fail "cookie $1: expected '$2', jar has '$pt_got'"
    fi
}

# cgi METHOD TARGET [-H 'Name: value'] [-b COOKIES] [-d DATA|@FILE|@-] [NAME=VALUE…]: the
# binary run as a bare CGI program with only these variables in its environment.
cgi() {
    pt_method=$1
    pt_target=$2
    shift 2
    PT_LAST="cgi $pt_method $pt_target"
    pt_path=${pt_target%%\?*}
    pt_query=
    case $pt_target in *\?*) pt_query=${pt_target#*\?} ;; esac
    pt_cookie=
    pt_has_data=
    pt_type=
    : >"$PT_DIR/stdin"
    pt_n=$#
    while [ "$pt_n" -gt 0 ]; do
        pt_arg=$1
        shift
        pt_n=$((pt_n - 1))
        case $pt_arg in
        -d | -b | -H)
            [ "$pt_n" -gt 0 ] || { pt_fail "cgi: $pt_arg needs a value"; return 1; }
            pt_value=$1
            shift
            pt_n=$((pt_n - 1))
            case $pt_arg in
            -d)
                pt_has_data=1
                case $pt_value in
                @-) cat >"$PT_DIR/stdin" ;;
                @*) cat "${pt_value#@}" >"$PT_DIR/stdin" || return 1 ;;
                *) printf '%s' "$pt_value" >"$PT_DIR/stdin" ;;
                esac
                ;;
            -b) pt_cookie=${pt_cookie:+$pt_cookie; }$pt_value ;;
            -H)
                pt_name=$(printf '%s' "${pt_value%%:*}" | tr 'abcdefghijklmnopqrstuvwxyz-' 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_')
                pt_hvalue=${pt_value#*:}
                pt_hvalue=${pt_hvalue# }
                case $pt_name in
                CONTENT_TYPE) pt_type=$pt_hvalue ;;
                *) set -- "$@" "HTTP_$pt_name=$pt_hvalue" ;;
                esac
                ;;
            esac
            ;;
        *) set -- "$@" "$pt_arg" ;;
        esac
    done
    if [ -n "$pt_has_data" ]; then
        pt_length=$(wc -c <"$PT_DIR/stdin" | tr -d ' ')
        set -- "CONTENT_LENGTH=$pt_length" "CONTENT_TYPE=${pt_type:-application/json}" "$@"
    elif [ -n "$pt_type" ]; then
        set -- "CONTENT_TYPE=$pt_type" "$@"
    fi
    # The app's own settings (PYCNIC_SESSION_STORE, PYCNIC_SECRET_KEY_FILE, …) pass env -i.
    for pt_var in $(env | sed -n 's/^\(PYCNIC_[A-Za-z0-9_]*\)=.*/\1/p'); do
        eval "set -- \"$pt_var=\${$pt_var}\" \"\$@\""
    done
    pt_bin=$(command -v "$PYCNIC") || { pt_fail "no binary $PYCNIC"; return 1; }
    env -i GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 REMOTE_ADDR=127.0.0.1 \
        REQUEST_METHOD="$pt_method" REQUEST_URI="$pt_target" PATH_INFO="$pt_path" \
        QUERY_STRING="$pt_query" ${pt_cookie:+"HTTP_COOKIE=$pt_cookie"} "$@" \
        "$pt_bin" <"$PT_DIR/stdin" >"$PT_RAW" 2>"$PT_STDERR"
    PT_EXIT=$?
    pt_parse
}

assert_status() {
    if [ "$PT_STATUS" = "$1" ]; then pt_pass "status $1"; else pt_fail "status: want $1, got '$PT_STATUS'"; fi
}

assert_exit() {
    if [ "$PT_EXIT" = "$1" ]; then pt_pass "exit $1"; else pt_fail "exit status: want $1, got $PT_EXIT"; fi
}

# Prints every value of header $1 (case-insensitive name), one a line.
header_values() {
    pt_want=$(printf '%s' "$1" | tr 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' 'abcdefghijklmnopqrstuvwxyz')
    while IFS= read -r pt_line; do
        pt_name=$(printf '%s' "${pt_line%%: *}" | tr 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' 'abcdefghijklmnopqrstuvwxyz')
        [ "$pt_name" = "$pt_want" ] && printf '%s\n' "${pt_line#*: }"
    done <"$PT_HEADERS"
    return 0
}

# assert_header NAME VALUE: some header NAME has exactly VALUE (each Set-Cookie is its own).
assert_header() {
    pt_values=$(header_values "$1")
    if header_values "$1" | grep -Fxq -- "$2"; then
        pt_pass "header $1: $2"
    else
        pt_fail "header $1: want '$2', got '$(printf '%s' "$pt_values" | tr '\n' '|')'"
    fi
}

assert_no_header() {
    pt_values=$(header_values "$1")
    if [ -z "$pt_values" ]; then pt_pass "no header $1"; else pt_fail "header $1 present: '$pt_values'"; fi
}

# assert_header_count NAME N: exactly N header lines named NAME.
assert_header_count() {
    pt_count=$(header_values "$1" | wc -l | tr -d ' ')
    if [ "$pt_count" = "$2" ]; then pt_pass "$2 x $1"; else pt_fail "$1 lines: want $2, got $pt_count"; fi
}

# assert_body TEXT: the body is exactly TEXT.
assert_body() {
    printf '%s' "$1" >"$PT_DIR/want"
    if cmp -s "$PT_DIR/want" "$PT_BODY"; then pt_pass "body"; else pt_fail "body: want '$1', got '$(cat "$PT_BODY")'"; fi
}

# json_field EXPR: prints the value at EXPR (`.a.b`, `.list[0]`, `.` for the whole body):
# a string as is, anything else as compact JSON. Exit 1 when the body is not JSON or EXPR
# is not there.
json_field() {
    python3 -c '
import json, re, sys
expr, path = sys.argv[1], sys.argv[2]
try:
    value = json.load(open(path, "rb"))
    for key, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", expr):
        value = value[int(index)] if index else value[key]
except Exception as err:
    print("<%s: %s>" % (type(err).__name__, err))
    sys.exit(1)
if isinstance(value, str):
    print(value)
else:
    print(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
' "$1" "$PT_BODY"
}

# assert_body_json EXPR VALUE: the JSON field at EXPR is VALUE (strings bare, the rest as
# compact JSON: null, 400, {"theme":"dark"}).
assert_body_json() {
    pt_got=$(json_field "$1")
    if [ "$pt_got" = "$2" ]; then pt_pass "json $1 = $2"; else pt_fail "json $1: want '$2', got '$pt_got'"; fi
}

# assert_json_body JSON: the body parses to the same JSON value as JSON.
assert_json_body() {
    if python3 -c '
import json, sys
sys.exit(0 if json.load(open(sys.argv[2], "rb")) == json.loads(sys.argv[1]) else 1)
' "$1" "$PT_BODY" 2>/dev/null; then
        pt_pass "json body $1"
    else
        pt_fail "json body: want $1, got '$(cat "$PT_BODY")'"
    fi
}

# assert_stderr_clean: nothing on stderr mentions a panic.
assert_stderr_clean() {
    if grep -q panicked "$PT_STDERR"; then pt_fail "panic on stderr: $(cat "$PT_STDERR")"; else pt_pass "no panic"; fi
}

# done_testing: prints "N passed, N failed" alone on a line; exit 1 on any failure.
done_testing() {
    printf '%s passed, %s failed\n' "$PT_PASSED" "$PT_FAILED"
    [ "$PT_FAILED" -eq 0 ] || exit 1
    exit 0
}
