# One entry point for people and CI. `make test` is what .ci/run calls.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Tests run on a debug build of the extension (fast to compile); `bench` uses release.
DEV_BUILD := MATURIN_PEP517_ARGS="--profile dev"

.PHONY: demo test lint rust-test py-test bench fuzz venv clean

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
	# The fuzz targets (a workspace of their own) keep compiling; running them is `make fuzz`.
	cargo fmt --manifest-path fuzz/Cargo.toml -- --check
	cargo clippy --manifest-path fuzz/Cargo.toml --target-dir target -- -D warnings
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

## fuzz: libFuzzer runs of every fuzz/ target, FUZZ_SECONDS each (not part of `test`:
## installing cargo-fuzz and building the instrumented targets takes minutes; docs/security.md)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := jws jwk claims cache_headers
fuzz:
	cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
	$(PYTHON) fuzz/seeds.py
	# cargo-fuzz passes nightly-only flags (-Zsanitizer=address): the stable toolchain
	# accepts them with RUSTC_BOOTSTRAP=1. --dev: a debug build, like the tests'.
	for target in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz --dev $$target fuzz/corpus/$$target \
			-- -max_total_time=$(FUZZ_SECONDS) -max_len=20000 || exit 1; \
	done

clean:
	rm -rf $(VENV) target
