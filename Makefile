# Entry points named in the README. Every target sets up what it needs from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1

.PHONY: venv data mathjax store store-ci book book-ci test benchmark clean

## The virtual environment with every pinned package and norep (editable).
$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(INSTALLED)

## Install Debian package $(1) as root (apt-get update first when the lists lack it).
apt_install = [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	&& { DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1) \
	     || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1); }; }

## Fashion-MNIST: found where norep looks (one line when not), else the Debian package
## (as root), else downloaded.
data: venv
	@$(BIN)/norep data path \
	  || { $(call apt_install,dataset-fashion-mnist); } \
	  || $(BIN)/norep data download

## MathJax 2 for offline math in the book: Debian's libjs-mathjax (as root), or any
## MathJax 2 folder named by NOREP_MATHJAX.
export NOREP_MATHJAX ?= /usr/share/javascript/mathjax
mathjax:
	@[ -f "$(NOREP_MATHJAX)/MathJax.js" ] \
	  || { echo "installing MathJax"; $(call apt_install,libjs-mathjax) && [ -f "$(NOREP_MATHJAX)/MathJax.js" ]; } \
	  || { echo "MathJax 2 not found in $(NOREP_MATHJAX): as root, apt-get install libjs-mathjax;" \
	            "or set NOREP_MATHJAX to a MathJax 2 folder" >&2; exit 1; }

## The mini zoo (resumes: only unfinished models are trained).
store: data
	$(BIN)/norep zoo train zoos/fashion_mnist.yaml --store runs/fashion_mnist

store-ci: data
	$(BIN)/norep zoo train zoos/fashion_mnist_ci.yaml --store runs/fashion_mnist_ci

## The book on the default mini zoo: _build/html/index.html.
book: store mathjax
	$(BIN)/norep book build --profile params/default.yaml --output _build

## The book on the CI profile: _build/ci/html/index.html.
book-ci: store-ci mathjax
	$(BIN)/norep book build --profile params/ci.yaml --output _build/ci

## Every test: unit, training, importers, the CI-profile book build and the browser check.
test: store-ci mathjax
	$(BIN)/python -m pytest

## The full-size benchmarks of the performance page (the probe's results are saved for it).
benchmark: store
	$(BIN)/python benchmarks/pairs_speed.py
	$(BIN)/python benchmarks/ensemble_speed.py
	$(BIN)/python benchmarks/probe_speed.py --repeat 3 --json benchmarks/results/probe_synthetic.json
	$(BIN)/python benchmarks/probe_speed.py --repeat 3 --store runs/fashion_mnist --json benchmarks/results/probe_zoo.json

clean:
	rm -rf _build runs/fashion_mnist_ci
