#!/usr/bin/env bash
# Builds Parley in the source tree (./configure && make), so the top of the
# tree holds parleyd and parley.fcgi.  Extra arguments go to configure.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] || autoreconf -fi >/dev/null 2>&1
if [ ! -f config.status ] || [ "$*" != "$(cat .configure-args 2>/dev/null)" ]; then
  ./configure -q "$@"
  echo "$*" > .configure-args
fi
make -s -j"$(nproc)" >/dev/null
