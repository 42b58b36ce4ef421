# The Go observability workshop kit. `make help` lists the targets.
SHELL := /bin/bash
MODULES := $(shell go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p')
GO_TEST_FLAGS ?= -race -count=1

.PHONY: help test vet lint gen workshop bench stage1 stage2 stage3 stage4

help: ## list the targets
	@grep -hE '^[a-z0-9 -]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

test: ## run every module's tests with the race detector
	@set -e; for m in $(MODULES); do \
		echo "=== go test $$m"; \
		(cd $$m && go test $(GO_TEST_FLAGS) ./...); \
	done

vet: ## go vet every module
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

lint: vet ## go vet, gofmt and staticcheck on every module
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt: the files above need formatting"; exit 1; }
	@command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	@# The exercise starters leave helpers unused on purpose: the learner writes the calls.
	@set -e; for m in $(filter-out exercises/%,$(MODULES)); do (cd $$m && PATH="$$PATH:$$(go env GOPATH)/bin" staticcheck ./...); done

gen: ## regenerate exercises/ and solutions/ from the marked regions in stages/
	cd workshop && GOWORK=off go run ./cmd/workshop gen

workshop: ## build the workshop CLI into ./bin/workshop
	go build -o bin/workshop ./workshop/cmd/workshop

bench: ## measure stage 4 here: sync vs async, telemetry overhead, footprint (see BENCHMARKS.md)
	go run ./workshop/cmd/workshop bench 4

stage1 stage2 stage3 stage4: ## run stage N on this machine with the telemetry viewer on :8190 (Ctrl-C stops it)
	@go build -o bin/workshop ./workshop/cmd/workshop
	@bin/workshop up $(@:stage%=%)
