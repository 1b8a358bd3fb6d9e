#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, and runs
# parleyd with the embedded defaults (SQLite in ./var, no Redis) in dev
# mode, so a person can try it at once on http://127.0.0.1:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec ./parleyd --dev "$@"
