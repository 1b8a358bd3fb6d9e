#!/usr/bin/env bash
# bench/run.sh - the Parley benchmark (`make bench`) and its smoke test.
#
# Builds bench/loadgen, starts parleyd and (when installed) nginx with the
# nchan module on loopback, each with a throw-away config and data dir, runs
# the scenarios against both (the Socket.IO ones against parleyd and Node's
# socket.io server, bench/sio-peer, installed here by npm ci), and writes bench/results/YYYY-MM-DD.md, an SVG
# chart beside it, and bench/results/latest.md (+ latest.svg).
#
#   bench/run.sh            full run (about 20 minutes)
#   bench/run.sh --smoke    a few hundred connections for a few seconds, parleyd
#                           only; exits non-zero if anything is lost or fails
#   bench/run.sh --report RAW   rewrite the results pages from a saved
#                           YYYY-MM-DD.raw.txt (after changing report.awk)
#   BENCH_ONLY="idle-sio fanout-sio" BENCH_MERGE=results/latest.raw.txt
#   bench/run.sh            re-measure some scenarios and merge them into a
#                           saved full run (the page says which rows are
#                           from which day)
#
# Environment: PARLEYD (default ./parleyd at the top of the tree), LOADGEN
# (a prebuilt generator), BENCH_PORT (parleyd, default 29080), NCHAN_PORT
# (default 29090), SIO_PORT (the socket.io peer, default 29100), BENCH_ONLY (space-separated scenario names to run),
# BENCH_OUT (results dir, default bench/results), NO_NCHAN=1, NO_SIO_PEER=1,
# BENCH_TARGETS (default "parley nchan socketio"; "nchan" alone exercises the
# harness without parleyd).
# Only 127.0.0.0/8 is ever contacted.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
PARLEYD=${PARLEYD:-$TOP/parleyd}
LOADGEN_GIVEN=${LOADGEN:-}
LOADGEN=${LOADGEN:-$HERE/loadgen}
# Below the ephemeral range (32768-60999): with 19,000 client sockets the
# generator would otherwise sometimes hold the server port itself.
PORT=${BENCH_PORT:-29080}
NPORT=${NCHAN_PORT:-29090}
SPORT=${SIO_PORT:-29100}
OUT=${BENCH_OUT:-$HERE/results}
# A partial run must not replace the full run's pages in bench/results.
if [ -z "${BENCH_OUT:-}" ] && [ -z "${BENCH_MERGE:-}" ] &&
	[ -n "${BENCH_ONLY:-}${BENCH_TARGETS:-}" ]; then
	OUT=${TMPDIR:-/tmp}/parley-bench-partial
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench.XXXXXX")
RESULTS=$WORK/results.txt
SRCS="loadgen.c net.c http.c ws.c sio.c jwt.c stats.c"
PPID_PARLEY=""
NGINX_MASTER=""
SIO_PID=""
FAILED=0

log() { printf '== %s\n' "$*" >&2; }

