# Packr: local stack and checks. `make dev` runs the system locally (no AWS account, no Docker).
SHELL := bash
.DEFAULT_GOAL := help

CARGO ?= cargo

.PHONY: help venv dev test bench chaos package moto-up moto-down lint-template

help:
	@echo "make dev            run everything locally (moto provisioned from template.yaml + local gateway)"
	@echo "make test           the whole check: fmt, clippy, cfn-lint, every test against a local emulator"
	@echo "make bench          release benchmarks, each figure beside its same-run floor; rewrites BENCHMARKS.md (see README: emulator-bound)"
	@echo "make chaos          the reliability run (~25 min): 10,000 webhooks under duplicates, reordering, Trackstar and AWS faults,"
	@echo "                     a poller killed, a DynamoDB outage; checks DynamoDB against the simulator (CHAOS_SEED=<n>)"
	@echo "make package        sam build of template.yaml for Lambda (arm64, provided.al2023; cargo-lambda + zig, no Docker)"
	@echo "make moto-up        start a background AWS emulator; then: eval \"\$$(infra/scripts/moto.sh env)\""
	@echo "make moto-down      stop it"
	@echo "make lint-template  cfn-lint template.yaml"

venv:
	@bash infra/scripts/venv.sh

dev: venv
	$(CARGO) run --quiet -p packr-local --bin packr-dev

test:
	@bash infra/scripts/test.sh

bench:
	@bash infra/scripts/bench.sh

chaos:
	@bash infra/scripts/chaos.sh

package:
	@bash infra/scripts/package.sh

moto-up: venv
	@infra/scripts/moto.sh start

moto-down:
	@infra/scripts/moto.sh stop

lint-template: venv
	.venv/bin/cfn-lint template.yaml
