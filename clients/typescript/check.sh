#!/usr/bin/env bash
# The TypeScript client's check, a step of `make test`: installs the pinned tools with
# `npm ci` (skipped while node_modules matches package.json and package-lock.json),
# generates src/generated/packr.ts from the repository's openapi.json, type-checks the
# client and its tests (strict; a contract change that breaks the client fails here), and
# runs the runtime tests against a local HTTP server on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "clients/typescript: node 20+ and npm are needed" >&2
  exit 1
fi

stamp=node_modules/.packr-installed
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$want" >"$stamp"
fi

rm -rf dist src/generated
npm run --silent generate
# One strict tsc pass: it type-checks exactly as `tsc --noEmit` does and, only when that
# passes (noEmitOnError), writes the JavaScript the runtime tests run.
npx --no-install tsc
node --test --test-reporter=spec dist/test/*.test.js
