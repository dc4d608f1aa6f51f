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
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --version "$NEXTEST_VERSION" --locked
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

step "AWS emulator"
export MOTO_STATE_DIR="$root/.local/moto-test"
stop_moto() { bash infra/scripts/moto.sh stop || true; }
trap stop_moto EXIT
eval "$(bash infra/scripts/moto.sh start)"

step "tests"
cargo nextest run --workspace --locked --no-fail-fast
