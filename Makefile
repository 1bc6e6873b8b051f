# The two commands of the README: `make run` (install + start) and `make test` (install + tests).
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

# llama.cpp built for any x86-64 with AVX2, not for the build machine (-march=native): a native
# build on a CPU that reports AMX crashes in ggml's AMX kernels where the kernel or hypervisor
# does not grant the AMX tile state (seen here: a segfault on the first prompt).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: install run test lint typecheck bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch first, pinned to the CPU wheel: a looser pin would pull a multi-GB CUDA build.
install: $(BIN)/python
	@# llama-cpp-python compiles once (about 12 min on 2 cores); pip caches the wheel.
	$(PIP) install --quiet torch==2.13.0
	CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet -e ".[dev]"
	$(BIN)/python -m rag.setup_models

# The launcher is `streamlit run app.py` that first hands RAG_OIDC_* sign-in settings to
# Streamlit (README: Sign-in); without them it is exactly that command.
run: install
	$(BIN)/python -m rag.ui.launch --server.port 8501 --server.headless true

# The whole check: lint, types, then every test (the slowest 25 listed at the end).
test: install
	$(BIN)/ruff check rag tests app.py benchmarks
	$(BIN)/python -m mypy rag
	$(BIN)/python -m pytest -q --durations=25

lint:
	$(BIN)/ruff check rag tests app.py benchmarks

# mypy over rag/ (config: [tool.mypy] in pyproject.toml); a few minutes cold, seconds warm.
typecheck:
	$(BIN)/python -m mypy rag

bench: install
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache
