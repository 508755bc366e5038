#!/usr/bin/env bash
# Everything the extension's CI does, in order, failing at the first error: install, typecheck,
# lint, bundle, package the .vsix, unit tests, the protocol contract test and the UI test against
# the real Python server (REPORLM_PYTHON, default ../.venv/bin/python, must have reporlm installed).
set -euo pipefail
cd "$(dirname "$0")/.."
export REPORLM_PYTHON=${REPORLM_PYTHON:-$(cd .. && pwd)/.venv/bin/python}
if ! "$REPORLM_PYTHON" -P -c 'import reporlm' 2>/dev/null; then
  echo "extension: $REPORLM_PYTHON cannot import reporlm: run scripts/install first" >&2
  exit 1
fi

step() {
  local name=$1 started=$SECONDS
  shift
  echo "extension: $name" >&2
  "$@"
  echo "extension: $name done in $((SECONDS - started)) s" >&2
}

step "npm ci" npm ci --no-audit --no-fund --loglevel=error
step "typecheck" npm run -s typecheck
step "lint" npm run -s lint
step "bundle" npm run -s bundle
step "package" npm run -s package
step "build tests" npm run -s build-tests
step "unit tests" npm run -s test:unit
step "contract test" npm run -s test:contract
step "UI tools" scripts/ui-tools.sh
step "UI test" npm run -s test:ui
