#!/usr/bin/env bash
# Webhook lag: BENCH_LAG_EVENTS (default 1,000) events at 200/s delivered 16 at a time,
# receipt → applied, lost and applied twice per event id; floor: a bare
# queue → conditional writes pipeline on the same emulator at the same load
# (BENCH_LAG_BARE_EVENTS, default 1,000), and a second floor re-sending Packr's own requests
# (recorded in the unloaded run); a stage-by-stage table of the three (bench/lag_stages.rs).
#
# Issue 12 asks for 10,000 events (BENCH_LAG_EVENTS=10000). On moto that backlog does not
# settle in a bounded time: moto's ReceiveMessage recomputes the queue's attributes, a walk
# over the whole queue, for every message it returns. A run on 2 cores still had 10,305
# messages queued after 40 minutes. So the default is the size that settles and compares.
# That cost was moto's queue, which the emulator's SQS fast path removes (moto_server.py,
# BENCHMARKS.md issue 22); a 10,000-event run has not been repeated since.
source "$(dirname "$0")/../lib.sh"
need_emulator
bench_stage lag --events "${BENCH_LAG_EVENTS:-1000}" --rate 200 --concurrency 16 --pollers 4 \
  --floor-events 100 --floor-rate 10 \
  --bare-events "${BENCH_LAG_BARE_EVENTS:-1000}"
