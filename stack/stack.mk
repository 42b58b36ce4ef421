# The Docker observability stack (stack/) and the stages as containers joined
# to it. The main Makefile includes this file; `make help` lists its targets.
# See stack/README.md.

# `docker compose` (the plugin) when it works, else docker-compose (v1).
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# The network the stack and the stages share; the compose files read it too.
O11Y_NETWORK ?= o11y-workshop
export O11Y_NETWORK
GO_TEST_FLAGS ?= -race -count=1
STACK_FILE ?= stack/compose.yaml
STACK_COMPOSE = $(COMPOSE) -f $(STACK_FILE)

.PHONY: stack stack-down stack-pull stack-check stack-prom stack-network stage1-docker stage2-docker stage3-docker stage4-docker

# Both the stack and the stages join this network as an external one, so
# either can start first.
ENSURE_NETWORK = docker network inspect $(O11Y_NETWORK) >/dev/null 2>&1 || docker network create $(O11Y_NETWORK) >/dev/null
stack-network:
	@$(ENSURE_NETWORK)

# The pinned images of the stack that this machine does not have. `docker
# compose config --images` is not in docker-compose v1, so they are read from
# the resolved file. Expanded only when `make stack` runs.
STACK_MISSING_IMAGES = $(shell for i in $$($(STACK_COMPOSE) config 2>/dev/null | sed -n 's/^ *image: *//p' | tr -d "\"'" | sort -u); do \
	docker image inspect "$$i" >/dev/null 2>&1 || echo "$$i"; done)
DOCKER_ANSWERS = $(shell docker info --format '{{.ServerVersion}}' >/dev/null 2>&1 && echo yes)

# Without the images, `up` would create the volumes, then fail on a pull with
# a registry error. make expands the whole recipe before running it, so these
# checks stop it before anything is created.
stack: ## start the Docker stack: Grafana :3000, Prometheus :9090, Alloy OTLP :4318 (stack/README.md)
	$(if $(DOCKER_ANSWERS),,$(error make stack: no Docker engine answers: start Docker (or set DOCKER_HOST) and try again))
	$(if $(STACK_MISSING_IMAGES),$(error make stack: $(words $(STACK_MISSING_IMAGES)) pinned image(s) not on this machine ($(STACK_MISSING_IMAGES)): run `make stack-pull` first, on good wifi (over a gigabyte)))
	@$(ENSURE_NETWORK)
	$(STACK_COMPOSE) up -d
	@echo "Grafana    http://localhost:$${GRAFANA_PORT:-3000}  (dashboards: Go observability workshop)"
	@echo "Prometheus http://localhost:$${PROMETHEUS_PORT:-9090}"
	@echo "Now run a stage in containers: make stage4-docker"

stack-down: ## stop the Docker stack and delete its data (stage containers keep running)
	$(STACK_COMPOSE) down -v --remove-orphans

stack-pull: ## pull every pinned image of the Docker stack (the day before the workshop)
	$(STACK_COMPOSE) pull

# EXERCISE=1 runs the learner's exercises/stageN instead of the reference.
DOCKER_TREE = $(if $(EXERCISE),exercises,stages)

# `workshop pack N DIR` writes DIR/bin: the services and the healthcheck probe
# built for the Docker engine's architecture, and the workshop's Dockerfile
# (the same recipe as the containers of `workshop check`).
stage1-docker stage2-docker stage3-docker stage4-docker: stack-network workshop ## run stage N as containers joined to the stack (EXERCISE=1: your code; Ctrl-C stops it)
	bin/workshop pack $(@:stage%-docker=%) $(DOCKER_TREE)/$(@:-docker=)
	$(COMPOSE) -f $(DOCKER_TREE)/$(@:-docker=)/compose.yaml up --build

stack-check: ## test the stack: a real Prometheus runs every dashboard query against the stages in Docker; configs, correlation links
	@echo "=== go test stack"; cd stack && go test $(GO_TEST_FLAGS) -timeout 30m ./...

stack-prom: ## build the real Prometheus 3.5.0 the stack's tests run, into the user cache (once per machine: minutes)
	go run ./stack/cmd/prombuild
