#!/usr/bin/env bash
# Cost model: AWS cost per 1M webhooks and per 1M API reads from the other stages' JSON in
# $BENCH_OUT (a stage that did not run is shown as "not measured in this run"), beside a
# reference design (Node.js, Powertools-style idempotency). Needs no emulator.
source "$(dirname "$0")/../lib.sh"
bench_stage cost --template template.yaml
