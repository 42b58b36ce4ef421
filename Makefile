# The Go observability workshop kit. `make help` lists the targets.
SHELL := /bin/bash
MODULES := $(shell go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p')
GO_TEST_FLAGS ?= -race -count=1

.PHONY: help test vet stage1 stage2 stage3 stage4

help: ## list the targets
	@grep -hE '^[a-z0-9 -]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

test: ## run every module's tests with the race detector
	@set -e; for m in $(MODULES); do \
		echo "=== go test $$m"; \
		(cd $$m && go test $(GO_TEST_FLAGS) ./...); \
	done

vet: ## go vet every module
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

stage1 stage2 stage3 stage4: ## run stage N's services on this machine (Ctrl-C stops them)
	@scripts/run-stage.sh $(@:stage%=%)
