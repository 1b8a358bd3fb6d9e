#!/usr/bin/env bash
# tests/fcgi/run.sh: parley.fcgi behind real web servers, next to parleyd.
#
# Starts, all on free 127.0.0.1 ports and in a temp folder of their own,
# unprivileged configurations made from contrib/ by contrib/render.sh:
#   parleyd                         the daemon (push, and REST for comparison)
#   lighttpd + parley.fcgi          mod_fastcgi, parley.fcgi as bin-path child (2 processes)
#   spawn-fcgi + parley.fcgi        2 processes on a TCP socket (--max-polls 1)
#   Apache mod_proxy_fcgi           in front of the spawn-fcgi workers
#   Apache mod_cgi                  parley.fcgi as a CGI program
#   nginx fastcgi_pass              in front of the spawn-fcgi workers (if nginx is installed)
# all on one data folder and one secret, then runs
#   - settings errors: reported on stderr, exit 2, before anything is accepted;
#   - tests/fcgi/through.test.mjs: the REST matrix through each web server
#     against parleyd itself (same status, same body shape);
#   - tests/fcgi/cross.test.mjs: FastCGI writes live on parleyd's SSE and
#     WebSocket, parleyd writes read through Apache, 8 parallel FastCGI
#     writers plus parleyd, long-poll limits, CGI = FastCGI, --socket and
#     SIGTERM;
#   - tests/fcgi/resume.test.mjs: long-poll resume through parley.fcgi
#     (alone on --socket, beside a parleyd of its own) after 1 to 5,000
#     missed messages, every one once and in order;
#   - tests/integration/rest.test.mjs through lighttpd and through Apache,
#     when it supports PARLEY_TARGET_URL: each pass on a stack of its own
#     (parleyd, the web server, its parley.fcgi) on a fresh data folder,
#     stopped after it, since the suite's room and user ids are fixed;
#   - with redis-server: parleyd and lighttpd + parley.fcgi on REDIS_URL,
#     the live checks again;
#   - a graceful stop of every parley.fcgi its manager stops.
# The last line is "fcgi: N passed, N failed"; the exit status is non-zero
# on any failure.  Every process it started is stopped on the way out.
#
#   PARLEYD=./parleyd PARLEY_FCGI=./parley.fcgi bash tests/fcgi/run.sh
#
# Needs (Debian packages): lighttpd apache2 spawn-fcgi nodejs; nginx and
# redis-server optional (their passes are skipped without them).
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
PARLEYD=${PARLEYD:-$ROOT/parleyd}
PARLEY_FCGI=${PARLEY_FCGI:-$ROOT/parley.fcgi}
NODE=${NODE:-node}
export PATH="$PATH:/usr/sbin:/sbin"
# The secret of tests/integration/lib.mjs, whose token() the node tests use.
SECRET=integration-test-secret-0123456789

PASSED=0
FAILED=0
PIDS=()
TMP=

ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }

# Stops a process we started: TERM, then KILL after 10 s.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p"; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ "${KEEP:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
	fi
	TMP=
}
trap 'cleanup; exit 130' INT TERM
trap 'cleanup' EXIT

