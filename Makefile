# The testbed's entry points. `make scenario SCENARIO=<name>` runs one
# scenario end to end; `make test` is what CI runs.

SCENARIO ?= service-crash
GO       ?= go
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

JAEGER_VERSION ?= v1.76.0

.PHONY: all build test test-short test-integration scenario paper validate list bench lint fmt clean help tools

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/testbed (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/testbed ./cmd/testbed

test: ## unit and short end-to-end tests, with the race detector
	$(GO) test -race -count=1 -timeout 10m ./...

test-short: ## unit tests only (skips the end-to-end runs)
	$(GO) test -race -short -count=1 ./...

scenario: build ## run one scenario: make scenario SCENARIO=service-crash [ARCHS=eda,monolith,monolith-ha,sync-services] [RUNTIME=docker]
	./bin/testbed run $(if $(ARCHS),--archs $(ARCHS)) $(if $(RUNTIME),--runtime $(RUNTIME)) $(SCENARIO)

test-integration: ## the docker runtime end to end, logs into the real Elasticsearch image (each skips, saying why, without Docker or the image)
	TESTCONTAINERS_RYUK_DISABLED=true $(GO) test -race -count=1 -timeout 15m -tags integration -run 'TestDockerRuntime|TestElasticsearchShip' -v ./internal/run/ ./internal/logship/

# The paper's suite within 10 minutes on a 2-CPU machine: each run's
# measured period cut from 60 s to 30 s (warm-up, drain and fault times
# scale with it; the report says so), and a capacity search for Table 1
# first, each probe held 3 s. 11 min 33 s with 40 s runs and 5 s probes.
PAPER_FLAGS ?= --repeats 3 --duration 30s --capacity measure --capacity-step 3s

paper: build ## the paper's suite: 4 scenarios x 3 repeats, statistics, Tables 1-2, Figure 7 (under 10 min)
	./bin/testbed suite paper $(PAPER_FLAGS)

validate: build ## check every scenario file
	./bin/testbed validate scenarios/*.yaml

list: build ## list scenarios and allowed values
	./bin/testbed list

bench: build ## loadgen and accept-path benchmarks
	$(GO) test -run '^$$' -bench . ./internal/loadgen/
	./bin/testbed bench

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo 'gofmt: run make fmt'; exit 1)
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fmt: ## format the code
	gofmt -w .

tools: bin/jaeger ## build Jaeger v2 from its Go module into bin/ (cached; about 5 minutes the first time)

# Jaeger's module carries replace directives, so `go install` refuses it;
# building inside a copy of the downloaded module works.
bin/jaeger:
	@mkdir -p bin
	@set -e; dir=$$($(GO) mod download -json github.com/jaegertracing/jaeger@$(JAEGER_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir" || { echo "make tools: could not download github.com/jaegertracing/jaeger@$(JAEGER_VERSION)" >&2; exit 1; }; \
	tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	cp -r "$$dir" "$$tmp/jaeger"; chmod -R u+w "$$tmp/jaeger"; \
	echo "building jaeger $(JAEGER_VERSION) (first time: several minutes)"; \
	cd "$$tmp/jaeger" && CGO_ENABLED=0 $(GO) build -trimpath -o "$(CURDIR)/bin/jaeger" ./cmd/jaeger
	@./bin/jaeger version 2>/dev/null | head -1 || true

clean: ## remove binaries (reports stay)
	rm -rf bin/