cleanup() {
	stop_parley
	stop_nchan
	stop_sio_peer
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The generator is rebuilt when a source is newer, unless LOADGEN was given
# (make builds it then).
build_loadgen() {
	local need=0 f
	[ -n "$LOADGEN_GIVEN" ] && [ -x "$LOADGEN" ] && return 0
	[ -x "$LOADGEN" ] || need=1
	for f in $SRCS lg.h; do
		[ "$HERE/$f" -nt "$LOADGEN" ] && need=1
	done
	[ "$need" = 0 ] && return 0
	log "building $LOADGEN"
	(cd "$HERE" && ${CC:-gcc} -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE \
		-o "$LOADGEN" $SRCS -lcrypto)
}

# ---- servers -------------------------------------------------------------

# A server someone else left on our port would silently take our load.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Default ports move up to the next free one, so two runs (a developer's
# and the test suite's) can share a machine; a port given explicitly must
# be free.
pick_port() {
	local p=$1 given=$2
	for _ in $(seq 50); do
		port_free "$p" && { echo "$p"; return 0; }
		[ -n "$given" ] && break
		p=$((p + 2))
	done
	return 1
}

start_parley() {
	stop_parley
	PORT=$(pick_port "$PORT" "${BENCH_PORT:-}") ||
		{ log "port ${BENCH_PORT:-} is taken"; return 1; }
	mkdir -p "$WORK/data"
	(ulimit -n 20000 2>/dev/null
	 exec "$PARLEYD" --listen "127.0.0.1:$PORT" --data "$WORK/data" \
		--jwt-secret-file "$WORK/secret" --max-connections 19500 \
		--max-user-connections 0 --max-ip-connections 0 --room-rate 0 --member-rate 0 \
		${SERVER_FLAGS:-}) \
		>>"$WORK/parleyd.log" 2>&1 &
	PPID_PARLEY=$!
	await_server parleyd "$PPID_PARLEY" "http://127.0.0.1:$PORT/v1/health" "$WORK/parleyd.log"
}

# await_server NAME PID HEALTH-URL LOG: until the server answers (or dies).
await_server() {
	for _ in $(seq 100); do
		curl -sf "$3" >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	log "$1 did not come up; its log:"
	tail -20 "$4" >&2
	return 1
}

# stop_server PID: SIGTERM, up to 10 s, then SIGKILL.
stop_server() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

stop_parley() {
	[ -n "$PPID_PARLEY" ] || return 0
	stop_server "$PPID_PARLEY"
	PPID_PARLEY=""
}

use_parley() { targets_have parley; }

have_nchan() {
	targets_have nchan &&
	[ "${NO_NCHAN:-0}" != 1 ] && command -v nginx >/dev/null 2>&1 &&
		[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ]
}

# One worker, like parleyd's one event loop, and the same 20,000 file limit.
write_nchan_conf() {
	local d=$WORK/nginx user=""
	mkdir -p "$d/tmp"
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$d/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
$user
worker_processes 1;
worker_rlimit_nofile 20000;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 40000; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fcgi; uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  nchan_shared_memory_size 512M;
  server {
    listen 127.0.0.1:$NPORT backlog=4096;
    location ~ ^/pub/(\w+)\$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_message_buffer_length 16;
      nchan_message_timeout 60s;
    }
    location ~ ^/sub/(\w+)\$ {
      nchan_subscriber;
      nchan_channel_id \$1;
      nchan_subscriber_first_message newest;
    }
  }
}
EOF
}

start_nchan() {
	stop_nchan
	NPORT=$(pick_port "$NPORT" "${NCHAN_PORT:-}") ||
		{ log "port ${NCHAN_PORT:-} is taken"; return 1; }
	write_nchan_conf
	nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" ||
		return 1
	for _ in $(seq 50); do
		[ -s "$WORK/nginx/nginx.pid" ] && break
		sleep 0.1
	done
	NGINX_MASTER=$(cat "$WORK/nginx/nginx.pid")
	sleep 0.3
}

stop_nchan() {
	[ -n "$NGINX_MASTER" ] || return 0
	# The worker holds the port and the connections: wait for it too (a
	# worker still closing 10,000 streams kept the next start from binding).
	local pids="$NGINX_MASTER $(pgrep -P "$NGINX_MASTER" | tr '\n' ' ')" p
	kill -TERM "$NGINX_MASTER" 2>/dev/null
	for _ in $(seq 100); do
		alive=0
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	NGINX_MASTER=""
}

# The nchan worker holds the connections; the master only supervises.
nchan_pid() { pgrep -P "$NGINX_MASTER" | tr '\n' ',' | sed 's/,$//'; }

# The Socket.IO peer: Node's socket.io 4.8 server (bench/sio-peer), one
# process like parleyd's one event loop, with the same 20,000-file limit.
SIO_PEER=$HERE/sio-peer

targets_have() { [[ " ${BENCH_TARGETS:-parley nchan socketio} " == *" $1 "* ]]; }

have_sio_peer() {
	targets_have socketio && [ "${NO_SIO_PEER:-0}" != 1 ] &&
		command -v node >/dev/null 2>&1 && [ -d "$SIO_PEER/node_modules/socket.io" ]
}

