#!/usr/bin/env bash
# Installs what the test gate and the benchmarks need, only when it is missing: the real web
# servers and launchers the end-to-end tests start, load tools, and cargo-fuzz.
# Idempotent; `apt-get update` runs only when a package has to be installed.
set -euo pipefail

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
need_cmd hyperfine || missing+=(hyperfine)
need_cmd python3 || missing+=(python3)

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -q
    # Packages must not start system-wide services on port 80 during the install.
    made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ -n "$made_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
