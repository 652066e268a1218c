# sessiongw — run `make run` to start the gateway, `make test` to test it.
GO      ?= go
BIN     := bin/sessiongw
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

# Tests use their own schema and Redis prefix on these (see internal/testenv).
export SESSIONGW_TEST_DATABASE_URL ?= postgres://sessiongw:sessiongw@127.0.0.1:5432/sessiongw_test?sslmode=disable
export SESSIONGW_TEST_REDIS_URL    ?= redis://127.0.0.1:6379/0

.PHONY: all build run test test-unit test-short chaos fuzz bench bench-peers vet fmt services clean screenshots client-deps

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sessiongw

## services: install/start local Postgres and Redis and the dev role/databases
services:
	@scripts/dev-services.sh

## run: the gateway on 127.0.0.1:8080 with a demo user, session and curl lines
run: services build
	@scripts/run-demo.sh $(BIN)

## test: vet, then every test (unit and integration) with the race detector
## (the devices-page tests drive Debian's chromium; screenshots go to artifacts/ui)
test: services vet client-deps
	@missing=""; for p in wrk nginx caddy chromium; do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	 [ -z "$$missing" ] || scripts/apt-install.sh $$missing
	$(GO) test -race -count=1 -timeout 8m ./...

## client-deps: what the Node and Python clients' suites need (go test ./clients/ runs them) and
## the devices page's accessibility audit: npm ci in clients/node and internal/ui/testdata (axe-core),
## and FastAPI, httpx, pytest and PyJWT from Debian for Debian's python3 (no Python package index here)
client-deps:
	@command -v node >/dev/null || { echo "make: the Node client's suite needs Node 20 (node)"; exit 1; }
	@for d in clients/node internal/ui/testdata; do \
	  [ $$d/node_modules/.package-lock.json -nt $$d/package-lock.json ] || (cd $$d && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
	done
	@/usr/bin/python3 -c 'import fastapi, httpx, pytest, jwt' 2>/dev/null || \
	 scripts/apt-install.sh python3-fastapi python3-httpx python3-pytest python3-jwt python3-uvicorn

## test-unit: the fast lane: the packages whose tests need no Postgres,
## Redis or other server (the domain with in-memory fakes, the HTTP layer
## with a fake service, config, ...); the test URLs point nowhere to prove it
UNIT_PKGS := ./internal/session/ ./internal/httpapi/ ./internal/config/ ./internal/device/ \
	./internal/activity/ ./internal/ui/ ./internal/ratelimit/ ./internal/faultproxy/ ./internal/metrics/ ./internal/localcache/ ./internal/push/ ./internal/webhook/
test-unit:
	SESSIONGW_TEST_DATABASE_URL='postgres://nobody@127.0.0.1:1/none?connect_timeout=1' \
	SESSIONGW_TEST_REDIS_URL='redis://127.0.0.1:1/0' $(GO) test -race -count=1 $(UNIT_PKGS)

## test-short: the same tests without the race detector
test-short: services client-deps
	$(GO) test -count=1 ./...

## bench: /v1/auth against same-run baselines; writes BENCHMARKS.md (BENCH_DURATION, default 10s each)
bench: services
	@missing=""; for p in wrk nginx; do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	 [ -z "$$missing" ] || scripts/apt-install.sh $$missing
	$(GO) run ./cmd/sessiongw-bench -out BENCHMARKS.md -profile artifacts/profiles
	$(GO) test -run '^$$' -bench . -benchmem ./internal/gateway/ ./internal/session/ ./internal/redis/ ./client/

## bench-peers: oauth2-proxy's /oauth2/auth (pinned version, Redis session store, a local mock OIDC
## provider) beside /v1/auth, direct and through the same nginx; writes its section of BENCHMARKS.md.
## oauth2-proxy is built from the Go module proxy into bin/tools (once), mockidp from tools/mockidp.
OAUTH2_PROXY_VERSION := v7.15.6
TOOLS := $(CURDIR)/bin/tools
bench-peers: services
	@missing=""; for p in wrk nginx; do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	 [ -z "$$missing" ] || scripts/apt-install.sh $$missing
	@$(GO) version -m $(TOOLS)/oauth2-proxy 2>/dev/null | grep -q 'mod.*oauth2-proxy/v7.*$(OAUTH2_PROXY_VERSION)' || \
	 GOBIN=$(TOOLS) $(GO) install github.com/oauth2-proxy/oauth2-proxy/v7@$(OAUTH2_PROXY_VERSION)
	$(GO) build -C tools/mockidp -o $(TOOLS)/mockidp .
	$(GO) run ./cmd/sessiongw-bench -peers -sessions 1000 -tools $(TOOLS) -out BENCHMARKS.md

## screenshots: refresh the README's pictures of the devices page (docs/images)
screenshots: services client-deps
	@command -v chromium >/dev/null || scripts/apt-install.sh chromium
	SESSIONGW_ARTIFACTS=$(CURDIR)/docs/images $(GO) test -count=1 -run '^(TestDevicesPageInABrowser|TestDevicesPageInEveryLanguage)$$' ./internal/gateway/

## chaos: the consistency properties with 10x the trials, and a summary table
chaos: services
	@scripts/chaos.sh

## fuzz: run every fuzz target for FUZZTIME each (default 60s)
FUZZTIME ?= 60s
fuzz: services
	$(GO) test -run '^$$' -fuzz '^FuzzParseToken$$' -fuzztime $(FUZZTIME) ./internal/session/
	$(GO) test -run '^$$' -fuzz '^FuzzNormalizeUser$$' -fuzztime $(FUZZTIME) ./internal/session/
	$(GO) test -run '^$$' -fuzz '^FuzzTokenFrom$$' -fuzztime $(FUZZTIME) ./internal/httpapi/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) ./internal/httpapi/
	$(GO) test -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZTIME) ./internal/gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/redis/

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo 'gofmt: files above need formatting'; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
