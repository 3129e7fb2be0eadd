#!/bin/sh
# The sessions example's whole flow through `sessions request` and the test file's cookie jar:
# log in, /me twice, log out, /me is 401; then `cgi` (env -i) with the PYCNIC_* settings
# passed through. Binary: $SESSIONS_BIN (default target/debug/examples/sessions).
root=$(cd "$(dirname "$0")/../.." && pwd)
PYCNIC=${SESSIONS_BIN:-$root/target/debug/examples/sessions}
. "$root/scripts/pycnic-test.sh"

store=$(mktemp -d "${TMPDIR:-/tmp}/pycnic-sessions.XXXXXX") || exit 2
trap 'rm -rf "$PT_DIR" "$store"' EXIT
"$PYCNIC" keygen >"$store/keys" || exit 2
PYCNIC_SECRET_KEY_FILE=$store/keys
PYCNIC_SESSION_STORE=sqlite:$store/sessions.db
export PYCNIC_SECRET_KEY_FILE PYCNIC_SESSION_STORE

request GET /me
assert_status 401

request POST /login -d '{"username":"foo","password":"foo"}'
assert_status 200
assert_json_body '{"message": "Logged in"}'

request GET /me
assert_status 200
assert_json_body '{"user": "foo", "visits": 1}'

request GET /me
assert_status 200
assert_json_body '{"user": "foo", "visits": 2}'

request POST /logout
assert_status 200
assert_cookie session ''

request GET /me
assert_status 401

forget_cookies
request POST /login -d '{"username":"foo","password":"foo"}'
assert_status 200
cgi POST /login -d '{"username":"foo","password":"foo"}'
assert_status 200
assert_json_body '{"message": "Logged in"}'

done_testing
