#!/usr/bin/env bash
# Deploy the engine to Cerebrium: needs `pip install cerebrium` and `cerebrium login`.
# Refuses a deployment that would be public or would log voices (check_deploy.py says why and
# how to fix it). Usage: deploy.sh [--skip-secret-check] [cerebrium deploy options...]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
CHECK_ARGS=()
DEPLOY_ARGS=()
for arg in "$@"; do
  if [ "$arg" = "--skip-secret-check" ]; then CHECK_ARGS+=("$arg"); else DEPLOY_ARGS+=("$arg"); fi
done
command -v cerebrium >/dev/null || { echo "deploy.sh: the Cerebrium CLI is missing: pip install cerebrium" >&2; exit 1; }
"$PYTHON" "$HERE/check_deploy.py" ${CHECK_ARGS[@]+"${CHECK_ARGS[@]}"}
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp "$HERE/main.py" "$HERE/cerebrium.toml" "$STAGE/"
cp -r "$ROOT/csm_desktop" "$STAGE/csm_desktop"
find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
cd "$STAGE"
cerebrium deploy ${DEPLOY_ARGS[@]+"${DEPLOY_ARGS[@]}"}
