#!/usr/bin/env bash
# DynamoDB units per webhook event, computed as DynamoDB bills them from the recorded
# requests (moto's ConsumedCapacity is a constant): 1,000 events at 50/s of orders,
# inventory and products; then 300 events of each kind alone (orders, inbound shipments,
# receipts, returns, warehouses, shipping methods, bills, ...) beside an order's.
source "$(dirname "$0")/../lib.sh"
need_emulator
bench_stage units --events "${BENCH_UNITS_EVENTS:-1000}" --rate 50 --concurrency 4 \
  --kind-events "${BENCH_UNITS_KIND_EVENTS:-300}" --inbound-and-returns 1000
