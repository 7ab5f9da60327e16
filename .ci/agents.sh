#!/usr/bin/env bash
# Installs the coding agents that test/e2e/agent-*.test.ts run through tollgate into a cache outside the
# repository, from the npm registry only: test/agents/package.json pins their versions and its lockfile their
# integrity (npm ci). Idempotent: a cache installed from the same manifest and lockfile is used as it is; an
# install cut short is never taken for a finished one (it is built beside the cache and moved into place).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${TOLLGATE_TEST_AGENTS_DIR:-$HOME/.cache/tollgate/agents}"
SRC=test/agents
MARK=.tollgate-agents-installed

if cmp -s "$SRC/package.json" "$DIR/package.json" && cmp -s "$SRC/package-lock.json" "$DIR/package-lock.json" && [ -f "$DIR/$MARK" ]; then
  echo "cached in $DIR"
else
  if [ -e "$DIR" ] && ! grep -qs '"name": "tollgate-ci-agents"' "$DIR/package.json"; then
    echo "$DIR exists and is not tollgate's agent cache; set TOLLGATE_TEST_AGENTS_DIR elsewhere" >&2
    exit 1
  fi
  echo "installing into $DIR"
  tmp="$DIR.partial.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
  # Claude Code declares node >= 22 for its installer script only; what it installs is a native binary.
  (cd "$tmp" && npm ci --no-audit --no-fund --engine-strict=false --loglevel=error)
  touch "$tmp/$MARK"
  rm -rf "$DIR"
  mv "$tmp" "$DIR"
fi
"$DIR/node_modules/.bin/claude" --version
"$DIR/node_modules/.bin/codex" --version