finish() {
	if [ "$FAILED" -gt 0 ] && [ -n "$TMP" ]; then
		for f in "$TMP"/logs/*; do
			[ -s "$f" ] || continue
			echo "--- $(basename "$f") (last lines)"
			tail -n 15 "$f"
		done
	fi
	cleanup
	echo "fcgi: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

free_port() {
	"$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until URL answers with the status given (default 200).
wait_http() {
	"$NODE" -e '
const [url, want] = [process.argv[1], Number(process.argv[2] || 200)];
const end = Date.now() + 20000;
(async () => {
  for (;;) {
    const r = await fetch(url).catch(() => null);
    if (r && r.status === want) process.exit(0);
    if (Date.now() > end) { console.error(`no ${want} from ${url}: ${r ? r.status : "no answer"}`); process.exit(1); }
    await new Promise((f) => setTimeout(f, 100));
  }
})();' "$1" "${2:-200}"
}

# Runs a node suite: suite NAME SCRIPT VAR=VALUE...; adds its
# "SUITE: N passed, N failed" line to the totals.
suite() {
	local name=$1 script=$2 out line p f
	shift 2
	out=$(mktemp)
	env "$@" "$NODE" "$script" 2>&1 | tee "$out"
	line=$(grep -E "^[A-Za-z0-9_-]+: [0-9]+ passed, [0-9]+ failed" "$out" | tail -n 1)
	if [ -z "$line" ]; then
		bad "$name: the suite printed no result"
	else
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
		PASSED=$((PASSED + p))
		FAILED=$((FAILED + f))
	fi
	rm -f "$out"
}

# Counts "stopped" lines of parley.fcgi in the logs given, waiting up to
# 10 s for want of them.
stopped_in() {
	local want=$1 n i
	shift
	for i in $(seq 1 100); do
		n=$(cat "$@" 2>/dev/null | grep -c " info stopped$")
		[ "$n" -ge "$want" ] && break
		sleep 0.1
	done
	echo "$n"
}

# ---- prerequisites ----

for b in "$PARLEYD" "$PARLEY_FCGI"; do
	[ -x "$b" ] || { bad "binary $b not built (make first)"; finish; }
done
missing=
for c in lighttpd:lighttpd apache2:apache2 spawn-fcgi:spawn-fcgi "$NODE":nodejs; do
	command -v "${c%%:*}" >/dev/null 2>&1 || missing="$missing ${c##*:}"
done
if [ -n "$missing" ]; then
	bad "missing programs: apt-get install$missing"
	finish
fi

TMP=$(mktemp -d /tmp/parley-fcgi.XXXXXX)
# Workers of a root-started Apache or nginx run as nobody: let them in.
chmod 755 "$TMP"
mkdir -p "$TMP/logs" "$TMP/data" "$TMP/run" "$TMP/cgi-bin"
# A data folder shared with the workers' group (db/perms.h): its files are
# made 0660 in that group, and the group may use parleyd's bus.
share_data() { chgrp nogroup "$1" && chmod 2770 "$1"; }
share_data "$TMP/data"
cp -r "$ROOT/www" "$TMP/www"
cp "$PARLEY_FCGI" "$TMP/cgi-bin/parley.cgi"
chmod -R a+rX "$TMP/www" "$TMP/cgi-bin"
printf '%s' "$SECRET" >"$TMP/secret"
chmod 644 "$TMP/secret"
DATA=$TMP/data
LOGS=$TMP/logs
export PARLEY_JWT_SECRET=$SECRET

# ---- settings errors: stderr, exit 2, nothing accepted ----

check_refusal() {
	local what=$1 want=$2
	shift 2
	local err rc
	err=$("$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	if [ "$rc" -eq 2 ] && echo "$err" | grep -qiE -- "$want"; then
		ok "settings: $what: exit 2, stderr: $(echo "$err" | head -n 1 | cut -c1-100)"
	else
		bad "settings: $what: want exit 2 and /$want/ on stderr, got exit $rc: $err"
	fi
}
check_refusal "--threads 0" "threads" env -u GATEWAY_INTERFACE -u REQUEST_METHOD "$PARLEY_FCGI" --threads 0 --socket "$TMP/never.sock"
check_refusal "--max-polls x" "max-polls" env -u GATEWAY_INTERFACE -u REQUEST_METHOD "$PARLEY_FCGI" --max-polls x --socket "$TMP/never.sock"
check_refusal "an unknown flag" "unknown|--frobnicate" env -u GATEWAY_INTERFACE -u REQUEST_METHOD "$PARLEY_FCGI" --frobnicate
check_refusal "no secret" "secret" env -u GATEWAY_INTERFACE -u REQUEST_METHOD PARLEY_JWT_SECRET= "$PARLEY_FCGI" --data "$DATA" --socket "$TMP/never.sock"
check_refusal "--socket HOST:notaport" "socket" env -u GATEWAY_INTERFACE -u REQUEST_METHOD "$PARLEY_FCGI" --data "$DATA" --socket 127.0.0.1:notaport
check_refusal "no FastCGI socket and no --socket" "socket" env -u GATEWAY_INTERFACE -u REQUEST_METHOD "$PARLEY_FCGI" --data "$DATA"
if [ -e "$TMP/never.sock" ]; then bad "settings: a refused start still made its socket"; else ok "settings: nothing was listened on"; fi
if help=$("$PARLEY_FCGI" --help 2>&1) && echo "$help" | grep -q -- "--socket" && echo "$help" | grep -q -- "--max-polls"; then
	ok "settings: --help lists --socket and --max-polls"
else
	bad "settings: --help: $help"
fi

# ---- the servers ----

# Files parleyd creates must be writable by the CGI programs of a
# root-started Apache (nobody): the data folder is shared with nogroup
# (share_data), so parley.db and its WAL are made 0660 in that group.
umask 000
DP=$(free_port)
"$PARLEYD" --listen "127.0.0.1:$DP" --data "$DATA" --www "$TMP/www" \
	>"$LOGS/parleyd.log" 2>&1 &
PARLEYD_PID=$!
PIDS+=("$PARLEYD_PID")
wait_http "http://127.0.0.1:$DP/v1/health" || { bad "parleyd did not start"; finish; }

# spawn-fcgi: two processes of parley.fcgi on a TCP socket, one long-poll
# place each, for Apache, nginx and the direct FastCGI tests.
FP=$(free_port)
# (spawn-fcgi closes the workers' stderr: a shell keeps it in a log, then
# becomes the worker.)
export PARLEY_FCGI LOGS DATA
spawn-fcgi -a 127.0.0.1 -p "$FP" -F 2 -P "$TMP/run/spawn-fcgi.pid" -- /bin/sh -c \
	'exec "$PARLEY_FCGI" --data "$DATA" --threads 4 --max-polls 1 2>>"$LOGS/workers.log"' \
	>"$LOGS/spawn-fcgi.log" 2>&1
SPAWNED=$(tr '\n' ' ' <"$TMP/run/spawn-fcgi.pid" 2>/dev/null)
[ -n "$SPAWNED" ] || { bad "spawn-fcgi started nothing"; finish; }
for p in $SPAWNED; do PIDS+=("$p"); done

render() { # TEMPLATE OUT PORT RUN
	mkdir -p "$4"
	PARLEY_HTTP_PORT=$3 PARLEY_WWW="$TMP/www" PARLEY_FCGI="$5" PARLEY_FCGI_ADDR="127.0.0.1:$FP" \
		PARLEYD_ADDR="127.0.0.1:$DP" PARLEY_DATA="$DATA" PARLEY_SECRET_FILE="$TMP/secret" \
		PARLEY_RUN="$4" PARLEY_USER=nobody PARLEY_GROUP=nogroup \
		"$ROOT/contrib/render.sh" "$1" >"$2"
}

LP=$(free_port)
render "$ROOT/contrib/lighttpd/parley.conf" "$TMP/run/lighttpd.conf" "$LP" "$TMP/run/lighttpd" "$PARLEY_FCGI"
lighttpd -D -f "$TMP/run/lighttpd.conf" >"$LOGS/lighttpd.log" 2>&1 &
LIGHTTPD_PID=$!
PIDS+=("$LIGHTTPD_PID")

AP=$(free_port)
render "$ROOT/contrib/apache/parley.conf" "$TMP/run/apache.conf" "$AP" "$TMP/run/apache" "$PARLEY_FCGI"
# (setsid: Apache signals its whole process group when it stops.)
setsid apache2 -f "$TMP/run/apache.conf" -DFOREGROUND >"$LOGS/apache.log" 2>&1 &
PIDS+=("$!")

CP=$(free_port)
render "$ROOT/contrib/apache/parley-cgi.conf" "$TMP/run/apache-cgi.conf" "$CP" "$TMP/run/apache-cgi" "$TMP/cgi-bin/parley.cgi"
setsid apache2 -f "$TMP/run/apache-cgi.conf" -DFOREGROUND >"$LOGS/apache-cgi.log" 2>&1 &
PIDS+=("$!")

NP=
if command -v nginx >/dev/null 2>&1; then
	NP=$(free_port)
	render "$ROOT/contrib/nginx/parley.conf" "$TMP/run/nginx.conf" "$NP" "$TMP/run/nginx" "$PARLEY_FCGI"
	nginx -p "$TMP/run/nginx" -c "$TMP/run/nginx.conf" -g 'daemon off;' >"$LOGS/nginx.log" 2>&1 &
	PIDS+=("$!")
fi
umask 022

for front in "lighttpd:$LP" "apache:$AP" "apache-cgi:$CP/parley.cgi" ${NP:+"nginx:$NP"}; do
	if wait_http "http://127.0.0.1:${front#*:}/v1/health"; then
		ok "${front%%:*} answers /v1/health through parley.fcgi"
	else
		bad "${front%%:*} did not come up"
		finish
	fi
done
for front in "lighttpd:$LP" "apache:$AP" ${NP:+"nginx:$NP"}; do
	if wait_http "http://127.0.0.1:${front#*:}/" 200 && wait_http "http://127.0.0.1:${front#*:}/parley.js" 200; then
		ok "${front%%:*} serves www/"
	else
		bad "${front%%:*} does not serve www/"
	fi
done
# Logs that must never show: a client-visible "database is locked".
cp "$TMP/run/lighttpd/lighttpd-error.log" "$LOGS/lighttpd-error.log" 2>/dev/null

# ---- the suites ----

DIRECT=http://127.0.0.1:$DP
common=(PARLEYD="$PARLEYD" ROOT="$ROOT")
FT=$ROOT/tests/fcgi
suite through-lighttpd "$FT/through.test.mjs" "${common[@]}" SUITE=through-lighttpd TARGET_URL="http://127.0.0.1:$LP" DIRECT_URL="$DIRECT"
suite through-apache "$FT/through.test.mjs" "${common[@]}" SUITE=through-apache TARGET_URL="http://127.0.0.1:$AP" DIRECT_URL="$DIRECT"
if [ -n "$NP" ]; then
	suite through-nginx "$FT/through.test.mjs" "${common[@]}" SUITE=through-nginx TARGET_URL="http://127.0.0.1:$NP" DIRECT_URL="$DIRECT"
fi
suite cross "$FT/cross.test.mjs" "${common[@]}" DIRECT_URL="$DIRECT" LIGHTTPD_URL="http://127.0.0.1:$LP" \
	APACHE_URL="http://127.0.0.1:$AP" APACHE_CGI_URL="http://127.0.0.1:$CP" \
	${NP:+NGINX_URL="http://127.0.0.1:$NP"} FCGI_ADDR="127.0.0.1:$FP" FCGI_MAX_POLLS=1 FCGI_PROCS=2 \
	PARLEY_FCGI="$PARLEY_FCGI" PARLEY_DATA="$DATA"
# Long-poll resume through parley.fcgi, on a stack of its own (--socket).
suite resume "$FT/resume.test.mjs" "${common[@]}" PARLEY_FCGI="$PARLEY_FCGI"

# The REST integration suite itself, a second time through lighttpd and
# once through Apache, once it can be pointed at a running server.  Its
# room and user ids are fixed, so each pass gets a stack of its own on a
# fresh data folder (rest_stack), started for that pass and stopped after
# it: parleyd, and lighttpd with its bin-path parley.fcgi, or spawn-fcgi
# parley.fcgi workers with Apache in front, from the same contrib templates.

# Drops the pids given from PIDS (once they are stopped: a later cleanup
# must not signal a reused pid).
forget_pids() {
	local keep=() p q gone
	for p in "${PIDS[@]}"; do
		gone=
		for q in "$@"; do [ "$p" = "$q" ] && gone=1; done
		[ -n "$gone" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# rest_stack lighttpd|apache: runs rest.test.mjs as suite rest-FRONT on a
# stack of its own; checks its graceful stop.
rest_stack() {
	local front=$1 name=rest-$1
	local data=$TMP/data-$name run=$TMP/run/$name
	local DATA=$data DP FP=$FP port url sp spawned= fpid pids=() p n rc want
	mkdir -p "$data" "$run"
	share_data "$data"
	umask 000
	DP=$(free_port)
	"$PARLEYD" --listen "127.0.0.1:$DP" --data "$data" --www "$TMP/www" \
		>"$LOGS/$name-parleyd.log" 2>&1 &
	sp=$!
	PIDS+=("$sp")
	if ! wait_http "http://127.0.0.1:$DP/v1/health"; then
		umask 022
		bad "$name: parleyd did not start"
		return
	fi
	port=$(free_port)
	case $front in
	lighttpd)
		render "$ROOT/contrib/lighttpd/parley.conf" "$run.conf" "$port" "$run" "$PARLEY_FCGI"
		lighttpd -D -f "$run.conf" >"$LOGS/$name.log" 2>&1 &
		fpid=$!
		PIDS+=("$fpid")
		want=2
		;;
	apache)
		FP=$(free_port)
		env DATA="$data" LOGS="$LOGS" NAME="$name" spawn-fcgi -a 127.0.0.1 -p "$FP" -F 2 \
			-P "$run-spawn-fcgi.pid" -- /bin/sh -c \
			'exec "$PARLEY_FCGI" --data "$DATA" --threads 4 --max-polls 1 2>>"$LOGS/$NAME-workers.log"' \
			>"$LOGS/$name-spawn-fcgi.log" 2>&1
		spawned=$(tr '\n' ' ' <"$run-spawn-fcgi.pid" 2>/dev/null)
		for p in $spawned; do PIDS+=("$p"); done
		render "$ROOT/contrib/apache/parley.conf" "$run.conf" "$port" "$run" "$PARLEY_FCGI"
		setsid apache2 -f "$run.conf" -DFOREGROUND >"$LOGS/$name.log" 2>&1 &
		fpid=$!
		PIDS+=("$fpid")
		want=$(echo $spawned | wc -w)
		;;
	esac
	umask 022
	url=http://127.0.0.1:$port
	if [ "$front" = apache ] && [ -z "$spawned" ]; then
		bad "$name: spawn-fcgi started nothing"
	elif ! wait_http "$url/v1/health"; then
		bad "$name: $front did not come up on $data"
	else
		ok "$name: parleyd and $front + parley.fcgi up on a fresh data folder"
		suite "$name" "$REST" "${common[@]}" PARLEY_TARGET_URL="$url"
	fi

	# Stop: the front end (lighttpd stops its bin-path children), the
	# spawn-fcgi workers, parleyd; each parley.fcgi logs a graceful stop.
	stop_pid "$fpid"
	wait "$fpid" 2>/dev/null
	for p in $spawned; do kill -TERM "$p" 2>/dev/null; done
	for p in $spawned; do stop_pid "$p"; done
	if [ "$front" = lighttpd ]; then
		n=$(stopped_in "$want" "$LOGS/$name.log" "$run/lighttpd-error.log")
	else
		n=$(stopped_in "$want" "$LOGS/$name-workers.log")
	fi
	if [ "$want" -gt 0 ] && [ "$n" -ge "$want" ]; then
		ok "$name: its $want parley.fcgi processes stopped gracefully"
	else
		bad "$name: $n of $want parley.fcgi processes logged a graceful stop"
	fi
	stop_pid "$sp"
	wait "$sp"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "$name: parleyd: SIGTERM, exit 0"; else bad "$name: parleyd: exit $rc after SIGTERM"; fi
	forget_pids "$sp" "$fpid" $spawned
}

REST=$ROOT/tests/integration/rest.test.mjs
if [ -f "$REST" ] && grep -q PARLEY_TARGET_URL "$REST" "$ROOT/tests/integration/lib.mjs" 2>/dev/null; then
	rest_stack lighttpd
	rest_stack apache
else
	echo "note: tests/integration/rest.test.mjs does not take PARLEY_TARGET_URL yet; through.test.mjs covers its matrix"
fi

# ---- with Redis (REDIS_URL): the same live checks on a Redis bus ----

if command -v redis-server >/dev/null 2>&1; then
	RP=$(free_port)
	redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$TMP/run" >"$LOGS/redis.log" 2>&1 &
	PIDS+=("$!")
	export REDIS_URL="redis://127.0.0.1:$RP"
	RDATA=$TMP/data-redis
	mkdir -p "$RDATA"
	share_data "$RDATA"
	RDP=$(free_port)
	"$PARLEYD" --listen "127.0.0.1:$RDP" --data "$RDATA" --www "$TMP/www" \
		>"$LOGS/parleyd-redis.log" 2>&1 &
	PIDS+=("$!")
	RLP=$(free_port)
	# bin-path children inherit lighttpd's environment, REDIS_URL with it.
	PARLEY_HTTP_PORT=$RLP PARLEY_WWW="$TMP/www" PARLEY_FCGI="$PARLEY_FCGI" \
		PARLEYD_ADDR="127.0.0.1:$RDP" PARLEY_DATA="$RDATA" PARLEY_SECRET_FILE="$TMP/secret" \
		PARLEY_RUN="$TMP/run/lighttpd-redis" "$ROOT/contrib/render.sh" \
		"$ROOT/contrib/lighttpd/parley.conf" >"$TMP/run/lighttpd-redis.conf"
	mkdir -p "$TMP/run/lighttpd-redis"
	lighttpd -D -f "$TMP/run/lighttpd-redis.conf" >"$LOGS/lighttpd-redis.log" 2>&1 &
	PIDS+=("$!")
	if wait_http "http://127.0.0.1:$RDP/v1/health" && wait_http "http://127.0.0.1:$RLP/v1/health"; then
		ok "with Redis: parleyd and lighttpd + parley.fcgi up on $REDIS_URL"
		suite cross-redis "$FT/cross.test.mjs" "${common[@]}" CROSS_SUITE=fcgi-cross-redis \
			CROSS_ONLY="reaches parleyd's SSE,history read through,woken by a parleyd write" \
			DIRECT_URL="http://127.0.0.1:$RDP" LIGHTTPD_URL="http://127.0.0.1:$RLP" \
			APACHE_URL="http://127.0.0.1:$RLP" PARLEY_FCGI="$PARLEY_FCGI" PARLEY_DATA="$RDATA"
	else
		bad "with Redis: parleyd or lighttpd did not come up"
	fi
	unset REDIS_URL
else
	echo "note: no redis-server: the Redis pass is skipped"
fi

# ---- graceful stops ----

# A sanitizer build reports to stderr: workers', CGI programs' (Apache's
# error log) and parleyd's.
SAN_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer'
if grep -qE "$SAN_RE" "$LOGS"/*.log "$TMP"/run/*/*.log 2>/dev/null; then
	bad "sanitizer reports: $(grep -hE "$SAN_RE" "$LOGS"/*.log "$TMP"/run/*/*.log 2>/dev/null | head -n 3)"
else
	ok "no sanitizer report in any log"
fi
if grep -qi "database is locked" "$LOGS"/*.log "$TMP"/run/*/*.log 2>/dev/null; then
	bad "\"database is locked\" in a log"
else
	ok "no \"database is locked\" in any log"
fi

stop_pid "$LIGHTTPD_PID"
wait "$LIGHTTPD_PID" 2>/dev/null
n=$(stopped_in 2 "$LOGS/lighttpd.log" "$TMP/run/lighttpd/lighttpd-error.log")
if [ "$n" -ge 2 ]; then ok "lighttpd stopped: its 2 parley.fcgi children stopped gracefully"; else bad "lighttpd stopped, but $n of 2 parley.fcgi children logged a graceful stop"; fi

for p in $SPAWNED; do kill -TERM "$p" 2>/dev/null; done
for p in $SPAWNED; do stop_pid "$p"; done
n=$(stopped_in 2 "$LOGS/workers.log")
if [ "$n" -ge 2 ]; then ok "SIGTERM: both spawn-fcgi workers stopped gracefully"; else bad "SIGTERM: $n of 2 spawn-fcgi workers logged a graceful stop"; fi

kill -TERM "$PARLEYD_PID" 2>/dev/null
wait "$PARLEYD_PID"
rc=$?
if [ "$rc" -eq 0 ]; then ok "parleyd: SIGTERM, exit 0"; else bad "parleyd: exit $rc after SIGTERM"; fi
if grep -qE "$SAN_RE" "$LOGS"/*.log "$TMP"/run/*/*.log 2>/dev/null; then
	bad "sanitizer reports at exit: $(grep -hE "$SAN_RE" "$LOGS"/*.log "$TMP"/run/*/*.log 2>/dev/null | head -n 3)"
fi

finish
