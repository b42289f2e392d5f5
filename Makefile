# facecast: `make demo` and `make test` create the environment from nothing.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: env demo test lint bench clean browser

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser test will be skipped"

DEMO_OUT := demo_out
DEMO_REFS := --ref tests/data/faces/london/006/neutral.jpg --ref tests/data/faces/london/006/smiling.jpg

demo: env
	$(BIN)/facecast character create $(DEMO_OUT)/london-006 $(DEMO_REFS) \
		--consent examples/consent_london_006.toml --name "London 006" --overwrite
	$(BIN)/facecast swap tests/data/plates/tears_of_steel_10s.mp4 \
		--character $(DEMO_OUT)/london-006 -o $(DEMO_OUT)/tears_of_steel_swapped.mp4 \
		--matte $(DEMO_OUT)/tears_of_steel_matte.mp4 --layer $(DEMO_OUT)/tears_of_steel_layer \
		--report $(DEMO_OUT)/report

test: env browser
	$(BIN)/python -m pytest -q

lint: env
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

bench: env
	$(BIN)/python benchmarks/analyze.py
	$(BIN)/python benchmarks/swap.py
	$(BIN)/python benchmarks/watermark.py
	$(BIN)/python benchmarks/sequences.py
	$(BIN)/python benchmarks/quality.py --frames 60

clean:
	rm -rf $(VENV) build *.egg-info
