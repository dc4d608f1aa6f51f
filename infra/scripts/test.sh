#!/usr/bin/env bash
# The whole check, as CI runs it (`make test`): installs what it needs (pinned), lints,
# starts the AWS emulator on a free loopback port, runs every test, stops the emulator.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

NEXTEST_VERSION=0.9.143

step() { printf '\n==> %s\n' "$*"; }

step "tools"
bash infra/scripts/venv.sh
bash infra/scripts/chromium.sh
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --version "$NEXTEST_VERSION" --locked
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "dependency rules (cargo deny, one TLS stack, one crypto provider)"
bash infra/scripts/deps-check.sh

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

step "moto's fast paths (SQS, DynamoDB Query) answer as moto's own code (infra/scripts/tests)"
.venv/bin/python -m unittest discover -s infra/scripts/tests

step "TypeScript client: types generated from openapi.json, tsc (strict), node --test"
bash clients/typescript/check.sh

step "docs UI: the vendored files are the pinned npm package's"
bash infra/docs-ui/vendor.sh check

step "AWS emulator (recording every request, for the IAM check)"
export MOTO_STATE_DIR="$root/.local/moto-test"
recording="$MOTO_STATE_DIR/recording.jsonl"
stop_moto() { bash infra/scripts/moto.sh stop || true; }
trap stop_moto EXIT
# A fresh emulator (a leftover one of this state dir would not be recording) and recording.
bash infra/scripts/moto.sh stop 2>/dev/null || true
rm -f "$recording"
export MOTO_ENABLE_RECORDING=true MOTO_RECORDER_FILEPATH="$recording"
eval "$(bash infra/scripts/moto.sh start)"
unset MOTO_ENABLE_RECORDING MOTO_RECORDER_FILEPATH

step "tests"
tests_status=0
cargo nextest run --workspace --locked --no-fail-fast || tests_status=$?

# moto enforces no IAM: every request a function made above is checked against that
# function's role in template.yaml (infra/iam-check). Runs even when tests failed.
step "IAM check (recorded requests against template.yaml)"
iam_status=0
cargo run --quiet --locked -p packr-iam-check -- --template template.yaml --recording "$recording" || iam_status=$?

if [ "$tests_status" -ne 0 ] || [ "$iam_status" -ne 0 ]; then
  echo "make test: FAILED (tests exit $tests_status, IAM check exit $iam_status)" >&2
  exit 1
fi