# npm ci from the peer's lock file (a full run only; the smoke test runs
# parleyd alone and needs no npm).
install_sio_peer() {
	targets_have socketio && [ "${NO_SIO_PEER:-0}" != 1 ] || return 0
	[ -d "$SIO_PEER/node_modules/socket.io" ] &&
		[ ! "$SIO_PEER/package-lock.json" -nt "$SIO_PEER/node_modules/.package-lock.json" ] &&
		return 0
	command -v npm >/dev/null 2>&1 || { log "no npm: no socket.io peer figures"; return 0; }
	log "installing the socket.io peer (npm ci in $SIO_PEER)"
	(cd "$SIO_PEER" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
		log "npm ci failed: no socket.io peer figures"
}

start_sio_peer() {
	stop_sio_peer
	SPORT=$(pick_port "$SPORT" "${SIO_PORT:-}") ||
		{ log "port ${SIO_PORT:-} is taken"; return 1; }
	(ulimit -n 20000 2>/dev/null; exec node "$SIO_PEER/server.js" "$SPORT") \
		>>"$WORK/sio-peer.log" 2>&1 &
	SIO_PID=$!
	await_server "the socket.io peer" "$SIO_PID" "http://127.0.0.1:$SPORT/health" \
		"$WORK/sio-peer.log"
}

stop_sio_peer() {
	[ -n "$SIO_PID" ] || return 0
	stop_server "$SIO_PID"
	SIO_PID=""
}

# ---- running the generator ---------------------------------------------

# lg TARGET LABEL ARGS...: one generator run against a fresh server.
lg() {
	local target=$1 label=$2 rc
	shift 2
	if [ "$target" = parley ]; then
		start_parley || { FAILED=1; return 1; }
		set -- --target parley --addr "127.0.0.1:$PORT" --pid "$PPID_PARLEY" \
			--secret-file "$WORK/secret" "$@"
	elif [ "$target" = socketio ]; then
		start_sio_peer || { FAILED=1; return 1; }
		set -- --target socketio --addr "127.0.0.1:$SPORT" --pid "$SIO_PID" "$@"
	else
		start_nchan || { FAILED=1; return 1; }
		set -- --target nchan --addr "127.0.0.1:$NPORT" --pid "$(nchan_pid)" "$@"
	fi
	log "$label on $target: loadgen $*"
	(ulimit -n 20000 2>/dev/null; exec "$LOADGEN" --label "$label" "$@") |
		tee -a "$RESULTS"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || { log "$label on $target: loadgen exit $rc"; FAILED=1; }
	case $target in
	parley) stop_parley ;;
	socketio) stop_sio_peer ;;
	*) stop_nchan ;;
	esac
	# let TIME_WAIT and the server's presence grace settle between runs
	sleep 1
	return 0
}

# both LABEL ARGS...: the same scenario against parleyd, then nchan.
both() {
	use_parley && lg parley "$@"
	have_nchan && lg nchan "$@"
	return 0
}

# sio LABEL ARGS...: a Socket.IO scenario against parleyd, then socket.io.
sio() {
	use_parley && lg parley "$@"
	have_sio_peer && lg socketio "$@"
	return 0
}

wanted() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

# ---- scenarios ---------------------------------------------------------
# Posting is limited to 50 messages/s per user (burst 200) except in --dev
# mode, the only switch for it: the ingest scenarios measure the store's
# capacity, not that policy, so they run parleyd with SERVER_FLAGS=--dev.
# The many-rooms scenario keeps the limit: 50 publishers post 20/s each.
# Every scenario connects thousands of clients from 127.0.0.1 and creates
# and joins its rooms in a burst of setup, so start_parley lifts the
# connection caps and the room and member rates (none of which is measured).

