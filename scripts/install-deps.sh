#!/usr/bin/env bash
# Installs what Parley needs on Debian 12, idempotently.
#   scripts/install-deps.sh          build and run: compiler, autotools, libraries
#   scripts/install-deps.sh --test   also every tool the test command uses:
#                                    servers the tests drive (redis, lighttpd,
#                                    apache2, nginx, postgresql: tests/pg
#                                    starts its own from a scratch folder),
#                                    chromium, cppcheck,
#                                    clang with libFuzzer (make fuzz), and
#                                    the npm test clients in
#                                    tests/node (pinned to run on Debian 12's
#                                    nodejs 18 and on newer nodes)
#   scripts/install-deps.sh --bench  also the benchmark's peer and chart:
#                                    nginx with nchan, gnuplot (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS=(build-essential autoconf automake pkg-config
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libhiredis-dev libfcgi-dev libssl-dev
  libcurl4-openssl-dev)
# libpq-dev: the PostgreSQL store (optional: ./configure --with-postgresql=no
# builds without it; SQLite stays the zero-set-up default).
BUILD_PKGS+=(libpq-dev)
# The README's walk-through: curl and jq for the API, openssl for a secret.
RUN_PKGS=(curl jq openssl)
# clang + libclang-rt-dev: the libFuzzer targets (clang only recommends the
# runtime, and --no-install-recommends would leave -fsanitize=fuzzer unlinkable).
# postgresql: the server binaries (initdb, pg_ctl under /usr/lib/postgresql/N/bin)
# for tests/pg/pgscratch.sh; util-linux's setpriv runs them as nobody under root.
TEST_PKGS=(ca-certificates curl jq procps redis-server redis-tools lighttpd apache2 nginx spawn-fcgi
  postgresql chromium cppcheck clang libclang-rt-dev nodejs npm)
BENCH_PKGS=(curl nginx libnginx-mod-nchan gnuplot-nox)

want=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}")
[ "${1:-}" = "--test" ] && want+=("${TEST_PKGS[@]}")
[ "${1:-}" = "--bench" ] && want+=("${BENCH_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  # nodejs may come from another repository than Debian's: a working node is enough.
  if [ "$p" = nodejs ] || [ "$p" = npm ]; then command -v "$p" >/dev/null 2>&1 && continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packaged servers must not run as system services: tests start their own.
  for s in redis-server lighttpd apache2 nginx postgresql; do
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true; fi
    $SUDO service "$s" stop >/dev/null 2>&1 || true
  done
fi

if [ "${1:-}" = "--test" ]; then
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 18 ]; then
    echo "install-deps: node $major found; the tests need node >= 18 (Debian 12's nodejs is 18)" >&2
    exit 1
  fi
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi
