# The testbed's entry points. `make scenario SCENARIO=<name>` runs one
# scenario end to end; `make test` is what CI runs.

SCENARIO ?= service-crash
GO       ?= go
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test test-short scenario validate list bench lint fmt clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/testbed (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/testbed ./cmd/testbed

test: ## unit and short end-to-end tests, with the race detector
	$(GO) test -race -count=1 -timeout 10m ./...

test-short: ## unit tests only (skips the end-to-end runs)
	$(GO) test -race -short -count=1 ./...

scenario: build ## run one scenario: make scenario SCENARIO=service-crash
	./bin/testbed run $(SCENARIO)

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

clean: ## remove binaries (reports stay)
	rm -rf bin/
