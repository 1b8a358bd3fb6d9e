#!/usr/bin/env bash
# tests/pg/pgscratch.sh: a scratch PostgreSQL server for the tests.
#
#   tests/pg/pgscratch.sh [--] COMMAND [ARGS...]
#       starts a server, runs COMMAND with the variables below, then stops
#       the server and removes its folder; exits with COMMAND's status.
#   tests/pg/pgscratch.sh
#       starts a server, prints DATABASE_URL=... and waits; Ctrl-C (or any
#       INT/TERM) stops it and removes its folder.
#
# The server: initdb in a fresh temporary folder, pg_ctl start listening on
# a unix socket in that folder and on 127.0.0.1 at a free port; role
# "parley" (password login, CREATEDB) owning database "parley".  The
# superuser "postgres" logs in over the socket only, without a password.
# Defaults are PostgreSQL's own (fsync and synchronous_commit on), so what
# tests measure is what a real server costs; PGSCRATCH_OPTS adds server
# options (e.g. "-c fsync=off").
#
# initdb and postgres refuse to run as root: as root they run as "nobody"
# (setpriv, or runuser), which owns the folder; otherwise as the caller.
#
# COMMAND sees:
#   DATABASE_URL         postgresql://parley:<password>@127.0.0.1:<port>/parley
#   PGSCRATCH_ADMIN_URL  the superuser over the socket (postgresql://postgres@/parley?host=<dir>)
#   PGSCRATCH_DIR        the folder (data/, the socket, log)
#   PGSCRATCH_PORT       the port
#   PGSCRATCH_CTL        a command that runs pg_ctl as the server's user on
#                        its data folder: "$PGSCRATCH_CTL restart -m fast"
# Env in: PG_BIN (the folder of initdb and pg_ctl; default: pg_config
# --bindir, else the newest /usr/lib/postgresql/*/bin), TMPDIR.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

find_bin() {
	local d
	if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
	d="$(pg_config --bindir 2>/dev/null || true)"
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	d="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
	[ -x "$d/initdb" ] && { echo "$d"; return; }
	echo "pgscratch: no initdb found: install the Debian package postgresql (scripts/install-deps.sh --test) or set PG_BIN" >&2
	return 1
}
BIN="$(find_bin)"

# as_owner CMD...: runs CMD as the server's user.
IS_ROOT=0
if [ "$(id -u)" -eq 0 ]; then
	IS_ROOT=1
	if command -v setpriv >/dev/null 2>&1; then
		as_owner() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$@"; }
	else
		as_owner() { runuser -u nobody -- "$@"; }
	fi
else
	as_owner() { "$@"; }
fi

free_port() {
	if command -v node >/dev/null 2>&1; then
		node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
	else
		python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
	fi
}

DIR="$(mktemp -d "${TMPDIR:-/tmp}/pgscratch-XXXXXX")"
chmod 755 "$DIR"
[ "$IS_ROOT" = 1 ] && chown nobody "$DIR"
DATA="$DIR/data"
LOG="$DIR/server.log"
STARTED=0

stop() {
	if [ "$STARTED" = 1 ]; then
		(cd "$DIR" && as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1) || true
	fi
	rm -rf "$DIR"
}
trap stop EXIT
trap 'exit 130' INT TERM

PW="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
# cd: the server's user may not be allowed into the caller's folder.
cd "$DIR"
if ! as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
	-E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1; then
	cat "$DIR/initdb.log" >&2
	echo "pgscratch: initdb failed" >&2
	exit 1
fi

started=""
for _ in 1 2 3 4 5; do
	PORT="$(free_port)"
	# shellcheck disable=SC2086 # PGSCRATCH_OPTS is a list of options
	if as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s \
		-o "-k $DIR -h 127.0.0.1 -p $PORT -c max_connections=100 ${PGSCRATCH_OPTS:-}" start >/dev/null 2>&1; then
		started=1
		break
	fi
done
if [ -z "$started" ]; then
	cat "$LOG" >&2 || true
	echo "pgscratch: pg_ctl start failed" >&2
	exit 1
fi
STARTED=1

psql_admin() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres "$@"; }
psql_admin -d postgres >/dev/null <<SQL
CREATE ROLE parley LOGIN CREATEDB PASSWORD '$PW';
CREATE DATABASE parley OWNER parley;
SQL

export DATABASE_URL="postgresql://parley:$PW@127.0.0.1:$PORT/parley"
export PGSCRATCH_ADMIN_URL="postgresql://postgres@/parley?host=$DIR&port=$PORT"
export PGSCRATCH_DIR="$DIR" PGSCRATCH_PORT="$PORT"
if [ "$IS_ROOT" = 1 ]; then
	if command -v setpriv >/dev/null 2>&1; then
		PGSCRATCH_CTL="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups -- $BIN/pg_ctl -D $DATA -l $LOG -w"
	else
		PGSCRATCH_CTL="runuser -u nobody -- $BIN/pg_ctl -D $DATA -l $LOG -w"
	fi
else
	PGSCRATCH_CTL="$BIN/pg_ctl -D $DATA -l $LOG -w"
fi
export PGSCRATCH_CTL
cd "$HERE/../.." 2>/dev/null || cd /

[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
	echo "DATABASE_URL=$DATABASE_URL"
	echo "PGSCRATCH_ADMIN_URL=$PGSCRATCH_ADMIN_URL"
	echo "pgscratch: running in $DIR; Ctrl-C stops it and removes the folder" >&2
	while :; do sleep 3600 & wait $! || true; done
fi
set +e
"$@"
status=$?
exit "$status"
