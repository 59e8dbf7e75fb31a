# One entry point for people and CI. `make test` is what .ci/run calls.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Tests run on a debug build of the extension (fast to compile); `bench` uses release.
DEV_BUILD := MATURIN_PEP517_ARGS="--profile dev"

.PHONY: demo test lint rust-test py-test bench venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

## demo: install jwkscache and run `jwkscache demo` (the quick start)
demo: venv
	$(BIN)/pip install --quiet ".[testing]"
	$(BIN)/jwkscache demo

## test: install the test extras and run every check (Rust and Python)
test: venv
	$(DEV_BUILD) $(BIN)/pip install --quiet -e ".[test]"
	$(MAKE) lint rust-test py-test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p jwkscache-core --all-targets --no-default-features --features ring -- -D warnings
	# The bindings keep compiling for free-threaded CPython 3.14t (no interpreter needed;
	# not shipped: docs/performance.md says why). On ring: the backend does not matter
	# here, and ring builds in half the time of aws-lc in this second target dir.
	PYO3_CONFIG_FILE=$(CURDIR)/.ci/pyo3-free-threaded-3.14.txt CARGO_TARGET_DIR=target/free-threaded \
		cargo clippy -p jwkscache-python --no-default-features --features ring -- -D warnings
	$(BIN)/ruff check python tests benchmarks
	$(BIN)/ruff format --check python tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest jwkscache._core --allowlist stubtest-allowlist.txt

rust-test:
	cargo test --workspace
	cargo test -p jwkscache-core --no-default-features --features ring

py-test:
	$(BIN)/python -m pytest

## bench: release build, then the benchmark (one process, interleaved rounds)
bench: venv
	$(BIN)/pip install --quiet ".[test,bench]"
	$(BIN)/python benchmarks/bench_decode.py
	$(BIN)/python benchmarks/bench_jwks_client.py
	$(BIN)/python benchmarks/bench_algorithms.py
	$(BIN)/python benchmarks/bench_frameworks.py

clean:
	rm -rf $(VENV) target
