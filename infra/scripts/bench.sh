#!/usr/bin/env bash
# `make bench`: every benchmark stage in release builds, each figure beside its floor
# measured in the same run, then the part of BENCHMARKS.md between the `make bench`
# markers rewritten with this run's tables.
#
# Installs what it needs (.venv), builds the release stage binary, and runs every
# infra/bench/stages/NN-<name>.sh in name order, each against a fresh emulator of its own
# (MOTO_STATE_DIR=.local/moto-bench, never `make test`'s) with BENCH_OUT, BENCH_RELEASE_DIR
# and the emulator's AWS_* variables exported. A failing stage fails the run, named.
# Stages write $BENCH_OUT/NN-<name>.md (a fragment) and .json (raw figures).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "tools"
bash infra/scripts/venv.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export BENCH_RELEASE_DIR="$CARGO_TARGET_DIR/release"
export BENCH_OUT="$root/target/bench"
export MOTO_STATE_DIR="$root/.local/moto-bench"
stop_moto() { bash infra/scripts/moto.sh stop 2>/dev/null || true; }
timings=()
# BENCH_REWRITE_ONLY=1: no stages, only BENCHMARKS.md from the fragments already in $BENCH_OUT.
if [ "${BENCH_REWRITE_ONLY:-0}" != 1 ]; then
rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT"

step "release build"
cargo build --release --locked -p packr-local --example bench_stage

trap stop_moto EXIT

for stage in $(ls infra/bench/stages/[0-9][0-9]-*.sh | sort); do
  name="$(basename "$stage" .sh)"
  step "stage $name"
  # A fresh emulator per stage: no stage runs against what an earlier one left behind.
  stop_moto
  rm -rf "$MOTO_STATE_DIR"
  eval "$(bash infra/scripts/moto.sh start)"
  stage_started=$(date +%s)
  if ! bash "$stage"; then
    echo "make bench: stage $name FAILED" >&2
    exit 1
  fi
  if [ ! -s "$BENCH_OUT/$name.md" ]; then
    echo "make bench: stage $name wrote no $BENCH_OUT/$name.md" >&2
    exit 1
  fi
  timings+=("$name $(( $(date +%s) - stage_started ))")
done
stop_moto
fi

step "BENCHMARKS.md"
header="$BENCH_OUT/header.md"
{
  echo "_Written by \`make bench\` (\`infra/scripts/bench.sh\`); do not edit between the markers._"
  echo
  echo "| run | |"
  echo "|---|---|"
  echo "| date (UTC) | $(date -u '+%Y-%m-%d %H:%M') |"
  echo "| git commit | \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- . ':!BENCHMARKS.md' || echo ' (with uncommitted changes)') |"
  echo "| nproc | $(nproc) |"
  echo "| CPU | $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) |"
  echo "| rustc | $(rustc --version) |"
  echo "| moto | $(.venv/bin/python -c 'import moto; print(moto.__version__)') |"
  echo "| build | release (\`cargo build --release --locked -p packr-local --example bench_stage\`) |"
  # `|| true`: no override set is the usual case, and grep then exits 1 (pipefail).
  overrides="$(env | { grep -E '^BENCH_[A-Z_]+_(EVENTS|ORDERS)=' || true; } | sort | tr '\n' ' ')"
  [ -n "$overrides" ] || overrides="the stages' defaults (20-ingest 1,000 events; 30-webhook-lag 1,000 events and 1,000 floor events; 40-dynamodb-units 1,000 events and 300 of each kind alone; 50-sync 1,000 orders, 1,000 inbound shipments and 1,000 returns)"
  echo "| sizes | $overrides |"
  if [ "${#timings[@]}" -gt 0 ]; then
    echo "| stage wall times | $(printf '%s s, ' "${timings[@]}" | sed 's/, $//'); total $(( $(date +%s) - started )) s |"
  else
    echo "| stage wall times | ${BENCH_TIMINGS_NOTE:-not recorded (BENCH_REWRITE_ONLY: tables from an earlier run of the stages)} |"
  fi
  echo
  echo "Every figure is printed beside its floor, measured in the same run, and their ratio. The AWS"
  echo "calls go to moto (one Python process): the floors are measured on the same emulator, so the"
  echo "ratios travel to other machines; the absolute times do not describe AWS."
} > "$header"
.venv/bin/python - "$root/BENCHMARKS.md" "$header" "$BENCH_OUT" <<'PY'
import pathlib, sys
doc, header, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
begin, end = "<!-- make bench: begin -->", "<!-- make bench: end -->"
text = doc.read_text()
if begin not in text or end not in text:
    sys.exit(f"{doc}: the markers {begin} / {end} are missing")
fragments = [header.read_text().rstrip()]
fragments += [p.read_text().rstrip() for p in sorted(out.glob("[0-9][0-9]-*.md"))]
body = "\n\n".join(fragments)
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
doc.write_text(f"{head}{begin}\n{body}\n{end}{tail}")
print(f"rewrote {doc} between the make bench markers ({len(fragments) - 1} stages)")
PY
echo "make bench: done in $(( $(date +%s) - started )) s; fragments in $BENCH_OUT"
