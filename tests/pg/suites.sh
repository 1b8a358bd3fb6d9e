#!/usr/bin/env bash
# tests/pg/suites.sh: the integration suites on PostgreSQL.
#
# Starts a scratch PostgreSQL (tests/pg/pgscratch.sh) and runs, against it:
#   - tests/integration/{rest,push,resume,webhook}.test.mjs with every
#     parleyd on a database of its own (tests/pg/parleyd-db.sh: one per
#     data folder, so each test server starts empty and a restart on the
#     same folder finds its rows);
#   - tests/pg/cluster.test.mjs: two nodes on one database, no Redis, and
#     the start-up refusals;
#   - tests/pg/fcgi.test.mjs: parley.fcgi on PostgreSQL beside parleyd.
# Prints each suite's output and "pg-suites: N passed, N failed" last (the
# sum of the suites' counts); exits non-zero on any failure.
# Env: PARLEYD, PARLEY_FCGI (default: the repository's), ROOT, NODE,
# PG_SUITES (the integration suites, default "rest push resume webhook").
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${ROOT:-$(cd "$HERE/../.." && pwd)}"
export ROOT
export PARLEYD_REAL="${PARLEYD:-$ROOT/parleyd}"
export PARLEY_FCGI="${PARLEY_FCGI:-$ROOT/parley.fcgi}"
export NODE="${NODE:-node}"
export PG_SUITES="${PG_SUITES:-rest push resume webhook}"

inside() {
	local passed=0 failed=0 s out line p f rc
	export PG_BASE_URL="$DATABASE_URL"
	run_one() { # name, then the command
		local name=$1
		shift
		echo "== $name"
		out="$("$@" 2>&1)"
		rc=$?
		echo "$out"
		line="$(printf '%s\n' "$out" | grep -oE '[0-9]+ passed, [0-9]+ failed' | tail -n 1)"
		if [ -z "$line" ]; then
			failed=$((failed + 1))
			return
		fi
		p=${line%% passed*}
		f=${line##*, }
		f=${f%% failed}
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "$name exited $rc with no failed check: counted as 1 failed"
			failed=$((failed + 1))
		fi
	}
	for s in $PG_SUITES; do
		run_one "$s on PostgreSQL" env PARLEYD="$ROOT/tests/pg/parleyd-db.sh" \
			"$NODE" "$ROOT/tests/integration/$s.test.mjs"
	done
	run_one "cluster" env PARLEYD="$PARLEYD_REAL" "$NODE" "$ROOT/tests/pg/cluster.test.mjs"
	run_one "pg-fcgi" env PARLEYD="$PARLEYD_REAL" "$NODE" "$ROOT/tests/pg/fcgi.test.mjs"
	echo "pg-suites: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
export -f inside
LOG="$(mktemp "${TMPDIR:-/tmp}/pg-suites-XXXXXX")"
trap 'rm -f "$LOG"' EXIT
"$HERE/pgscratch.sh" bash -c inside 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
if ! grep -qE '^pg-suites: [0-9]+ passed, [0-9]+ failed$' "$LOG"; then
	echo "pg-suites: 0 passed, 1 failed"
	[ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
