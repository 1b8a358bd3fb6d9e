#!/usr/bin/env bash
# The README's second command: installs everything the tests need, builds
# Parley twice (plain with -Werror, and with AddressSanitizer + UBSan), and
# runs every suite against both where it applies; a third build with
# ThreadSanitizer runs the suites where threads meet (writer, hub, HTTP).  Each suite ends with
# "<suite>: N passed, N failed"; the last line here is the sum.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LOGS=$ROOT/.build/logs
mkdir -p "$LOGS"
PASSED=0
FAILED=0
TIMEDOUT=()

step() { printf '\n== %s\n' "$*"; }

# Runs one suite under a time limit, echoing its output, and adds its
# closing counts.  A suite past its limit (SUITE_TIMEOUT seconds, 900 by
# default; a suite may name its own with TIMEOUT=N before "suite") is
# killed with everything it started and counted as failed, by name, so
# one hang never stalls the run.  A shell function runs in a child bash.
SUITE_TIMEOUT=${SUITE_TIMEOUT:-900}
suite() {
  local name=$1; shift
  local limit=${TIMEOUT:-$SUITE_TIMEOUT}
  step "$name"
  local log=$LOGS/$(echo "$name" | tr ' /(),' '_____').log
  local cmd=("$@")
  if declare -F "$1" >/dev/null; then
    cmd=(bash -c "$(declare -f "$1"); \"\$@\"" "$1" "$@")
  fi
  local t0=$SECONDS
  timeout --kill-after=20 "$limit" "${cmd[@]}" </dev/null 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  echo "($name: $((SECONDS - t0)) s)"
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "$name: still running after $limit s, stopped: counted as 1 failed"
    TIMEDOUT+=("$name")
    FAILED=$((FAILED + 1))
    return
  fi
  local line
  line=$(grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "$name: no result line (exit $status): counted as 1 failed"
    FAILED=$((FAILED + 1))
    return
  fi
  local p=${line%% passed*} f=${line##*, }
  f=${f%% failed}
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$name: exited $status with no failed check: counted as 1 failed"
    FAILED=$((FAILED + 1))
  fi
}

# C unit tests: every tests/unit/test_* program of a build.  A program
# that exits non-zero with no failed check (a sanitizer's report) fails.
units() {
  local dir=$1 p=0 f=0 t out line status
  for t in "$dir"/tests/unit/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); status=$?
    echo "$out" | tail -20
    line=$(echo "$out" | grep -oE '[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ -z "$line" ]; then f=$((f + 1)); continue; fi
    local tf=${line##*, }
    tf=${tf%% failed}
    p=$((p + ${line%% passed*}))
    f=$((f + tf))
    if [ "$status" -ne 0 ] && [ "$tf" -eq 0 ]; then
      echo "$t exited $status: counted as 1 failed"
      f=$((f + 1))
    fi
  done
  echo "unit: $p passed, $f failed"
}

integration() {
  local bin=$1; shift
  local t
  for t in "$@"; do
    suite "$(basename "$t" .test.mjs) ($(basename "$(dirname "$bin")")${REDIS_URL:+, redis}${PARLEYD_ARGS:+, $PARLEYD_ARGS})" \
      env PARLEYD="$bin" node "$t"
  done
}

step "install"
scripts/install-deps.sh --test || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }

# Every tool the suites start, checked once, each missing one named with
# the Debian package that brings it (install-deps.sh --test installs them
# all; this catches a tree whose install step fell behind its tests).
preflight() {
  local missing=() pair tool pkg
  for pair in cc:build-essential make:make autoreconf:autoconf automake:automake pkg-config:pkg-config \
    tar:tar timeout:coreutils curl:curl jq:jq node:nodejs npm:npm redis-server:redis-server \
    redis-cli:redis-tools lighttpd:lighttpd apache2:apache2 nginx:nginx spawn-fcgi:spawn-fcgi \
    chromium:chromium cppcheck:cppcheck clang:clang; do
    tool=${pair%%:*} pkg=${pair#*:}
    PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (apt package $pkg)")
  done
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 18 ] || missing+=("node >= 18 (apt package nodejs; found ${major})")
  [ -d tests/node/node_modules/ws ] || missing+=("the npm test clients (scripts/install-deps.sh --test runs npm ci in tests/node)")
  # PostgreSQL's server binaries live outside PATH on Debian (tests/pg/pgscratch.sh finds them).
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 ||
    missing+=("initdb (apt package postgresql)")
  pkg-config --exists libpq 2>/dev/null || missing+=("libpq (apt package libpq-dev)")
  if [ ${#missing[@]} -gt 0 ]; then
    local m
    for m in "${missing[@]}"; do echo "test.sh: missing: $m"; done
    return 1
  fi
}
preflight || { echo "0 passed, 1 failed"; exit 1; }

step "build (plain, -Werror)"
scripts/build.sh --enable-werror && make -s -j"$(nproc)" check TESTS= >/dev/null ||
  { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

# The sanitizer builds live in their own copies of the tree, so the plain
# in-tree build (what the README's ./configure && make gives) stays as is.
# The copy needs no git (a release tarball has none): the tree as it is,
# less build output and local state, cleaned of the in-tree build.
# copy_build DIR CONFIGURE-FLAG: the tree copied to DIR and built there.
copy_build() {
  local dir=$1 flag=$2
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -C "$ROOT" --exclude=./.build --exclude=./var --exclude=./run --exclude=node_modules \
    --exclude=.git --exclude=autom4te.cache -cf - . | (cd "$dir" && tar -xf -)
  (cd "$dir" && { [ ! -f Makefile ] || make -s distclean >/dev/null 2>&1; } && rm -f .configure-args &&
    scripts/build.sh "$flag" --enable-werror && make -s -j"$(nproc)" check TESTS= >/dev/null) ||
    { echo "build in $dir failed"; FAILED=$((FAILED + 1)); }
  ln -sfn "$ROOT/tests/node/node_modules" "$dir/tests/node/node_modules"
}
step "build (AddressSanitizer + UBSan)"
SAN=$ROOT/.build/san
copy_build "$SAN" --enable-sanitizers
step "build (ThreadSanitizer)"
TSAN=$ROOT/.build/tsan
copy_build "$TSAN" --enable-tsan

export ROOT SAN TSAN
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

IT=(tests/integration/rest.test.mjs tests/integration/compat.test.mjs tests/integration/push.test.mjs
  tests/integration/limits.test.mjs
  tests/integration/presence.test.mjs tests/integration/many.test.mjs tests/integration/resume.test.mjs
  tests/integration/shutdown.test.mjs tests/integration/ops.test.mjs tests/integration/webhook.test.mjs
  tests/integration/pushlimits.test.mjs tests/integration/security.test.mjs tests/integration/wsecho.test.mjs
  tests/integration/socketio.test.mjs tests/integration/admin.test.mjs tests/integration/cors.test.mjs)
present=()
for t in "${IT[@]}"; do [ -f "$t" ] && present+=("$t"); done

suite "unit (plain)" units "$ROOT"
integration "$ROOT/parleyd" "${present[@]}"
# The push suites once more with the takeover's fallback: SSE and WebSocket
# sockets kept by libmicrohttpd and relayed (api/takeover.h).
NO_TAKEOVER=(tests/integration/push.test.mjs tests/integration/shutdown.test.mjs
  tests/integration/socketio.test.mjs tests/integration/admin.test.mjs)
PARLEYD_ARGS=--no-takeover integration "$ROOT/parleyd" "${NO_TAKEOVER[@]}"

suite "unit (sanitizers)" units "$SAN"
MANY_CONNECTIONS=1000 integration "$SAN/parleyd" "${present[@]}"

# ThreadSanitizer: the suites where the writer, the hub, the HTTP threads
# and the checkpoint thread meet, and the load generator's smoke run.
export TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1
suite "unit (tsan)" units "$TSAN"
integration "$TSAN/parleyd" tests/integration/push.test.mjs tests/integration/presence.test.mjs \
  tests/integration/resume.test.mjs tests/integration/webhook.test.mjs tests/integration/socketio.test.mjs
integration "$TSAN/parleyd" tests/integration/pushlimits.test.mjs
PARLEYD_ARGS=--no-takeover integration "$TSAN/parleyd" tests/integration/push.test.mjs
SHUTDOWN_ROUNDS=8 integration "$TSAN/parleyd" tests/integration/shutdown.test.mjs
tsan_smoke() {
  if PARLEYD="$TSAN/parleyd" bench/run.sh --smoke; then echo "bench: 1 passed, 0 failed"; else echo "bench: 0 passed, 1 failed"; fi
}
[ -x bench/run.sh ] && suite "bench smoke (tsan)" tsan_smoke

# The push and presence suites once more with Redis as the bus and the
# presence store (REDIS_URL reaches parleyd through the environment).
redis_mode() {
  local port dir pid
  port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local t
  for t in tests/integration/push.test.mjs tests/integration/presence.test.mjs; do
    redis-cli -p "$port" flushall >/dev/null # each suite starts from an empty Redis
    REDIS_URL="redis://127.0.0.1:$port" integration "$ROOT/parleyd" "$t"
  done
  kill "$pid"; wait "$pid" 2>/dev/null; rm -rf "$dir"
}
command -v redis-server >/dev/null && redis_mode

[ -x tests/fcgi/run.sh ] && suite "fcgi" env PARLEYD="$ROOT/parleyd" PARLEY_FCGI="$ROOT/parley.fcgi" ROOT="$ROOT" tests/fcgi/run.sh
[ -x tests/redis/run.sh ] && suite "redis (plain)" env PARLEYD="$ROOT/parleyd" ROOT="$ROOT" tests/redis/run.sh
[ -x tests/redis/run.sh ] && suite "redis (sanitizers)" env PARLEYD="$SAN/parleyd" ROOT="$ROOT" tests/redis/run.sh
# parley.fcgi's worker threads share one context; parleyd's hub shares
# Redis with the other threads: both once more under ThreadSanitizer.
[ -x tests/fcgi/run.sh ] && suite "fcgi (tsan)" env PARLEYD="$TSAN/parleyd" PARLEY_FCGI="$TSAN/parley.fcgi" ROOT="$ROOT" tests/fcgi/run.sh
[ -x tests/redis/run.sh ] && suite "redis (tsan)" env PARLEYD="$TSAN/parleyd" ROOT="$ROOT" tests/redis/run.sh
# PostgreSQL (issue 12): a scratch server of its own; the ordering's cost
# is measured in the plain run only.
[ -x tests/pg/run.sh ] && suite "pg" env ROOT="$ROOT" BUILD="$ROOT" tests/pg/run.sh
[ -x tests/pg/run.sh ] && suite "pg (sanitizers)" env ROOT="$ROOT" BUILD="$SAN" PG_BENCH=0 tests/pg/run.sh
[ -x tests/pg/run.sh ] && suite "pg (tsan)" env ROOT="$ROOT" BUILD="$TSAN" PG_BENCH=0 tests/pg/run.sh
# parleyd and parley.fcgi on PostgreSQL: rest, push, resume and webhook
# with a database per server, two nodes on one database, parley.fcgi.
[ -x tests/pg/suites.sh ] && suite "pg suites" env ROOT="$ROOT" PARLEYD="$ROOT/parleyd" PARLEY_FCGI="$ROOT/parley.fcgi" tests/pg/suites.sh
[ -x tests/pg/suites.sh ] && suite "pg suites (sanitizers)" env ROOT="$ROOT" PARLEYD="$SAN/parleyd" PARLEY_FCGI="$SAN/parley.fcgi" PG_SUITES="rest resume" tests/pg/suites.sh
[ -x tests/install/run.sh ] && suite "install" env ROOT="$ROOT" tests/install/run.sh
[ -f tests/e2e/chat.test.mjs ] && suite "e2e" env PARLEYD="$ROOT/parleyd" node tests/e2e/chat.test.mjs
[ -f tests/e2e/client.test.mjs ] && suite "e2e client" env PARLEYD="$ROOT/parleyd" node tests/e2e/client.test.mjs
[ -f tests/e2e/socketio.test.mjs ] && suite "e2e socket.io" env PARLEYD="$ROOT/parleyd" node tests/e2e/socketio.test.mjs
[ -f tests/e2e/admin.test.mjs ] && suite "e2e admin" env PARLEYD="$ROOT/parleyd" node tests/e2e/admin.test.mjs
bench_smoke() {
  if make -s bench-smoke; then echo "bench: 1 passed, 0 failed"; else echo "bench: 0 passed, 1 failed"; fi
}
[ -x bench/run.sh ] && suite "bench smoke" bench_smoke

# libFuzzer targets over their corpora, 20 s each (scripts/fuzz.sh): a
# parser regression fails here.
suite "fuzz" scripts/fuzz.sh --check

step "cppcheck"
cpp() {
  if cppcheck -q --enable=warning,style,performance,portability --std=c11 --error-exitcode=1 \
    --inline-suppr -I. --suppress=missingIncludeSystem base db chat api push 2>&1; then
    echo "cppcheck: 1 passed, 0 failed"
  else
    echo "cppcheck: 0 passed, 1 failed"
  fi
}
suite "cppcheck" cpp

echo
[ ${#TIMEDOUT[@]} -eq 0 ] || echo "suites stopped at their time limit: ${TIMEDOUT[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