run_full() {
	wanted idle-sse && both idle-sse --mode idle --subs 15000 --sub sse --hold 5 \
		--setup --prefix idle --users d
	wanted idle-ws && both idle-ws --mode idle --subs 15000 --sub ws --hold 5 \
		--setup --prefix idle --users d
	wanted fanout-ws && both fanout-ws --mode fanout --subs 10000 --sub ws \
		--rates 2,10,30 --duration 15 --drain 15 --setup --prefix fo --users f
	wanted fanout-sse && both fanout-sse --mode fanout --subs 10000 --sub sse \
		--rates 2,10,30 --duration 15 --drain 15 --setup --prefix fo --users f
	wanted rooms && both rooms --mode fanout --subs 15000 --rooms 1500 --pubs 50 \
		--sub ws --rates 1000 --duration 15 --drain 10 --setup --prefix mr --users m
	# Socket.IO over WebSocket: every client joins its room by a `join`
	# event and the publisher emits `send_message`, on both servers
	wanted idle-sio && sio idle-sio --mode idle --subs 10000 --sub sio --hold 5 \
		--setup --prefix idle --users d
	wanted fanout-sio && sio fanout-sio --mode fanout --subs 10000 --sub sio \
		--rates 2,10,30 --duration 15 --drain 15 --setup --prefix fo --users f
	use_parley || return 0
	wanted capacity && lg parley capacity --mode idle --subs 19000 --sub ws --hold 5 \
		--setup --prefix idle --users d
	wanted ingest-rest && SERVER_FLAGS=--dev lg parley ingest-rest --mode ingest --pub rest --conns 64 \
		--window 1 --duration 10 --setup --prefix in --users i
	wanted ingest-ws && SERVER_FLAGS=--dev lg parley ingest-ws --mode ingest --pub ws --conns 8 \
		--window 64 --duration 10 --setup --prefix in --users i
	wanted history && lg parley history --mode history --conns 64 --window 1 \
		--duration 10 --setup --prefix in --users i
	# fan-out while 4 clients flood read and typing frames: others' latency
	wanted flood && lg parley flood --mode fanout --subs 1000 --sub ws --rates 30 \
		--flood 4 --duration 15 --drain 15 --setup --prefix fl --users fl
}

run_smoke() {
	lg parley idle-sse --mode idle --subs 200 --sub sse --hold 1 --setup \
		--prefix sidle --users sd
	lg parley idle-ws --mode idle --subs 200 --sub ws --hold 1 --setup \
		--prefix sidle --users sd
	lg parley fanout-ws --mode fanout --subs 300 --sub ws --rates 20 --duration 3 \
		--drain 5 --setup --prefix sf --users sf
	lg parley fanout-sse --mode fanout --subs 300 --sub sse --rates 20 --duration 3 \
		--drain 5 --setup --prefix sf --users sf
	lg parley rooms --mode fanout --subs 300 --rooms 30 --pubs 4 --sub ws \
		--rates 100 --duration 3 --drain 5 --setup --prefix sm --users sm
	SERVER_FLAGS=--dev lg parley ingest-rest --mode ingest --pub rest --conns 8 --duration 2 --setup \
		--prefix si --users si
	SERVER_FLAGS=--dev lg parley ingest-ws --mode ingest --pub ws --conns 2 --window 16 --duration 2 \
		--setup --prefix si --users si
	lg parley history --mode history --conns 8 --duration 2 --setup --prefix si \
		--users si
	lg parley flood --mode fanout --subs 100 --sub ws --rates 20 --flood 2 \
		--duration 3 --drain 5 --setup --prefix sfl --users sfl
	lg parley fanout-sio --mode fanout --subs 300 --sub sio --rates 20 --duration 3 \
		--drain 5 --setup --prefix ssio --users ssio
}

# ---- report --------------------------------------------------------------

write_report() {
	local day svg
	day=${REPORT_DAY:-$(date -u +%Y-%m-%d)}
	mkdir -p "$OUT"
	svg=$day.svg
	awk -v day="$day" -v svg="$svg" -v host="$(nproc) cores, $(uname -r)" \
		-f "$HERE/report.awk" "$RESULTS" >"$OUT/$day.md"
	awk -f "$HERE/chartdata.awk" "$RESULTS" >"$WORK/chart.dat"
	if command -v gnuplot >/dev/null 2>&1 && [ -s "$WORK/chart.dat" ]; then
		gnuplot -e "datafile='$WORK/chart.dat'; outfile='$OUT/$svg'" \
			"$HERE/chart.gp" || log "gnuplot failed"
		cp "$OUT/$svg" "$OUT/latest.svg" 2>/dev/null
	fi
	sed "s/($svg)/(latest.svg)/" "$OUT/$day.md" >"$OUT/latest.md"
	cp "$RESULTS" "$OUT/$day.raw.txt"
	cp "$RESULTS" "$OUT/latest.raw.txt"
	log "wrote $OUT/$day.md"
}

