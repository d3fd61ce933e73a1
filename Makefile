# flowbin: `make run` starts the server on the embedded SQLite default; `make test` runs every test.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
BIN      := bin/flowbin
PG_URL   ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
# Development credentials of `make run` (bound to 127.0.0.1). The binary alone makes a random password instead.
FLOWBIN_ADMIN_PASSWORD ?= flowbin

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: generate
generate: ## regenerate gen/ from openapi.yaml
	$(GO) generate ./gen/...

.PHONY: build
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

build: ## build bin/flowbin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.versionString=$(VERSION)" -o $(BIN) ./cmd/flowbin

.PHONY: run
# SIP of `make run`: calls to 127.0.0.1:5060 (a softphone on this machine; see the README).
FLOWBIN_SIP_ADDR ?= 127.0.0.1:5060

run: build ## build and serve on 127.0.0.1:8080 with the embedded SQLite database (./flowbin.db), and SIP on 127.0.0.1:5060
	FLOWBIN_ADMIN_PASSWORD='$(FLOWBIN_ADMIN_PASSWORD)' FLOWBIN_SIP_ADDR='$(FLOWBIN_SIP_ADDR)' ./$(BIN)

# The race detector needs cgo and a C compiler; without one, tests run without it (and say so).
RACE := $(shell command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

# gotestsum runs go test and ends with a summary: every failed test, and every skipped one with its reason.
GOTESTSUM ?= gotest.tools/gotestsum@v1.13.0

# What the tests need beyond Go and PostgreSQL: the Swagger UI test drives Debian's Chromium; the README's
# tutorial runs curl and jq; the documented webhook receiver runs openssl; the SIP runner's tests call real
# peers (SIPp, baresip, espeak-ng, sox, Kamailio). With CI=true, make test installs what is missing first (as .ci/run does).
.PHONY: test-deps
test-deps: ## install what the tests need beyond Go (Chromium and its driver, curl, jq, openssl, the SIP peers) with apt-get
	@missing=(); command -v chromium >/dev/null || missing+=(chromium chromium-driver); \
	for tool in curl jq openssl; do command -v $$tool >/dev/null || missing+=($$tool); done; \
	for pair in sipp:sip-tester baresip:baresip-core espeak-ng:espeak-ng sox:sox kamailio:kamailio; do \
		command -v $${pair%%:*} >/dev/null || missing+=($${pair#*:}); done; \
	if (($${#missing[@]})); then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); echo "installing $${missing[*]}"; \
		$$sudo apt-get install -y -qq "$${missing[@]}" >/dev/null 2>&1 || \
			{ $$sudo apt-get update -qq && $$sudo apt-get install -y -qq "$${missing[@]}"; }; \
	fi

.PHONY: test
test: $(if $(filter true,$(CI)),test-deps) ## every test, with the race detector, on SQLite and PostgreSQL; with CI=true, installs what they need first
	@[ -n "$(RACE)" ] || echo "note: no C compiler ($$($(GO) env CC)); running without the race detector"
	@[ "$(CI)" = true ] || echo "note: CI is not true: tests whose tools are missing (Chromium, curl, jq, openssl) or whose PostgreSQL is down are skipped, and listed at the end; make test-deps installs the tools"
	@# ./server/ first: the longest package (about 7 minutes under the race detector) starts at once, and the others
	@# run beside it, instead of it starting last, after them.
	FLOWBIN_TEST_POSTGRES_URL='$(PG_URL)' $(GO) run $(GOTESTSUM) --format pkgname -- \
		$(RACE) -count=1 -timeout 15m ./server/ ./...

.PHONY: console
console: ## rebuild the console (console/dist, committed) from console/src with the pinned npm tools
	cd console && npm ci --no-audit --no-fund && npm run build

.PHONY: console-check
console-check: console ## fail when the committed console/dist differs from a fresh build
	@test -z "$$(git status --porcelain -- console/dist)" || { git status --short -- console/dist; \
		echo "console/dist is stale: run make console and commit it"; exit 1; }

.PHONY: test-sdk
test-sdk: ## type-check and run a TypeScript client (openapi-typescript + openapi-fetch) against a fresh server
	bash sdk/ts/run.sh

.PHONY: test-mcp
test-mcp: ## run the MCP conformance suite (expected failures: sdk/mcp/expected-failures.txt) and a TypeScript MCP client against a fresh server
	bash sdk/mcp/run.sh

FUZZTIME ?= 30s
.PHONY: fuzz
fuzz: ## fuzz flow decoding and validation for FUZZTIME (30s), starting from the committed corpus
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./flow/

.PHONY: check
check: ## fail when gen/ is stale, or gofmt or go vet complain
	$(GO) generate ./gen/...
	git diff --exit-code -- gen/ || { echo "gen/ is stale: run make generate and commit it"; exit 1; }
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt would change the files above"; exit 1; }
	$(GO) vet ./...

REDOCLY ?= npx --yes @redocly/cli@2.77.0

# staticcheck is pinned as a tool in go.mod (go get -tool honnef.co/go/tools/cmd/staticcheck@vX), so every
# machine runs the same version with the same default checks; it covers tests and gen/ too.
.PHONY: lint
lint: check ## check, staticcheck (pinned in go.mod), validate openapi.yaml (kin-openapi, then Redocly's recommended rules) and docker-compose.yml
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 -run 'TestSpec' .
	$(REDOCLY) lint --format=stylish openapi.yaml
	@if command -v docker-compose >/dev/null; then docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"; \
	else echo "note: docker-compose is not installed; docker-compose.yml not checked"; fi

.PHONY: bench
bench: ## compare flowbin with pgbench on a fresh local PostgreSQL database, then the calls bench (SIPp); reports and chart in bench/results/ (BENCH_DURATION, BENCH_SOAK, BENCH_SIP_CALLS)
	@{ pgbench --version && pg_isready --version; } >/dev/null 2>&1 || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get install -y postgresql-contrib || { $$sudo apt-get update && $$sudo apt-get install -y postgresql-contrib; }; }
	@pg_isready -q -h 127.0.0.1 || { sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; }
	$(GO) run ./bench
	$(GO) run ./bench sip

GOVULNCHECK ?= golang.org/x/vuln/cmd/govulncheck@v1.1.4

.PHONY: vulncheck
vulncheck: ## scan the module for known vulnerabilities (needs https://vuln.go.dev)
	$(GO) run $(GOVULNCHECK) ./...

.PHONY: clean
clean: ## remove build output
	rm -rf bin
