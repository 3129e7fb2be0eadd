#!/bin/sh
# Installs what the end-to-end tests (tests/e2e_*.rs) and the benchmarks drive: the real web
# servers and their FastCGI/CGI modules, spawn-fcgi, cgi-fcgi, curl, wrk and hyperfine.
#
# Idempotent: each Debian package is checked with dpkg-query first; `apt-get update` runs only
# when something is missing, and nothing is installed twice. Safe to run on every CI start.
# Needs root (or sudo) only when it has something to install.
#
#   nginx-light           nginx 1.22 with the FastCGI and upstream modules (keepalive included)
#   apache2               Apache 2.4; apache2-bin ships mod_proxy_fcgi, mod_cgi and mod_cgid
#   libapache2-mod-fcgid  mod_fcgid (not part of apache2-bin)
#   lighttpd              lighttpd 1.4; mod_fastcgi is built in, mod_cgi ships as a module
#   spawn-fcgi            starts a FastCGI program on a listening socket on fd 0
#   libfcgi-bin           cgi-fcgi, a FastCGI client for shell checks
#   curl wrk hyperfine    HTTP client, load generator, command timer (scripts/bench*)
set -eu

packages="nginx-light apache2 libapache2-mod-fcgid lighttpd spawn-fcgi libfcgi-bin curl wrk hyperfine"

missing=""
for package in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $package"
    fi
done

check_modules() {
    # The modules the configurations in conf/ load, where conf/ says they are.
    for module in mod_proxy.so mod_proxy_fcgi.so mod_fcgid.so mod_cgi.so mod_cgid.so; do
        if [ ! -f "/usr/lib/apache2/modules/$module" ]; then
            echo "install-deps: /usr/lib/apache2/modules/$module is missing" >&2
            exit 1
        fi
    done
    if [ ! -f /usr/lib/lighttpd/mod_cgi.so ]; then
        echo "install-deps: /usr/lib/lighttpd/mod_cgi.so is missing" >&2
        exit 1
    fi
}

if [ -z "$missing" ]; then
    check_modules
    echo "install-deps: all present:$(printf ' %s' $packages)"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The Debian packages start their services on install (nginx and Apache on port 80). The tests
# need none of that: each starts its own server on its own ports. Without a service manager
# invoke-rc.d would start them from /etc/init.d, so forbid it for the install with a temporary
# policy-rc.d (exit 101 = "action forbidden"), unless the machine already has one.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    made_policy=yes
fi
# shellcheck disable=SC2086
if ! $sudo apt-get install -y -qq --no-install-recommends $missing; then
    [ -n "$made_policy" ] && $sudo rm -f "$policy"
    exit 1
fi
[ -n "$made_policy" ] && $sudo rm -f "$policy"

check_modules
echo "install-deps: done"
