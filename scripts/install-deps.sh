#!/usr/bin/env bash
# Installs what the test gate and the benchmarks need, only when it is missing: the real web
# servers, their FastCGI/CGI modules and the launchers the end-to-end tests start, load tools,
# and cargo-fuzz. Idempotent; `apt-get update` runs only when a package has to be installed.
# Installing needs root (or sudo) and network: apt-get for the packages, `cargo install` for
# cargo-fuzz.
#
#   scripts/install-deps.sh           install what is missing
#   scripts/install-deps.sh --check   install nothing: name what is missing, exit 1 if anything is
#
#   nginx-light           nginx 1.22 with the FastCGI and upstream (keepalive) modules
#   apache2               Apache 2.4; apache2-bin ships mod_proxy_fcgi, mod_cgi and mod_cgid
#   libapache2-mod-fcgid  mod_fcgid (not part of apache2-bin)
#   lighttpd              lighttpd 1.4; mod_fastcgi is built in, mod_cgi ships as a module
#   spawn-fcgi            runs a FastCGI program with a listening socket on fd 0
#   libfcgi-bin           cgi-fcgi, a FastCGI client for shell checks
#   systemd               systemd-socket-activate and systemd-analyze (conf/systemd/ tests)
#   curl wrk hyperfine    HTTP client, load generator, command timer (scripts/bench*)
#   redis-server          Redis: the sessions tests start their own on a free loopback port
#   memcached             memcached: the sessions tests start their own on a free loopback port
#   gcc libfcgi-dev       scripts/bench-fastcgi.sh builds its C responders (the limit, libfcgi)
#   php-fpm               the PHP-FPM peer of scripts/bench-fastcgi.sh
#   php-cli               `php -S`, the peer of scripts/bench-serve.sh
#   logrotate             tests/e2e/ops_runtime.rs runs conf/logrotate/pycnic with it
#   chromium-headless-shell  headless Chromium (no UI): tests/e2e/browser_cors.rs drives it
#   libclang-rt-19-dev    LLVM's libFuzzer, prebuilt: scripts/fuzz.sh links the fuzz targets
#                         with it instead of compiling libFuzzer's C++ (a minute of the gate)
set -euo pipefail

check_only=
case "${1:-}" in
    --check) check_only=1 ;;
    "") ;;
    *) echo "usage: scripts/install-deps.sh [--check]" >&2; exit 2 ;;
esac

need_cmd() { command -v "$1" >/dev/null 2>&1; }
missing=()
need_cmd nginx || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/sbin/apache2 ] || missing+=(apache2)
[ -e /usr/lib/apache2/modules/mod_fcgid.so ] || missing+=(libapache2-mod-fcgid)
[ -x /usr/sbin/lighttpd ] || missing+=(lighttpd)
need_cmd spawn-fcgi || missing+=(spawn-fcgi)
need_cmd cgi-fcgi || missing+=(libfcgi-bin)
need_cmd systemd-socket-activate || missing+=(systemd)
need_cmd curl || missing+=(curl)
need_cmd wrk || missing+=(wrk)
[ -x /usr/sbin/logrotate ] || need_cmd logrotate || missing+=(logrotate)
need_cmd hyperfine || missing+=(hyperfine)
need_cmd python3 || missing+=(python3)
need_cmd gcc || missing+=(gcc)
[ -e /usr/include/fcgiapp.h ] || missing+=(libfcgi-dev)
compgen -G '/usr/sbin/php-fpm*' >/dev/null || missing+=(php-fpm)
need_cmd php || missing+=(php-cli)
need_cmd redis-server || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
need_cmd memcached || [ -x /usr/bin/memcached ] || missing+=(memcached)
need_cmd chromium-headless-shell || need_cmd chromium || missing+=(chromium-headless-shell)
compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null \
    || missing+=(libclang-rt-19-dev)

if [ -n "$check_only" ]; then
    cargo fuzz --version >/dev/null 2>&1 || missing+=("cargo-fuzz (cargo install cargo-fuzz --locked)")
    if [ ${#missing[@]} -gt 0 ]; then
        echo "install-deps: missing: ${missing[*]}" >&2
        echo "install-deps: scripts/install-deps.sh installs them (apt-get and cargo install: root or sudo, network)" >&2
        exit 1
    fi
    echo "install-deps: everything the tests need is installed"
    exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -q
    # Packages must not start system-wide services on port 80 during the install: without a
    # service manager invoke-rc.d would start them from /etc/init.d. A temporary policy-rc.d
    # (exit 101 = "action forbidden") prevents it, unless the machine already has one.
    made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ -n "$made_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
fi

# The modules conf/ loads, where conf/ says they are.
for module in mod_proxy mod_proxy_fcgi mod_fcgid mod_cgi mod_cgid mod_alias mod_headers; do
    if [ ! -e "/usr/lib/apache2/modules/$module.so" ]; then
        echo "install-deps: /usr/lib/apache2/modules/$module.so is missing" >&2
        exit 1
    fi
done
if [ ! -e /usr/lib/lighttpd/mod_cgi.so ]; then
    echo "install-deps: /usr/lib/lighttpd/mod_cgi.so is missing" >&2
    exit 1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
