# Sourced by every stage script of `make bench` (infra/scripts/bench.sh runs them in name
# order). A stage also runs alone, against a running emulator:
#   eval "$(MOTO_STATE_DIR=.local/moto-bench infra/scripts/moto.sh start)"
#   BENCH_OUT=target/bench bash infra/bench/stages/30-webhook-lag.sh
# It builds the release `bench_stage` binary when it is missing.
set -euo pipefail
BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$BENCH_ROOT"
export BENCH_OUT="${BENCH_OUT:-$BENCH_ROOT/target/bench}"
export BENCH_RELEASE_DIR="${BENCH_RELEASE_DIR:-${CARGO_TARGET_DIR:-$BENCH_ROOT/target}/release}"
mkdir -p "$BENCH_OUT"

# The stage binary, built (release) if missing.
bench_stage() {
  local bin="$BENCH_RELEASE_DIR/examples/bench_stage"
  if [ ! -x "$bin" ]; then
    CARGO_TARGET_DIR="$(dirname "$BENCH_RELEASE_DIR")" \
      cargo build --release --locked -p packr-local --example bench_stage
  fi
  "$bin" --out "$BENCH_OUT" "$@"
}

# Stages that talk to AWS need the emulator's variables (never real AWS).
need_emulator() {
  if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
    echo "${0##*/}: AWS_ENDPOINT_URL is not set; start the emulator:" >&2
    echo "  eval \"\$(MOTO_STATE_DIR=.local/moto-bench infra/scripts/moto.sh start)\"" >&2
    exit 2
  fi
}
