#!/usr/bin/env bash
# `make chaos`: the reliability run of the local stack (infra/local/src/chaos) — the webhook
# phase, then the sync phase on the same stack — on a release build and an emulator of its
# own, then the table written into BENCHMARKS.md between `<!-- make chaos: begin -->` and
# `<!-- make chaos: end -->`.
#
#   make chaos                    # a fresh seed, printed
#   CHAOS_SEED=1234 make chaos    # reproduces the run of that seed
#   CHAOS_EVENTS=2000 make chaos  # a shorter webhook phase (also CHAOS_RATE, CHAOS_POLLERS)
#   CHAOS_PHASE=sync make chaos   # one phase only (webhooks or sync; CHAOS_SYNC_SECONDS,
#                                 # CHAOS_SYNC_RATE size the sync phase)
#
# Exits non-zero when a check failed (the table is still written, saying which).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
started=$(date +%s)

say() { printf '\n==> %s\n' "$*"; }

say "tools"
bash infra/scripts/venv.sh

say "release build of packr-chaos"
cargo build --release --locked -q -p packr-local --bin packr-chaos
bin="${CARGO_TARGET_DIR:-$root/target}/release/packr-chaos"

say "AWS emulator of its own"
export MOTO_STATE_DIR="$root/.local/moto-chaos"
stop_moto() { bash infra/scripts/moto.sh stop 2>/dev/null || true; }
trap stop_moto EXIT
stop_moto # a leftover one of this state dir would hold an earlier run's stacks
eval "$(bash infra/scripts/moto.sh start)"

seed="${CHAOS_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) ))}"
export CHAOS_SEED="$seed"
say "chaos run, seed $seed (CHAOS_SEED=$seed make chaos reproduces it)"
mkdir -p target/chaos
table="target/chaos/table.md"
log="target/chaos/run.log"
rm -f "$table"
run_started=$(date +%s)
status=0
# stdout carries the functions' EMF metric lines: to the log; progress and the table on stderr.
"$bin" --out "$table" >"$log" || status=$?
run_seconds=$(( $(date +%s) - run_started ))
if [ ! -f "$table" ]; then
  echo "make chaos: the run ended before its table (exit $status); see $log" >&2
  exit 1
fi
cat "$table"

say "BENCHMARKS.md"
total_seconds=$(( $(date +%s) - started ))
fragment="target/chaos/fragment.md"
{
  echo "## Reliability under chaos: \`make chaos\` (packr-local)"
  echo
  echo '```sh'
  echo "CHAOS_SEED=$seed${CHAOS_PHASE:+ CHAOS_PHASE=$CHAOS_PHASE} make chaos"
  echo '```'
  echo
  echo "$(date -u +%Y-%m-%d) UTC, commit \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- . ':!BENCHMARKS.md' || echo ' (with uncommitted changes)'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(rustc --version), moto $("$root/.venv/bin/python" -c 'import moto; print(moto.__version__)'), release build."
  echo "Seed **$seed**; the run took ${run_seconds} s (\`make chaos\` in all, build included: ${total_seconds} s)."
  echo
  if [ "${CHAOS_PHASE:-all}" != sync ]; then
  echo "**Webhook phase.** The simulator raises the changes and delivers their webhooks (4 at once) to the gateway's"
  echo "function URL; webhook-ingest queues them; 2 pollers (batch 10, 40 s visibility) feed"
  echo "webhook-processor, whose AWS clients and pollers reach the emulator only through the"
  echo "fault proxy (\`infra/local/src/faultproxy.rs\`, set as their endpoint). Schedules are off:"
  echo "only webhooks move data. Counting (per event id = \`svix-id\`): *delivered* = ids the"
  echo "simulator got a 2xx for; *finished* = ids whose receipt holds a final verdict, read back"
  echo "after the run; *applied twice* = ids with more than one final-verdict receipt write"
  echo "accepted by the emulator, seen by the proxy's tap. The proxy also forwards"
  echo "conditional writes one at a time: moto does not make them atomic, DynamoDB does."
  echo
  fi
  if [ "${CHAOS_PHASE:-all}" != webhooks ]; then
  echo "**Sync phase** (rows from *sync phase* on; same stack, after the webhook phase's checks;"
  echo "\`infra/local/src/chaos/sync_phase.rs\`). Changes of every kind are raised while their webhooks"
  echo "flow (duplicates, reordering); sync-scheduler ticks on the incremental schedule (sped up),"
  echo "two rounds of full syncs of every resource and a reconciliation run, sync-worker (3 pollers,"
  echo "short lease and visibility, small pages) behind a fault proxy of its own in front of the run's."
  echo "At seeded full-run pages: a worker killed between its page read and its checkpoint; a worker"
  echo "held past its lease until another is granted a newer fencing token (its late checkpoint must"
  echo "be refused); every DynamoDB call of the sync functions answered 500 for a while; Trackstar"
  echo "answering 5xx, then 429, for a while. Checks: every object of every resource stored at the"
  echo "simulator's version; per item, the versions of accepted upserts (seen at the wire, in the order"
  echo "applied) never decrease, nor do the watermarks of accepted run completions; every job"
  echo "finished, each failed invocation inside a fault's window; the simulator's log never saw more"
  echo "than 10 GETs on one token within a second; a dry-run reconciliation afterwards finds 0 drift."
  echo
  fi
  cat "$table"
} > "$fragment"
python3 - "$fragment" <<'PY'
import sys, re
begin, end = "<!-- make chaos: begin -->", "<!-- make chaos: end -->"
fragment = open(sys.argv[1]).read().rstrip("\n")
text = open("BENCHMARKS.md").read()
block = f"{begin}\n{fragment}\n{end}"
if begin in text and end in text:
    text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, count=1, flags=re.S)
else:
    # After the top paragraph: the title, then the first paragraph after it.
    parts = text.split("\n\n", 2)
    head = "\n\n".join(parts[:2])
    rest = parts[2] if len(parts) > 2 else ""
    text = f"{head}\n\n{block}\n\n{rest}"
open("BENCHMARKS.md", "w").write(text)
PY
echo "BENCHMARKS.md: the make chaos section rewritten (seed $seed)"
if [ "$status" -ne 0 ]; then
  echo "make chaos: FAILED (seed $seed; exit $status)" >&2
  exit "$status"
fi
echo "make chaos: passed (seed $seed, ${total_seconds} s)"
