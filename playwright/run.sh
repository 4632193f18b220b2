#!/usr/bin/env bash
# Runs the end-to-end suite (playwright-core driving Debian's Chromium) with node's built-in test
# runner. Needs: the `tessera` CLI built (target/debug/tessera, $CARGO_TARGET_DIR/debug/tessera or
# $TESSERA_BIN), the web build in target/web/ (or $TESSERA_WEB_DIR), /usr/bin/chromium (or
# $CHROMIUM), and node_modules (installed here from package-lock.json when missing).
# Extra arguments go to `node --test` (e.g. --test-name-pattern=offline). $PLAYWRIGHT_TESTS (space-
# separated paths) replaces the default set of test files.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules/playwright-core ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "run.sh: $chromium not found (apt-get install -y chromium)" >&2
  exit 1
fi

# One scenario at a time: each starts its own server, proxy and browser, and the machine is small.
# The benches' statistics helpers have their unit tests here too (bench/lib/*.test.js).
if [ -n "${PLAYWRIGHT_TESTS:-}" ]; then
  # shellcheck disable=SC2086 # a list of paths
  exec node --test --test-concurrency=1 "$@" $PLAYWRIGHT_TESTS
fi
exec node --test --test-concurrency=1 "$@" playwright/tests/*.test.js bench/lib/*.test.js
