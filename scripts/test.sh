#!/usr/bin/env bash
# The one test command: builds, then runs every node:test suite under test/.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
exec node --test --test-concurrency=1 --test-reporter=spec "dist/test/"
