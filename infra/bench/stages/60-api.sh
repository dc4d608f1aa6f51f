#!/usr/bin/env bash
# Tenant API: GET /orders with 50 concurrent clients vs a bare Query of the same page; read
# units per API read.
source "$(dirname "$0")/../lib.sh"
need_emulator
bench_stage api --clients 50 --per-client 10
