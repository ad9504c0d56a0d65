# tandem: make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/tandem
STACK := deploy/local/stack.sh
export TANDEM_STATE ?= $(CURDIR)/.state
# The connection settings of the local stack, for the integration tests.
export TANDEM_TEST_PG_DSN ?= postgres://tandem:tandem@127.0.0.1:55432/tandem
export TANDEM_TEST_MYSQL_DSN ?= tandem:tandem@tcp(127.0.0.1:53306)/tandem
export TANDEM_TEST_KAFKA ?= 127.0.0.1:59092
export TANDEM_TEST_REGISTRY ?= http://127.0.0.1:58081/apis/ccompat/v7
STATICCHECK_VERSION := v0.8.2

.PHONY: help build test unit integration soak up down status demo bench bench-full lint docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build bin/tandem
	$(GO) build -o $(BIN) ./cmd/tandem

test: up ## start the local stack, then run unit and integration tests
	$(MAKE) --no-print-directory unit integration

unit: ## unit tests only (no services needed)
	$(GO) test -race -count=1 ./...

integration: ## integration tests against the running local stack
	$(GO) test -tags integration -count=1 -p 1 -timeout 25m -run 'Integration' ./...

soak: up ## the chaos test for five minutes: traffic on both sides, kill -9 at random, a Kafka restart, then no drift (TANDEM_CHAOS_DURATION=10m for longer)
	TANDEM_CHAOS_DURATION=$${TANDEM_CHAOS_DURATION:-5m} $(GO) test -tags integration -count=1 -v -timeout 60m -run '^TestIntegrationE2EChaos$$' ./cmd/tandem/

up: ## install what is missing and start PostgreSQL, MariaDB, Kafka and the registry
	bash $(STACK) up

down: ## stop the local stack
	bash $(STACK) down

status: ## show the local stack
	bash $(STACK) status

demo: build up ## set up everything and run the live demo (WooCommerce shop <-> Odoo ERP) until Ctrl-C; DEMO_ARGS="--duration 60s" bounds it
	./$(BIN) demo --config deploy/examples/woocommerce-odoo.yaml $(DEMO_ARGS)

MODE ?= quick
bench: up ## run every benchmark against the local stack (quick, < 3 min; MODE=full for longer) into bench/results/<date>.{txt,md,svg}
	GO=$(GO) bash bench/run.sh $(MODE)

bench-full: up ## the benchmarks with bigger workloads and more runs (make bench MODE=full)
	GO=$(GO) bash bench/run.sh full

lint: ## gofmt, go vet and staticcheck
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	@command -v staticcheck >/dev/null || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	"$$(command -v staticcheck || echo $$($(GO) env GOPATH)/bin/staticcheck)" ./...

docs: build ## regenerate the configuration reference and the preset's diagram in README.md
	@./$(BIN) config reference > .state.ref.md && python3 -c 'import re,sys; r=open("README.md").read(); ref=open(".state.ref.md").read(); s="<!-- config-reference:start -->\n"; e="<!-- config-reference:end -->"; i=r.index(s)+len(s); j=r.index(e); open("README.md","w").write(r[:i]+ref+r[j:])' && rm -f .state.ref.md
	@./$(BIN) diagram --config deploy/examples/woocommerce-odoo.yaml --format mermaid > .state.dia.md && python3 -c 'r=open("README.md").read(); d=open(".state.dia.md").read(); s="<!-- preset-diagram:start -->\n"; e="<!-- preset-diagram:end -->"; i=r.index(s)+len(s); j=r.index(e); open("README.md","w").write(r[:i]+"```mermaid\n"+d+"```\n"+r[j:])' && rm -f .state.dia.md

clean: ## remove build output (not the stack's state)
	rm -rf bin
