#!/bin/sh
# A handful of showcase checks through `showcase request` and bare CGI: route arguments,
# 201 + Location, cookie options, a handler hook refusing, app headers, a stream, 204, a panic.
# Binary: $SHOWCASE_BIN (default target/debug/examples/showcase).
root=$(cd "$(dirname "$0")/../.." && pwd)
PYCNIC=${SHOWCASE_BIN:-$root/target/debug/examples/showcase}
. "$root/scripts/pycnic-test.sh"

request GET /hello/ada/hi
assert_status 200
assert_body_json .greeting 'hi, ada'
assert_header Access-Control-Allow-Origin '*'
assert_header X-Handled-By showcase

cgi GET '/hello/ada?greeting=yo'
assert_status 200
assert_body_json .greeting 'yo, ada'

request POST /users -d '{"name":"ada","age":36}'
assert_status 201
assert_header Location /users/1
assert_json_body '{"id": 1, "user": {"name": "ada", "age": 36}}'

request POST /users -d '{"name":"ada"}'
assert_status 400
assert_body_json .data.field age

request POST /cookies
assert_header_count Set-Cookie 3
assert_header Set-Cookie 'plain=last wins; Path=/'
assert_header Set-Cookie 'flagged=3; Path=/; Partitioned'

request GET /admin
assert_status 403
assert_body_json .data '{"header":"X-Token"}'
assert_header Access-Control-Allow-Origin '*'

cgi GET /admin -H 'X-Token: secret'
assert_status 200
assert_header X-Admin-Checked yes

request GET '/stream?chunks=2'
assert_status 200
assert_no_header Content-Length
assert_body 'chunk 0
chunk 1
'

request GET /empty
assert_status 204
assert_no_header Content-Length
assert_body ''

request GET /panic
assert_status 500
assert_body_json .error 'Internal server error encountered.'
assert_no_header Access-Control-Allow-Origin

request GET /nowhere -f
assert_exit 22
assert_status 404

done_testing
