#!/usr/bin/env bash
# tests/redis/run.sh: Parley's Redis back end, with a real redis-server.
#
# Starts redis-server on a free 127.0.0.1 port (no persistence), runs every
# tests/redis/*.test.mjs against parleyd processes sharing it (and one data
# folder), and prints "redis: N passed, N failed" last; exits non-zero on a
# failure.  Env: PARLEYD (the binary, default $ROOT/parleyd), ROOT (the
# repository, default two levels up), REDIS_SERVER (default redis-server),
# ONLY=<test name part> to run some tests only, SERVER_LOG=1 to see the logs.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${ROOT:-$(cd "$HERE/../.." && pwd)}"
PARLEYD="${PARLEYD:-$ROOT/parleyd}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
export ROOT PARLEYD REDIS_SERVER

if ! command -v "$REDIS_SERVER" >/dev/null 2>&1; then
	echo "redis-server not found"
	echo "redis: 0 passed, 1 failed"
	exit 1
fi
if [ ! -x "$PARLEYD" ]; then
	echo "no parleyd at $PARLEYD"
	echo "redis: 0 passed, 1 failed"
	exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/parley-redis-XXXXXX")"
export REDIS_PIDFILE="$WORK/redis.pid"   # the tests restart Redis and update it
export REDIS_LOG="$WORK/redis.log"

free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

stop_redis() {
	if [ -s "$REDIS_PIDFILE" ]; then
		local pid
		pid="$(cat "$REDIS_PIDFILE")"
		kill "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	fi
}
cleanup() {
	stop_redis
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

REDIS_PORT="$(free_port)"
export REDIS_PORT
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize no >>"$REDIS_LOG" 2>&1 &
echo $! >"$REDIS_PIDFILE"
disown
for _ in $(seq 100); do
	redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
	sleep 0.1
done
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
	cat "$REDIS_LOG"
	echo "redis: 0 passed, 1 failed"
	exit 1
fi

passed=0
failed=0
for t in "$HERE"/*.test.mjs; do
	name="$(basename "$t" .test.mjs)"
	echo "== $name"
	redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1
	out="$(node "$t" 2>&1)"
	rc=$?
	echo "$out"
	line="$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9 _()-]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)"
	if [ -n "$line" ]; then
		p="$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')"
		f="$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')"
		passed=$((passed + p))
		failed=$((failed + f))
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
	else
		failed=$((failed + 1)) # crashed before its summary
	fi
	# A test may have left Redis stopped: the next file needs it.
	if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
		stop_redis
		"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize no >>"$REDIS_LOG" 2>&1 &
		echo $! >"$REDIS_PIDFILE"
		disown
		sleep 0.5
	fi
done

echo "redis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
