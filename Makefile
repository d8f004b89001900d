# Quick start:  make demo   (set up .venv, run the bundled flow_line scenario, write its report)
#               make test   (set up .venv, lint, run the test suite)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first: 2.13.0 is a CPU build on local disk; a bare "torch" would pull a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shopfloor run flow_line --replications 5 --out out/flow_line --report

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/surrogate.py --studies weld_capacity --points 100 --test-points 40 --active-start 50
	$(BIN)/python -m pip install --quiet -e ".[bench]"   # ctgan, optuna, ortools: the peers
	$(BIN)/python bench/augment.py --rows 20000 --epochs 3
	$(BIN)/python bench/optimize.py --seeds 3 --shares 0.02,0.05   # optuna's TPE beside it
	$(BIN)/python bench/jobshop.py --instances ft06,ft10 --time 60 --robust-time 60   # OR-Tools CP-SAT beside it

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
