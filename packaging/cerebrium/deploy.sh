#!/usr/bin/env bash
# Stage and deploy the engine to Cerebrium: needs `pip install cerebrium` and `cerebrium login`.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp "$HERE/main.py" "$HERE/cerebrium.toml" "$STAGE/"
cp -r "$ROOT/csm_desktop" "$STAGE/csm_desktop"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
cd "$STAGE"
cerebrium deploy "$@"
