#!/usr/bin/env bash
# Installs code-server 4.100.3 into .cache/code-server (git-ignored) without any download but the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.cache/code-server
VERSION=4.100.3
if [ -x "$DIR/node_modules/.bin/code-server" ] && grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/code-server/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v rg >/dev/null; then
  echo "setup: ripgrep (rg) is missing; install the Debian package ripgrep first (skipping code-server)." >&2
  exit 0
fi
# VS Code's ripgrep postinstall downloads a binary; seed its cache with Debian's rg instead.
TMP="${TMPDIR:-/tmp}"
mkdir -p "$TMP/vscode-ripgrep-cache-1.15.11"
tar czf "$TMP/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
mkdir -p "$DIR"
echo "setup: installing code-server $VERSION into $DIR (about 2 minutes)"
npm_config_yes=true npm_config_unsafe_perm=true npm install --prefix "$DIR" --no-package-lock --no-audit --no-fund "code-server@$VERSION" >"$DIR/install.log" 2>&1 \
  || { echo "setup: code-server install failed, see $DIR/install.log" >&2; exit 1; }
