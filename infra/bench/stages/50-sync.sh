#!/usr/bin/env bash
# Sync engine: the Trackstar client's GET rate on one token against the 10/s bound; a full
# sync of every resource's records per second against bare conditional puts of the same
# items (every kind in its share); an incremental.
source "$(dirname "$0")/../lib.sh"
need_emulator
# BENCH_SYNC_ORDERS (default 1,000: the size of the last complete run).
bench_stage sync --orders "${BENCH_SYNC_ORDERS:-1000}" --products 2000 --inventory 2000 \
  --inbound-shipments 1000 --returns 1000 \
  --changes 500 --floor-puts 10000 --rate-seconds 15 --rate-callers 50
