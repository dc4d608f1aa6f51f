#!/usr/bin/env bash
# Webhook lag: BENCH_LAG_EVENTS (default 10,000) events at 200/s delivered 16 at a time,
# receipt → applied, lost and applied twice per event id; floor: a bare
# queue → conditional writes pipeline on the same emulator at the same load.
source "$(dirname "$0")/../lib.sh"
need_emulator
bench_stage lag --events "${BENCH_LAG_EVENTS:-10000}" --rate 200 --concurrency 16 --pollers 4 \
  --floor-events 100 --floor-rate 10 \
  --bare-events "${BENCH_LAG_BARE_EVENTS:-2000}"
