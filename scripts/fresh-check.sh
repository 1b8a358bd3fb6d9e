#!/usr/bin/env bash
# scripts/fresh-check.sh: the README's two commands on a brand-new Debian 12.
#
# A green run on a developer's machine can hide a missing install step (a
# tool installed by hand stays there).  This makes a brand-new Debian 12
# minbase root with debootstrap, copies the tree into it (no build output,
# no node_modules, no git), and runs there, as root:
#   1. scripts/run.sh, until http://127.0.0.1:PORT/v1/health answers (then
#      it is stopped);
#   2. scripts/test.sh, RUNS times (1 by default), each to its last line.
# Run it before a change that adds a tool, a package or a library.
#
#   sudo scripts/fresh-check.sh [--runs N] [--keep] [--dir DIR] [--port P]
#
# Needs root and the network to Debian's and npm's registries (debootstrap
# is installed from Debian if missing).  The root gets what a container
# image has: /usr/sbin/policy-rc.d refusing service starts, so installed
# servers (redis, apache2, ...) never start outside the tests; and the
# host's extra CA certificates and CA variables, for a network whose proxy
# inspects TLS (npm's registry is reached over HTTPS).  Everything
# runs in its own mount and PID namespaces: whatever the commands leave
# running ends with them.  Exit status: 0 when every test run ends
# "N passed, 0 failed".  The root is removed unless --keep (DIR holds it).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
RUNS=1 KEEP=0 PORT=18080
DIR=${TMPDIR:-/var/tmp}/parley-fresh
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --dir) DIR=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--keep] [--dir DIR] [--port P]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: run as root (debootstrap and chroot need it)" >&2; exit 2; }
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

ROOTFS=$DIR/root
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"
cleanup() {
  if [ "$KEEP" = 1 ]; then echo "fresh-check: kept $ROOTFS"; return; fi
  # Never remove through a mount still there (the root's /dev is the host's).
  if findmnt -rn -o TARGET | grep -q "^$ROOTFS/"; then
    echo "fresh-check: $ROOTFS still has mounts; not removed" >&2
  else
    rm -rf --one-file-system "$ROOTFS"
  fi
}
trap cleanup EXIT

echo "fresh-check: debootstrap bookworm (minbase) into $ROOTFS"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 ||
  { tail -20 "$DIR/debootstrap.log"; exit 1; }
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# The network's own trust, not an install step: a host behind a
# TLS-inspecting proxy has its CA in /usr/local/share/ca-certificates (the
# ca-certificates package, when the tree installs it, adds them to the
# system store) and points tools at that store through the environment.
mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/" 2>/dev/null || true
CA_ENV=$(env | grep -E '^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|CURL_CA_BUNDLE|GIT_SSL_CAINFO)=' |
  sed 's/^/export /' || true)

echo "fresh-check: copying the tree to /src"
mkdir -p "$ROOTFS/src"
tar -C "$SRC" --exclude=./.build --exclude=./var --exclude=./run --exclude=node_modules \
  --exclude=.git --exclude=autom4te.cache -cf - . | tar -C "$ROOTFS/src" -xf -
# The copy starts unbuilt, as a clone does.
(cd "$ROOTFS/src" && { [ ! -f Makefile ] || make -s distclean >/dev/null 2>&1 || true; })

# The commands, inside the new root: each step's output goes to a log
# there and its last lines here.
cat >"$ROOTFS/fresh-steps.sh" <<EOF
#!/bin/bash
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
$CA_ENV
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
cd /src
echo "== scripts/run.sh"
PORT=$PORT scripts/run.sh >/run.log 2>&1 &
runner=\$!
ok=0
for i in \$(seq 1 1800); do
  if ! kill -0 \$runner 2>/dev/null; then break; fi
  if (exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'GET /v1/health HTTP/1.0\r\n\r\n' >&3 && cat <&3) 2>/dev/null |
    grep -q '"status"'; then
    ok=1; echo "run.sh: serving after \$SECONDS s"; break
  fi
  sleep 1
done
tail -5 /run.log
kill \$runner 2>/dev/null; wait \$runner 2>/dev/null
[ \$ok = 1 ] || { echo "run.sh: never served"; exit 1; }
status=0
for r in \$(seq 1 $RUNS); do
  echo "== scripts/test.sh, run \$r of $RUNS"
  scripts/test.sh >/test-\$r.log 2>&1
  tail -4 /test-\$r.log
  tail -1 /test-\$r.log | grep -qE '^[0-9]+ passed, 0 failed$' || status=1
done
exit \$status
EOF
chmod 755 "$ROOTFS/fresh-steps.sh"

echo "fresh-check: running the README's two commands in the new root"
mkdir -p "$ROOTFS/dev"
set +e
unshare --mount --pid --fork --kill-child --propagation private bash -c "
  mount --rbind /dev '$ROOTFS/dev' && exec chroot '$ROOTFS' /fresh-steps.sh"
status=$?
set -e
[ "$KEEP" = 1 ] && echo "fresh-check: logs in $ROOTFS (run.log, test-N.log)"
echo "fresh-check: $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
