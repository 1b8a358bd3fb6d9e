#!/usr/bin/env bash
# tests/pg/parleyd-db.sh: parleyd on PostgreSQL with a database of its own
# per data folder, for the integration suites (tests/pg/suites.sh sets
# PARLEYD to this script).
#
# Every test server gets a fresh --data folder, so the database is named
# after it: a fresh folder is a fresh, empty database (created here through
# the "parley" role, which may CREATEDB), and a server started again on the
# same folder (the resume tests' restarts) finds its rows again.
# Env in: PARLEYD_REAL (the parleyd binary), PG_BASE_URL (the scratch
# server's DATABASE_URL; its database part is replaced).
set -euo pipefail
# Subcommands (parleyd token ...) do not open the store.
case "${1:-}" in
--*) ;;
*) exec "$PARLEYD_REAL" "$@" ;;
esac
data=""
prev=""
for a in "$@"; do
	[ "$prev" = "--data" ] && data="$a"
	prev="$a"
done
[ -n "$data" ] || { echo "parleyd-db: no --data" >&2; exit 2; }
name="t_$(printf '%s' "$data" | md5sum | cut -c1-20)"
if ! psql "$PG_BASE_URL" -tAqc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
	psql "$PG_BASE_URL" -qc "CREATE DATABASE $name" >/dev/null 2>&1 || true
fi
url="${PG_BASE_URL%/*}/$name"
exec "$PARLEYD_REAL" "$@" --database "$url"
