PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install -q -e . --group dev
	touch $(STAMP)

# The async guard is tested with aiobotocore and with aioboto3, each of which pins its own
# botocore: one environment each, beside the main one. aioboto3 pins aiobotocore 2.25, the
# lowest the package declares: the aiobotocore suites run there too.
AIO_VENVS := .venv-aio .venv-aioboto3
AIO_GROUP_.venv-aio := aio-tests
AIO_GROUP_.venv-aioboto3 := aioboto3-tests
AIO_TESTS_.venv-aio := tests/aio/test_aiobotocore.py tests/aio/test_aio_edges.py
AIO_TESTS_.venv-aioboto3 := tests/aio/test_aioboto3.py $(AIO_TESTS_.venv-aio)

$(AIO_VENVS:%=%/.installed): %/.installed: pyproject.toml
	$(PYTHON) -m venv $*
	$*/bin/python -m pip install -q --upgrade 'pip>=25.1'
	$*/bin/python -m pip install -q -e . --group $(AIO_GROUP_$*)
	touch $@

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check rds_guard tests examples bench
	$(BIN)/ruff format --check rds_guard tests examples bench
	$(BIN)/mypy --strict rds_guard

# Coverage of rds_guard, branches included, also in the subprocesses the tests start:
# coverage's patch = ["subprocess"] reaches those that inherit the environment, and
# tools/coverage_subprocess.pth those started with an environment of their own (the AWS CLI,
# the rds-guard script), through a marker naming the pytest process and the coverage config.
COVERAGE_MARK := $(VENV)/coverage-subprocess
COVERAGE_HOOK := $(VENV)/.coverage-hook

$(COVERAGE_HOOK): $(STAMP) tools/coverage_subprocess.pth
	cp tools/coverage_subprocess.pth "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/rds_guard_coverage_subprocess.pth"
	touch $@

test: $(STAMP) $(COVERAGE_HOOK) $(AIO_VENVS:%=%/.installed) lint
	rm -f .coverage .coverage.*
	config=$$($(BIN)/python -c 'import coverage; print(coverage.Coverage().config.serialize())') && \
	sh -c 'echo $$$$ "$$1" > $(COVERAGE_MARK) && exec $(BIN)/coverage run -m pytest -q' sh "$$config"; \
	status=$$?; rm -f $(COVERAGE_MARK); exit $$status
	$(foreach venv,$(AIO_VENVS),$(venv)/bin/coverage run -m pytest -q $(AIO_TESTS_$(venv)) &&) true
	$(BIN)/coverage combine -q
	$(BIN)/coverage report --fail-under=90

# The report goes to .bench/benchmarks.md (ignored by git); bench-docs rewrites
# docs/benchmarks.md. The async path runs in .venv-aio (aiobotocore pins its own botocore).
bench: $(STAMP) .venv-aio/.installed
	$(BIN)/python bench/run.py

bench-docs: $(STAMP) .venv-aio/.installed
	$(BIN)/python bench/run.py --update-docs

clean:
	rm -rf $(VENV) $(AIO_VENVS) build *.egg-info
