#!/usr/bin/env bash
# Webhook ingest's ack at the function URL vs a bare SQS SendMessage of the same body, and
# ingest's CPU time per event (BENCH_INGEST_EVENTS, default 1000, at 100/s in 4 rounds);
# then the CPU time of refused requests (unsigned, stale, bad signature, oversize:
# BENCH_INGEST_REJECTIONS of each, default 1000) vs the signature check of an accepted one.
source "$(dirname "$0")/../lib.sh"
need_emulator
bench_stage ingest --events "${BENCH_INGEST_EVENTS:-1000}" --rounds 4 --rate 100 \
  --rejections "${BENCH_INGEST_REJECTIONS:-1000}"
