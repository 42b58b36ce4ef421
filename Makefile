# The Go observability workshop kit. `make help` lists the targets.
SHELL := /bin/bash
MODULES := $(shell go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p')
GO_TEST_FLAGS ?= -race -count=1

.PHONY: help test test-modules fuzz vet lint gen workshop bench check stage1 stage2 stage3 stage4 class class-load class-image

help: ## list the targets
	@grep -hE '^[a-z0-9 -]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

# The stack's tests (stack-check, in stack/stack.mk) mostly wait: containers
# starting, a real Prometheus scraping. The other modules' tests mostly
# compute. The two run side by side, and each prints its output whole when it ends (--output-sync).
test: ## run every module's tests with the race detector
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-modules stack-check

# The exercise starters fail their own tests on purpose (the learner's work
# makes them pass): they are vetted here, and the workshop module's tests
# prove that each starter fails exactly its exercises' tests.
test-modules:
	@set -e; for m in $(filter-out stack,$(MODULES)); do \
		case $$m in \
		exercises/*) echo "=== go vet $$m (a starter: its tests fail until the exercises are done)"; \
			(cd $$m && go vet ./...) ;; \
		*) echo "=== go test $$m"; (cd $$m && go test $(GO_TEST_FLAGS) ./...) ;; \
		esac; \
	done

# Every `func FuzzX` in the stages, each run on its own (go fuzzes one target
# per package at a time); the seeds in testdata/fuzz/ also run in `make test`.
# FUZZTIME is a count of inputs (1000x), not a duration: a duration races
# Go 1.26's fuzz coordinator, which can then fail a run with a bare "context
# deadline exceeded" and no crasher on a busy machine (go.dev/issue/75804).
# A duration still works for a long local run: make fuzz FUZZTIME=5m.
FUZZTIME ?= 1000x
fuzz: ## fuzz the stages' query parsing and die-spec loader, FUZZTIME (1000x: inputs) per target
	@set -e; for f in $$(grep -l '^func Fuzz' $$(find stages -name '*_test.go' | sort)); do \
		mod=$$(echo $$f | cut -d/ -f1-2); pkg=./$$(dirname $${f#$$mod/}); \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "=== fuzz $$mod $$pkg $$name for $(FUZZTIME)"; \
			(cd $$mod && go test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg); \
		done; \
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

class: ## instructors: open the class room (the board and the class's telemetry) on :8200
	go run ./workshop/cmd/workshop class serve $(CLASS_FLAGS)

# 150 simulated learners against a class server of its own on loopback, for
# 5 minutes (CLASS_LOAD_FLAGS="--for 1m" shortens it). `make test` runs a
# few seconds of it (TestARoomOf150 in workshop/internal/class).
class-load: ## a room of 150 against `workshop class serve` for 5 min: p99 post latency, the server's RSS and CPU
	@go build -o bin/workshop ./workshop/cmd/workshop
	bin/workshop class load $(CLASS_LOAD_FLAGS)

class-image: ## a FROM scratch image `workshop-class` of `workshop class serve` (needs Docker; pulls nothing)
	@mkdir -p bin/class-image
	CGO_ENABLED=0 go build -o bin/class-image/workshop ./workshop/cmd/workshop
	docker build -q -t workshop-class -f workshop/class.Dockerfile bin/class-image
# `make check STAGE=4` runs `workshop check 4` on your exercises/stage4:
# DIR=stages/stage4 checks another module (there: the reference), and
# RUNTIME=local runs it as processes even where Docker is.
check: ## check your stage N: make check STAGE=N [RUNTIME=local] [DIR=stages/stageN]
	@test -n "$(STAGE)" || { echo "make check needs a stage: make check STAGE=4" >&2; exit 2; }
	@go build -o bin/workshop ./workshop/cmd/workshop
	@bin/workshop check $(STAGE) $(DIR) --runtime $(or $(RUNTIME),auto)

stage1 stage2 stage3 stage4: ## run stage N on this machine with the telemetry viewer on :8190 (Ctrl-C stops it)
	@go build -o bin/workshop ./workshop/cmd/workshop
	@bin/workshop up $(@:stage%=%)

include stack/stack.mk
