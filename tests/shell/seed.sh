#!/bin/sh
# The seed table of docs/contract.md, both ways: through `pycnic request` and through the binary run
# as a bare CGI program (env -i). Binary: $PYCNIC_BIN (default target/debug/pycnic).
root=$(cd "$(dirname "$0")/../.." && pwd)
PYCNIC=${PYCNIC_BIN:-$root/target/debug/pycnic}
. "$root/scripts/pycnic-test.sh"

LOGIN_COOKIE='session_id=1234567890abcdefg; Path=/'
DELETION='session_id=DELETED; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Max-Age=0'

# assert_error STATUS REASON MESSAGE: Pycnic's HTTP-error body.
assert_error() {
    assert_status "$1"
    assert_json_body "{\"status\": \"$1 $2\", \"status_code\": $1, \"error\": \"$3\", \"data\": null}"
}

for run in request cgi; do
    $run GET /login
    assert_status 200
    assert_json_body '{"session_id": null}'
    assert_no_header Set-Cookie
    assert_exit 0
    assert_stderr_clean

    $run GET /login -b 'session_id=abc; path=/;'
    assert_status 200
    assert_body_json .session_id abc

    $run POST /login -d '{"username":"foo","password":"foo"}'
    assert_status 200
    assert_body_json .message 'Logged in'
    assert_header Set-Cookie "$LOGIN_COOKIE"
    assert_header_count Set-Cookie 1

    $run POST /login -d '{"username":"foo"}'
    assert_error 400 'Bad Request' 'Username and password are required'

    $run POST /login
    assert_error 400 'Bad Request' 'Username and password are required'

    $run POST /login -d '{"username":"foo","password":"bar"}'
    assert_error 401 Unauthorized 'Username or password are incorrect'
    assert_no_header Set-Cookie

    $run POST /login -d '{bad json'
    assert_error 400 'Bad Request' 'Expected JSON in request body'

    $run POST /logout -b 'session_id=x'
    assert_status 200
    assert_json_body '{"message": "Logged out"}'
    assert_header Set-Cookie "$DELETION"
    assert_header_count Set-Cookie 1

    $run POST /logout -b 'session_id=DELETED; theme=dark'
    assert_status 200
    assert_json_body '{"message": "Already logged out", "cookies": {"theme": "dark"}}'

    $run GET /logout
    assert_error 405 'Method Not Allowed' 'GET not allowed'
    assert_header Allow 'POST, OPTIONS'

    $run GET /nowhere
    assert_error 404 'Not Found' 'Path /nowhere not found'

    $run GET /login/
    assert_status 200
    assert_json_body '{"session_id": null}'

    $run OPTIONS /login
    assert_status 200
    assert_json_body '{}'
    assert_header Allow 'GET, HEAD, POST, OPTIONS'

    $run HEAD /login
    assert_status 200
    assert_header Content-Length 19
    assert_body ''
done

done_testing