# merge_into RAW: this run's scenarios replace theirs in a saved run's
# output (the other lines are kept), with a note of what was re-measured
# when, so a partial run can complete a full run's page.
merge_into() {
	local raw=$1 labels from today runs
	[ -f "$raw" ] || { log "BENCH_MERGE: no $raw"; return 1; }
	labels=$(sed -n 's/^RESULT label=\([^ ]*\) .*/\1/p' "$RESULTS" | sort -u | tr '\n' ' ')
	[ -n "$labels" ] || return 0
	today=$(date -u +%Y-%m-%d)
	# the day of the full run: its own line, or what an earlier merge said
	from=$(sed -n 's/^# run: //p' "$raw" | head -1)
	[ -n "$from" ] || from=$(awk '/^# merged: / { print $4; exit }' "$raw")
	[ -n "$from" ] || from=$(basename "$raw" .raw.txt)
	# scenarios merged earlier today are named again with today's
	labels=$( { echo "$labels" | tr ' ' '\n'
		awk -v d="$today" '/^# merged: / && $3 == d { for (i = 5; i <= NF; i++) print $i }' "$raw"
	} | grep -v '^$' | sort -u | tr '\n' ' ')
	# scenario and server: a run against one server keeps the other's rows
	runs=$(sed -n 's/^RESULT label=\([^ ]*\) target=\([^ ]*\) .*/\1@\2/p' "$RESULTS" |
		sort -u | tr '\n' ' ')
	{
		echo "# merged: $today $from ${labels% }"
		awk -v runs=" $runs" -v d="$today" '
			/^# merged: / && $3 == d { next }
			/^RESULT / { l = $2 "@" $3; gsub(/label=|target=/, "", l)
				if (index(runs, " " l " ")) next }
			{ print }' "$raw"
		grep -v '^# run: ' "$RESULTS"
	} >"$WORK/merged.txt"
	mv "$WORK/merged.txt" "$RESULTS"
}

main() {
	if [ "${1:-}" = "--report" ]; then
		[ -f "${2:-}" ] || { log "usage: bench/run.sh --report YYYY-MM-DD.raw.txt"; exit 1; }
		REPORT_DAY=$(basename "$2" .raw.txt)
		[[ "$REPORT_DAY" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || REPORT_DAY=""
		cp "$2" "$RESULTS" && write_report
		exit $?
	fi
	build_loadgen || exit 1
	if use_parley && [ ! -x "$PARLEYD" ]; then
		log "no parleyd at $PARLEYD: build it first (make)"
		exit 1
	fi
	head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$WORK/secret"
	: >"$RESULTS"
	if [ "$SMOKE" = 1 ]; then
		run_smoke
		# A sanitizer build of parleyd reports to its log.
		if grep -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|WARNING: ThreadSanitizer' \
			"$WORK/parleyd.log" >&2; then
			log "parleyd reported the errors above"
			FAILED=1
		fi
		[ "$FAILED" = 0 ] && echo "bench smoke: ok" || echo "bench smoke: FAILED"
		exit "$FAILED"
	fi
	# The peer and the chart come from Debian's packages, like every
	# dependency (scripts/install-deps.sh --bench).
	if [ "${NO_NCHAN:-0}" != 1 ] && { [ ! -f /usr/lib/nginx/modules/ngx_nchan_module.so ] ||
		! command -v gnuplot >/dev/null 2>&1; }; then
		"$TOP/scripts/install-deps.sh" --bench ||
			log "could not install nginx, nchan and gnuplot: no peer figures or chart"
	fi
	have_nchan || log "nginx with nchan not installed: no peer figures"
	install_sio_peer
	have_sio_peer || log "the socket.io peer is not installed: no Socket.IO peer figures"
	echo "# run: $(date -u +%Y-%m-%d)" >>"$RESULTS"
	run_full
	if [ -n "${BENCH_MERGE:-}" ]; then
		merge_into "$BENCH_MERGE" || exit 1
	fi
	write_report
	exit 0
}

main "$@"
