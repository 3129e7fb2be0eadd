#!/bin/sh
# Starts the app with spawn-fcgi: spawn-fcgi creates the unix socket with the owner and mode
# given, then runs the binary with the listening socket on fd 0; the binary sees it and serves
# FastCGI. Point nginx at the socket with conf/nginx/pycnic-unix.conf (Apache:
# conf/apache/pycnic-proxy-fcgi-unix.conf).
#
# Run it as root (it changes users), from an init script or a supervisor. -n keeps the app in
# the foreground for a supervisor; drop -n to have spawn-fcgi daemonize it (with -P pidfile).
#
# Placeholders (replace them): @BIN@ the binary (e.g. /usr/local/bin/pycnic), @SOCKET@ the
# socket (e.g. /run/pycnic/pycnic.sock), @APP_USER@/@APP_GROUP@ who the app runs as (e.g.
# pycnic), @WEB_GROUP@ the web server's group, which may connect (www-data on Debian),
# @STORE_DIR@ the session store's folder, one per app (e.g. /var/lib/pycnic).
set -eu

# CHANGE: the binary, the socket, the users.
app=@BIN@
socket=@SOCKET@

mkdir -p "$(dirname "$socket")"
rm -f "$socket"
# The session store's folder: the app's user's alone (mode 0700), since SQLite writes -wal
# and -shm files beside the store. The app refuses a store or folder another user owns or
# could write. CHANGE: the folder (one per app).
store_dir=@STORE_DIR@
install -d -m 0700 -o @APP_USER@ -g @APP_GROUP@ "$store_dir"
# Settings reach the app as environment variables. A socket on fd 0 alone means one process;
# PYCNIC_PROCESSES=2 makes the process spawn-fcgi starts (whose pid a supervisor watches, with
# -n) a master over 2 worker processes, so a crashing handler costs one worker's requests.
# CHANGE: the worker processes (1: one process with no master).
export PYCNIC_PROCESSES=2
export PYCNIC_MAX_BODY=10M
export PYCNIC_SESSION_STORE="sqlite:$store_dir/sessions.sqlite3"
exec spawn-fcgi -n -s "$socket" -M 0660 -U @APP_USER@ -G @WEB_GROUP@ \
    -u @APP_USER@ -g @APP_GROUP@ -- "$app"
