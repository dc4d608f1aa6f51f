#!/usr/bin/env bash
# Stage 10-coldstart of `make bench` (infra/bench/stages, see the contract in
# infra/scripts/bench.sh): cold start (init, first invoke), a warm invoke, peak RSS and binary
# size of every function of template.yaml, each release binary spawned against a local Lambda
# Runtime API on the local stack, beside a hello-world lambda_runtime floor built in the same
# run with the same profile (crates infra/coldstart, infra/coldstart/hello).
#
# Alone: start an emulator and run it with the contract's variables, e.g.
#   eval "$(MOTO_STATE_DIR=.local/moto-bench infra/scripts/moto.sh start)"
#   BENCH_OUT=target/bench bash infra/bench/stages/10-coldstart.sh
# Writes $BENCH_OUT/10-coldstart.md and $BENCH_OUT/10-coldstart.json (fields: see
# infra/coldstart/src/report.rs, `Figures`); the functions' output goes to
# $BENCH_OUT/coldstart-logs/. COLDSTART_RUNS (default 25, about 30 s in all) cold starts per binary;
# COLDSTART_BEFORE=<an earlier 10-coldstart.json> adds a before/after table;
# COLDSTART_HARNESS=<path> uses that packr-coldstart binary instead of building one.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"

: "${AWS_ENDPOINT_URL:?the emulator: eval \"\$(infra/scripts/moto.sh start)\"}"
out="${BENCH_OUT:-$root/target/bench}"
release_dir="${BENCH_RELEASE_DIR:-${CARGO_TARGET_DIR:-$root/target}/release}"
mkdir -p "$out"

functions=(webhook-ingest webhook-processor api-orders api-inventory api-products api-warehouse
  api-messages api-connections api-sync api-docs sync-scheduler sync-worker)
# The functions and the floor in one release build (as `sam build` builds the functions,
# without the bench's own crates, whose features would otherwise be unified into theirs);
# a no-op when up to date. `cargo build` writes to $CARGO_TARGET_DIR, so a BENCH_RELEASE_DIR
# elsewhere must hold the binaries already. The harness itself (packr-coldstart) is a dev
# build: it only serves the Runtime API and timestamps requests, the same for the floor and
# every function, and a dev build spares `make bench` a second LTO build of the AWS SDK.
packages=()
for f in "${functions[@]}" coldstart-hello; do packages+=(-p "$f"); done
cargo build --release --locked --quiet "${packages[@]}"
# COLDSTART_HARNESS: a packr-coldstart binary built already (e.g. by `make test`'s target dir).
harness="${COLDSTART_HARNESS:-}"
if [ -z "$harness" ]; then
  cargo build --locked --quiet -p packr-coldstart
  harness="${CARGO_TARGET_DIR:-$root/target}/debug/packr-coldstart"
fi

# The release profile as Cargo.toml sets it, for the fragment.
profile="$(awk '/^\[profile\.release\]/{on=1; next} /^\[/{on=0} on && NF && $1 !~ /^#/ {gsub(/ /, ""); printf "%s%s", sep, $0; sep=", "}' Cargo.toml)"
export COLDSTART_PROFILE="${profile:-cargo defaults (no [profile.release])}"
export COLDSTART_COMMAND="BENCH_OUT=target/bench bash infra/bench/stages/10-coldstart.sh   # with the emulator's AWS_* variables"

"$harness" --release-dir "$release_dir" --out "$out" --repo "$root" > /dev/null
echo "10-coldstart: wrote $out/10-coldstart.md and $out/10-coldstart.json" >&2
