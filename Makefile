# fluxheim — build, test, lint, fuzz and benchmark entry points.
#
#   make build [FEATURES=tls-go-fips,acme]   bin/fluxheim + bin/fluxheim-config-tester
#   make run                                  build, then run with the embedded default config
#   make test                                 install test tools, then every test with -race
#   make test-short                           -short tests with -race, no installs
#   make lint                                 gofmt + go vet
#   make fuzz [FUZZTIME=20s]                  every Fuzz target, FUZZTIME each
#   make bench                                install bench tools, run scripts/bench.sh and scripts/bench-reload.sh
#   make bench-reload                         only the reload-under-load run (scripts/bench-reload.sh)
#   make clean

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

GO       ?= go
FEATURES ?=
FUZZTIME ?= 20s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
ifeq ($(strip $(VERSION)),)
VERSION := dev
endif

MODULE   := github.com/fluxheim/fluxheim
LDFLAGS  := -X $(MODULE)/shared/version.Version=$(VERSION)
BIN_DIR  := bin
COMMANDS := fluxheim fluxheim-config-tester
TEST_TIMEOUT ?= 20m

# Tools installed with `go install` (pebble, caddy) live in GOBIN or GOPATH/bin;
# tests and the bench look them up on PATH.
GO_BIN_DIR := $(or $(shell $(GO) env GOBIN 2>/dev/null),$(shell $(GO) env GOPATH 2>/dev/null)/bin)
export PATH := $(GO_BIN_DIR):$(PATH)

.PHONY: all build run test test-short bench bench-reload lint fuzz clean help

all: build

## build: bin/fluxheim and bin/fluxheim-config-tester (FEATURES selects a build profile)
build:
	@tags=""; \
	if [[ -n "$(strip $(FEATURES))" ]]; then \
	  tags="$$(scripts/validate-features.sh "$(FEATURES)")" || { \
	    echo "make build: FEATURES=\"$(FEATURES)\" rejected by scripts/validate-features.sh" >&2; exit 1; }; \
	  tags="$$(printf '%s' "$$tags" | tr -d ' \t\r\n')"; \
	fi; \
	fips=""; \
	case ",$$tags," in *,fh_tls_go_fips,*) fips=v1.0.0 ;; esac; \
	mkdir -p $(BIN_DIR); \
	echo "build: version=$(VERSION) tags=[$$tags]$${fips:+ GOFIPS140=$$fips}"; \
	for cmd in $(COMMANDS); do \
	  env $${fips:+GOFIPS140=$$fips} $(GO) build -trimpath -tags "$$tags" \
	    -ldflags "$(LDFLAGS)" -o $(BIN_DIR)/$$cmd ./cmd/$$cmd; \
	done

## run: build, then serve the embedded default config (demo page on 127.0.0.1:8080)
run: build
	exec ./$(BIN_DIR)/fluxheim

## test: install the external test tools, then unit + integration tests with -race
test:
	scripts/install-test-deps.sh
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	# Examples and config rules of the optional modules (php-fpm, acme-client, ...).
	$(GO) test -race -count=1 -tags "$$(scripts/validate-features.sh profile-development)" ./etc/ ./shared/config/ ./worker/server/

## test-short: tests with -race and -short, no installs (slow/external-tool tests skip)
test-short:
	$(GO) test -race -short -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: install nginx, wrk, hyperfine, Caddy; run scripts/bench.sh (one table), then scripts/bench-reload.sh
bench:
	scripts/install-bench-deps.sh
	scripts/bench.sh
	scripts/bench-reload.sh

## bench-reload: wrk against fluxheim (and nginx) during 20 reloads: requests, non-2xx, socket errors
bench-reload:
	scripts/install-bench-deps.sh
	scripts/bench-reload.sh

## lint: gofmt -l must be empty, go vet must pass
lint:
	@unformatted="$$(gofmt -l .)"; \
	if [[ -n "$$unformatted" ]]; then \
	  echo "gofmt: these files need formatting (run gofmt -w):" >&2; \
	  echo "$$unformatted" >&2; exit 1; \
	fi
	$(GO) vet ./...
	$(GO) vet -tags "$$(scripts/validate-features.sh profile-development)" ./...

## fuzz: run every Fuzz target for FUZZTIME each
fuzz:
	@listing="$$($(GO) test -list '^Fuzz' ./...)"; \
	targets="$$(printf '%s\n' "$$listing" | awk ' \
	  /^Fuzz/ { names[n++] = $$1; next } \
	  /^ok[ \t]/ { for (i = 0; i < n; i++) print $$2, names[i]; n = 0; next } \
	  { n = 0 }')"; \
	if [[ -z "$$targets" ]]; then echo "fuzz: no Fuzz targets found"; exit 0; fi; \
	while read -r pkg name; do \
	  echo "== fuzz $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime "$(FUZZTIME)" "$$pkg"; \
	done <<< "$$targets"

## clean: remove build outputs
clean:
	rm -rf $(BIN_DIR)

## help: list targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
