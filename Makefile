# animgraph: `make demo` runs the main job, `make test` runs lint and the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit e2e install deps clean lock upgrade

# Every dependency comes from the lock (uv.lock, exported with hashes to requirements/ by
# scripts/lock.sh): a fresh clone installs what passed CI, whatever was released since.
# animgraph itself is built by the locked setuptools, without build isolation.
EDITABLE := $(BIN)/pip install --quiet --no-deps --no-build-isolation -e . \
	--config-settings editable_mode=strict

$(STAMP): pyproject.toml requirements/build.txt requirements/dev.txt workers/media/_gifcore.c
	bash scripts/ensure-build-tools.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/build.txt
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(EDITABLE)
	touch $(STAMP)

# Re-link the editable install so files added since the last install are importable.
install: $(STAMP)
	@$(EDITABLE)

# After editing pyproject.toml's dependencies: resolve what changed, keep every other pin.
lock: install
	bash scripts/lock.sh lock

# Take upgrades: the newest versions pyproject.toml allows (`make upgrade PACKAGES="celery
# kombu"`: those only), then `make test` and commit uv.lock with requirements/.
upgrade: install
	bash scripts/lock.sh upgrade $(PACKAGES)

# System packages the tests need (Debian's chromium for the console's browser tests, rabbitmq-server
# for the RabbitMQ broker tests).
deps: install
	bash scripts/install-test-deps.sh

demo: install
	@mkdir -p out
	$(BIN)/animgraph run tests/data/cockatoo.mp4 --definition 20000 --definition 20001 \
		--start 2 --end 5 --output-dir out --event-file out/event.json

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p animgraph.shared -p animgraph.workers -p animgraph.producer

unit: install
	$(BIN)/pytest -m "not e2e" -q

e2e: deps
	$(BIN)/pytest -m e2e -q

test: deps lint
	$(BIN)/pytest -q -ra

clean:
	rm -rf build out var .mypy_cache .ruff_cache .pytest_cache

# Benchmark against the reference tools (installs them first): writes bench/README.md and plots.
.PHONY: bench
bench: install
	bash bench/setup.sh
	$(BIN)/python bench/latency.py --json bench/latency.json
	$(BIN)/python bench/scale.py --only-efficiency --markdown bench/EFFICIENCY.md
	$(BIN)/python bench/run.py
	$(BIN)/python bench/formats.py

# Scale and memory benchmarks (issue 8): throughput 1 vs 2 workers, overhead vs a bare chord,
# worker peak RSS on a 1080p source; results go in bench/SCALE.md by hand.
.PHONY: bench-scale
bench-scale: install
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/memory.py

# compose.yaml run for real (issue 21): a Docker engine (started if none answers), the image,
# the stack with two workers, one GIF through the official SDK, three workers, down -v. Takes
# minutes and a Docker engine, so it is not part of `make test`; see README "Containers".
.PHONY: compose-test
compose-test: install
	bash scripts/compose-test.sh
