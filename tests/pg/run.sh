#!/usr/bin/env bash
# tests/pg/run.sh: Parley's PostgreSQL groundwork against a real server.
#
# Starts a scratch PostgreSQL (tests/pg/pgscratch.sh), runs the C tests
# built by make check (tests/pg/test_*: connecting and its errors, the
# schema, the event log, and the commit-order check of issue 12, which
# must also fail with the lock left out), then
# reports the ordering's cost (test_order --bench: batches/s with 1, 4 and
# 16 writers; measured, never asserted), and prints "pg: N passed, N
# failed" last; exits non-zero on a failure.
# Env: BUILD (the build tree holding tests/pg/test_*, default the
# repository), ROOT (the repository), PG_BENCH=0 to skip the measurements,
# PG_BENCH_SECONDS (3).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${ROOT:-$(cd "$HERE/../.." && pwd)}"
BUILD="${BUILD:-$ROOT}"

missing=""
for t in test_pgconn test_order test_pgbus; do
	[ -x "$BUILD/tests/pg/$t" ] || missing="$missing $t"
done
if [ -n "$missing" ]; then
	echo "pg: not built:$missing (configure found no libpq? scripts/install-deps.sh installs libpq-dev; make check builds them)"
	echo "pg: 0 passed, 1 failed"
	exit 1
fi

# Runs inside pgscratch: every test, then the measurements.
inside() {
	local passed=0 failed=0 t out rc line p f
	for t in test_pgconn test_order test_pgbus; do
		echo "== $t"
		out="$("$BUILD/tests/pg/$t" 2>&1)"
		rc=$?
		echo "$out"
		line="$(printf '%s\n' "$out" | grep -oE '[0-9]+ passed, [0-9]+ failed' | tail -n 1)"
		if [ -z "$line" ]; then
			failed=$((failed + 1))
			continue
		fi
		p=${line%% passed*}
		f=${line##*, }
		f=${f%% failed}
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "$t exited $rc with no failed check: counted as 1 failed"
			failed=$((failed + 1))
		fi
	done
	# The order check has teeth: without the lock (the test's own switch;
	# the server has none) its readers must find skipped ids.
	echo "== test_order without the lock (must find skips)"
	out="$(PL_TEST_NO_LOCK=1 "$BUILD/tests/pg/test_order" 2>/dev/null)"
	echo "$out" | grep -E '^order:'
	if echo "$out" | grep -qE ' [1-9][0-9]* skipped by readers'; then
		echo "ok: without the lock readers skip ids, with it none do"
		passed=$((passed + 1))
	else
		echo "FAIL: without the lock no reader skipped an id: the check cannot tell"
		failed=$((failed + 1))
	fi
	if [ "${PG_BENCH:-1}" != 0 ]; then
		echo "== ordering cost (a measurement: one batch = one transaction, lock + insert + commit)"
		local w
		for w in 1 4 16; do
			"$BUILD/tests/pg/test_order" --bench "$w" "${PG_BENCH_SECONDS:-3}" 64 || true
		done
	fi
	echo "pg: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
export BUILD
export -f inside
LOG="$(mktemp "${TMPDIR:-/tmp}/pg-run-XXXXXX")"
trap 'rm -f "$LOG"' EXIT
"$HERE/pgscratch.sh" bash -c inside 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
# A server that did not start ran no test: say so in the result line.
if ! grep -qE '^pg: [0-9]+ passed, [0-9]+ failed$' "$LOG"; then
	echo "pg: 0 passed, 1 failed"
	[ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
