#!/usr/bin/env bash
# tests/install/run.sh: "make install" into a DESTDIR, checked as an
# operator would use it: the files in their places, the man pages render
# and list every flag the binaries take, the installed parleyd serves the
# installed web client, the systemd unit is valid, "make uninstall" leaves
# nothing behind.  Run from a configured and built tree (ROOT, default two
# levels up).  Last line: "install: N passed, N failed".
set -u
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 1
PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

T=$(mktemp -d "${TMPDIR:-/tmp}/parley-install-XXXXXX")
PID=
cleanup() { [ -z "$PID" ] || kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# The paths this build installs to, as make knows them.
var() { make -s --no-print-directory -f Makefile -f - print-var VAR="$1" <<<'print-var: ; @echo $($(VAR))'; }
bindir=$(var bindir) pkgdatadir=$(var pkgdatadir) man8dir=$(var man8dir) unitdir=$(var systemdsystemunitdir)
D=$T/dest

if make -s install DESTDIR="$D" >"$T/install.log" 2>&1; then ok "make install DESTDIR=…"; else
  cat "$T/install.log"; bad "make install DESTDIR=…"; fi
for f in "$bindir/parleyd" "$bindir/parley.fcgi"; do check "installed: $f (executable)" test -x "$D$f"; done
for f in "$man8dir/parleyd.8" "$man8dir/parley.fcgi.8" "$unitdir/parleyd.service" \
  "$pkgdatadir/www/index.html" "$pkgdatadir/www/parley.js" "$pkgdatadir/www/app.js"; do
  check "installed: $f" test -s "$D$f"
done

# The man pages: every flag of --help is in its page, and man renders it
# without a warning (where man is installed).
for p in parleyd parley.fcgi; do
  page=$D$man8dir/$p.8
  missing=$("$D$bindir/$p" --help | grep -oE '^  -(-[a-z-]+|[a-z])' | tr -d ' ' | while read -r flag; do
    grep -q -- "$(printf '%s' "$flag" | sed 's/-/\\\\-/g')" "$page" || echo "$flag"; done)
  check "$p.8 names every flag of $p --help${missing:+ (missing: $missing)}" test -z "$missing"
  if command -v man >/dev/null 2>&1; then
    warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    check "$p.8 renders without warnings${warnings:+: $warnings}" test -z "$warnings"
  fi
done

# The unit names the installed binary and the installed web client.
unit=$D$unitdir/parleyd.service
check "parleyd.service starts $bindir/parleyd" grep -q "^ExecStart=$bindir/parleyd " "$unit"
check "parleyd.service serves $pkgdatadir/www" grep -q -- "--www $pkgdatadir/www" "$unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants the binary where the unit says: a copy of the unit that
  # starts the DESTDIR binary instead.
  sed "s|^ExecStart=$bindir/|ExecStart=$D$bindir/|" "$unit" >"$T/parleyd.service"
  out=$(systemd-analyze verify --man=no "$T/parleyd.service" 2>&1 | grep -v -e 'Failed to .*bus' -e 'multi-user.target')
  check "systemd-analyze verify parleyd.service${out:+: $out}" test -z "$out"
fi

# The installed parleyd, run from outside the source tree, serves the
# installed web client and the API, and stops gracefully.
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p "$T/elsewhere"
(cd "$T/elsewhere" && exec "$D$bindir/parleyd" --dev --listen "127.0.0.1:$port" --data "$T/data" \
  --www "$D$pkgdatadir/www" 2>"$T/parleyd.log") &
PID=$!
up=0
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null && { up=1; break; }; sleep 0.1; done
check "installed parleyd answers /v1/health" test "$up" = 1
check "installed parleyd serves the web client at /" \
  sh -c "curl -sf http://127.0.0.1:$port/ | grep -q '<html'"
kill -TERM "$PID"; wait "$PID"; status=$?; PID=
check "installed parleyd stops on SIGTERM with status 0 (got $status)" test "$status" = 0

# Without --www, outside the tree, the default is the installed place; when
# nothing is there, the log says where the web client is expected.
(cd "$T/elsewhere" && exec "$D$bindir/parleyd" --dev --listen "127.0.0.1:$port" --data "$T/data2" \
  2>"$T/parleyd2.log") &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null && break; sleep 0.1; done
kill -TERM "$PID"; wait "$PID"; PID=
if [ -f "$pkgdatadir/www/index.html" ]; then
  ok "(the web client is installed on this machine: the warning is not expected)"
else
  check "no web client: the log names where it is expected" grep -q "no web client in $pkgdatadir/www" "$T/parleyd2.log"
fi

# An unwritable data folder: the reason, not SQLite's "unable to open".
SECRET=install-test-secret-0123456789abcdef0123456789abcdef
if [ "$(id -u)" -ne 0 ]; then
  mkdir -p "$T/ro" && chmod 500 "$T/ro"
  PARLEY_JWT_SECRET=$SECRET "$D$bindir/parleyd" --listen "127.0.0.1:$port" --data "$T/ro" 2>"$T/ro.log"
  check "an unwritable data folder says why" grep -q "cannot write in data folder $T/ro: Permission denied" "$T/ro.log"
elif command -v setpriv >/dev/null 2>&1; then
  mkdir -p "$T/ro" && chmod 755 "$T/ro" && chmod 711 "$T"
  PARLEY_JWT_SECRET=$SECRET setpriv --reuid=65534 --regid=65534 --clear-groups "$D$bindir/parleyd" \
    --listen "127.0.0.1:$port" --data "$T/ro" 2>"$T/ro.log"
  check "an unwritable data folder says why ($(tail -1 "$T/ro.log"))" \
    grep -q "cannot write in data folder $T/ro: Permission denied" "$T/ro.log"
fi

if make -s uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1; then ok "make uninstall DESTDIR=…"; else
  cat "$T/uninstall.log"; bad "make uninstall DESTDIR=…"; fi
left=$(find "$D" -type f | sed "s|^$D||")
check "make uninstall leaves no file${left:+ (left: $left)}" test -z "$left"

echo "install: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
