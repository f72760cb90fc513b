# Entry points named in the README. Every target sets up what it needs from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1

.PHONY: venv data store store-ci book book-ci test benchmark clean

## The virtual environment with every pinned package and norep (editable).
$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(INSTALLED)

## Fashion-MNIST: found where norep looks, else the Debian package (as root), else downloaded.
data: venv
	@$(BIN)/python -c "from norep.datasets.fashion_mnist import find_fashion_mnist as f; print('Fashion-MNIST:', f())" \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && (apt-get install -y -q dataset-fashion-mnist || (apt-get update -q && apt-get install -y -q dataset-fashion-mnist)); } \
	  || $(BIN)/norep data download

## The mini zoo (resumes: only unfinished models are trained).
store: data
	$(BIN)/norep zoo train zoos/fashion_mnist.yaml --store runs/fashion_mnist

store-ci: data
	$(BIN)/norep zoo train zoos/fashion_mnist_ci.yaml --store runs/fashion_mnist_ci

## The book on the default mini zoo: _build/html/index.html.
book: store
	$(BIN)/norep book build --profile params/default.yaml --output _build

## The book on the CI profile: _build/ci/html/index.html.
book-ci: store-ci
	$(BIN)/norep book build --profile params/ci.yaml --output _build/ci

## Every test: unit, training, importers, the CI-profile book build and the browser check.
test: store-ci
	$(BIN)/python -m pytest

benchmark: venv
	$(BIN)/python benchmarks/pairs_speed.py
	$(BIN)/python benchmarks/ensemble_speed.py

clean:
	rm -rf _build runs/fashion_mnist_ci
