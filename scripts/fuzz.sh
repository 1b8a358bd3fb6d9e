#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang,
# AddressSanitizer and UBSan, and runs each for FUZZ_SECONDS (default 60)
# over its seed corpus tests/fuzz/corpus/<target>.  `make fuzz` runs this;
# the test command runs it with --check (20 s each).
#
#   scripts/fuzz.sh [--check] [TARGET...]    TARGET: ws, jwt, time, ...
#
# New inputs libFuzzer finds go to .build/fuzz/corpus/<target> (the tree
# stays clean; copy the interesting ones to tests/fuzz/corpus by hand), a
# crash to .build/fuzz/artifacts/.  One line per target, then
# "fuzz: N passed, N failed" (a target fails on any finding).
# Environment: FUZZ_CC (a clang that links -fsanitize=fuzzer), FUZZ_SECONDS,
# FUZZ_JOBS (parallel compiles, default 2).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CHECK=0
if [ "${1:-}" = "--check" ]; then CHECK=1; shift; fi
SECONDS_EACH=${FUZZ_SECONDS:-$([ $CHECK = 1 ] && echo 20 || echo 60)}
CC=${FUZZ_CC:-clang}
OUT=$ROOT/.build/fuzz
mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/artifacts"

if ! command -v "$CC" >/dev/null 2>&1 ||
  ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
  "$CC" -x c -fsanitize=fuzzer - -o "$OUT/probe" >/dev/null 2>&1; then
  echo "fuzz: $CC cannot build libFuzzer targets: apt-get install clang libclang-rt-dev"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi

PKGS="libmicrohttpd jansson sqlite3 hiredis libcrypto libcurl"
CFLAGS="-std=c11 -g -O1 -pthread -D_GNU_SOURCE -DHAVE_CONFIG_H -I$ROOT -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lfcgi -lm"
# config.h: from the build tree if configured, else a stand-in.
if [ ! -f config.h ]; then
  mkdir -p "$OUT/inc"
  printf '#define PACKAGE_VERSION "fuzz"\n' >"$OUT/inc/config.h"
  CFLAGS="$CFLAGS -I$OUT/inc"
fi

# The library: every .c of Makefile.am's libparley_a_SOURCES, and the
# FastCGI adapter.  Instrumented for coverage (fuzzer-no-link).
SRCS=$(sed -n '/^libparley_a_SOURCES/,/^$/p' Makefile.am | tr ' \t\\' '\n\n\n' | grep '\.c$')
SRCS="$SRCS"$'\n'api/fcgi.c
# The PostgreSQL engine as configure chose it (config.h): with libpq its
# files and their embedded schema, else db/pg_none.c alone.
if grep -q '^#define PL_HAVE_PG 1' config.h 2>/dev/null; then
  PKGS="$PKGS libpq"
  CFLAGS="$CFLAGS $(pkg-config --cflags libpq)"
  LIBS="$LIBS $(pkg-config --libs libpq)"
  SRCS=$(echo "$SRCS" | grep -v '^db/pg_none\.c$')
  # shellcheck disable=SC2046 # one word per file
  if ! awk -f db/schema/pg/embed.awk $(sed -n '/^PG_SCHEMA =/,/[^\\]$/p' Makefile.am |
    tr ' \t\\' '\n\n\n' | grep '\.sql$') >"$OUT/inc-pg.tmp"; then
    echo "fuzz: the PostgreSQL schema did not embed"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
  fi
  mkdir -p "$OUT/inc/db"
  cmp -s "$OUT/inc-pg.tmp" "$OUT/inc/db/pgschema.h" || mv "$OUT/inc-pg.tmp" "$OUT/inc/db/pgschema.h"
  rm -f "$OUT/inc-pg.tmp"
  CFLAGS="$CFLAGS -I$OUT/inc"
else
  SRCS=$(echo "$SRCS" | grep -v '^db/\(pgconn\|pglog\|pgbus\|pg_store\|pg_messages\|pg_outbox\|bus_pg\)\.c$')
fi
# Presence's Lua scripts as C, made as the Makefile makes them (db/lua/).
LUA=$(sed -n '/^PRESENCE_LUA =/,/[^\\]$/p' Makefile.am | tr ' \t\\' '\n\n\n' | grep '\.lua$')
mkdir -p "$OUT/obj"
# shellcheck disable=SC2086 # one word per script
if ! awk -f db/lua/embed.awk $LUA >"$OUT/presence_lua.c.tmp"; then
  echo "fuzz: the Lua scripts did not embed"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
cmp -s "$OUT/presence_lua.c.tmp" "$OUT/presence_lua.c" || mv "$OUT/presence_lua.c.tmp" "$OUT/presence_lua.c"
rm -f "$OUT/presence_lua.c.tmp"
SRCS="$SRCS"$'\n'"$OUT/presence_lua.c"
compile() { # src
  local src=$1 obj=$OUT/obj/$(echo "$1" | tr / _).o
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find base db chat push api -name '*.h' -newer "$obj" | head -1)" ]; then
    $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || return 1
  fi
}
export -f compile
export CC CFLAGS OUT
if ! echo "$SRCS" | xargs -P "${FUZZ_JOBS:-2}" -I{} bash -c 'compile {}'; then
  echo "fuzz: the library did not build"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
OBJS=$(for s in $SRCS; do echo "$OUT/obj/$(echo "$s" | tr / _).o"; done)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=${f##*/fuzz_}; targets+=("${t%.c}"); done
fi
PASSED=0
FAILED=0
for t in "${targets[@]}"; do
  bin=$OUT/fuzz_$t
  if ! $CC $CFLAGS -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" $OBJS $LIBS -o "$bin"; then
    echo "fuzz_$t: did not build"
    FAILED=$((FAILED + 1))
    continue
  fi
  seed=tests/fuzz/corpus/$t
  work=$OUT/corpus/$t
  mkdir -p "$seed" "$work"
  log=$OUT/fuzz_$t.log
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
  data=$(mktemp -d /dev/shm/parley-fuzz-XXXXXX 2>/dev/null || mktemp -d)
  FUZZ_DATA=$data ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/fuzz_$t-" "${dict[@]}" "$work" "$seed" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz_$t: ok, ${runs:-?} runs in ${SECONDS_EACH} s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) + $(ls "$seed" | wc -l) seeds"
    PASSED=$((PASSED + 1))
  else
    echo "fuzz_$t: FAILED after ${runs:-?} runs (exit $rc); the input is in $OUT/artifacts/:"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written|fuzz:' "$log" | head -20
    FAILED=$((FAILED + 1))
  fi
  rm -rf "$data"
done
echo "fuzz: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
