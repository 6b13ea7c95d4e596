# Everyday commands. Each one creates .venv (python3 -m venv) and installs the project into it
# in editable mode when needed, and installs again after pyproject.toml or setup.py change or a
# new library folder appears.
#
#   make demo    train the MNIST MLP example (examples/mnist_mlp.py); ARGS="--epochs 1" passes flags
#   make test    ruff (lint + format check) and the test suite; DERIVAX_ORACLE=1 also installs
#                JAX/Optax so the tests marked `oracle` run instead of skipping
#   make docs    build the Sphinx site into docs/_build/html (warnings are errors)
#   make lint    ruff only;  make format  applies ruff's fixes and formatting
#   make bench   the benchmarks (python -m benchmarks) against PyTorch, JAX and NumPy (installs
#                the `bench` extra), OpenBLAS core-type overrides unset; ARGS="W1 W4 --json F
#                --plot F.svg" selects workloads and writes the numbers and a chart
#   make clean   remove build outputs and caches (make distclean also removes .venv)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff

comma := ,
space := $(subst ,, )
EXTRAS := test,examples,docs
ifeq ($(DERIVAX_ORACLE),1)
EXTRAS := $(EXTRAS),oracle
endif
# `make bench` also installs the peers it times (the `bench` extra: PyTorch, JAX); other
# targets never install them.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
EXTRAS := $(EXTRAS),bench
endif
# One stamp per set of extras and of top-level libraries: switching DERIVAX_ORACLE on installs the
# oracles once, and a new library folder (nn_*/__init__.py appearing) triggers a re-install,
# because an editable install maps each top-level package to its folder when it is made.
LIBRARIES := $(patsubst %/__init__.py,%,$(wildcard nn_modules/__init__.py nn_pytree/__init__.py nn_transform/__init__.py))
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))$(subst $(space),,$(foreach lib,$(LIBRARIES),+$(lib)))

LINT_PATHS := $(wildcard core nn_modules nn_pytree nn_transform tests examples benchmarks docs setup.py)

.PHONY: all venv bytecode demo test lint format docs bench clean distclean

all: test

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@touch $@

# An editable install leaves the libraries without bytecode, and PYTHONDONTWRITEBYTECODE (set on
# some machines) stops Python from caching it, so every process would compile every module at
# import (~0.3 s for derivax). compileall writes the missing or stale .pyc files (it skips
# up-to-date ones, so this is quick); Python ignores a .pyc whose source has changed since.
BYTECODE_PATHS := $(wildcard core nn_modules nn_pytree nn_transform)
bytecode: $(STAMP)
	@$(PY) -m compileall -q $(BYTECODE_PATHS)

demo: bytecode
	$(PY) examples/mnist_mlp.py $(ARGS)

# Lint and tests both run so one report shows every failure; the target fails if either did.
test: bytecode
	@status=0; \
	$(RUFF) check $(LINT_PATHS) || status=1; \
	$(RUFF) format --check $(LINT_PATHS) || status=1; \
	$(VENV)/bin/pytest -q $(ARGS) || status=1; \
	exit $$status

lint: $(STAMP)
	$(RUFF) check $(LINT_PATHS)
	$(RUFF) format --check $(LINT_PATHS)

format: $(STAMP)
	$(RUFF) check --fix $(LINT_PATHS)
	$(RUFF) format $(LINT_PATHS)

# -E re-reads every page: Sphinx does not notice edited docstrings, so an incremental build
# could hide their warnings. -T prints the full traceback, so a failing notebook cell shows
# its code and its error.
docs: bytecode
	$(VENV)/bin/sphinx-build -E -W --keep-going -T -b html docs docs/_build/html

# The machine may set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE to work around old OpenBLAS builds;
# they force a slower kernel, so benchmarks run with both unset (tests keep them).
bench: bytecode
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m benchmarks $(ARGS)

clean:
	rm -rf build dist *.egg-info docs/_build docs/jupyter_execute .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
