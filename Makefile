# Two commands on a fresh clone: `make run` serves the app, `make test` runs the checks
# (`make serve` serves it with gunicorn, for production).
# The first run creates .venv; `run` installs what serving needs (requirements.txt), `test` adds
# the test tools (requirements-dev.txt). Each is installed once, so neither reinstalls the other's.
# Another interpreter: make run PYTHON=python3.12
PYTHON ?= python3
# The oldest Python that every pin installs on (the highest Requires-Python among them: numpy,
# scipy, hypothesis). README.md and pyproject.toml say the same; tests/test_project_files.py
# checks that they agree with each other and with the pins.
MIN_PYTHON := 3.11
VENV := .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed-dev
GOAL := $(or $(firstword $(MAKECMDGOALS)),run)
NEWER_PYTHON := Install a newer one and name it: make $(GOAL) PYTHON=python3.12

# bash for pipefail: pip's output goes through a filter, and pip's failure must still stop make.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

# pip, showing one line per package as it gets to it instead of its whole log (errors still
# show in full). -u, and bash's read rather than awk, so that lines aren't held in a buffer.
# --no-compile: byte-compiling every installed module took half of pip's time; Python compiles
# the few the app imports on its first start instead (about 2 s).
PIP_INSTALL := $(BIN)/python -u -m pip install --disable-pip-version-check --progress-bar off \
	--no-compile
PIP_PROGRESS := while read -r verb what rest; do case "$$verb $$what" in \
	Collecting*|Processing*) echo "  $${what\#\#*/}" ;; \
	"Installing collected") echo "  unpacking them into $(VENV)" ;; esac; done

# $(call require_python,INTERPRETER,ADVICE): stop with a clear message unless INTERPRETER is
# Python $(MIN_PYTHON) or newer. Written so that even Python 2 gets to print the message.
require_python = command -v $(1) >/dev/null || { \
	echo "Python $(MIN_PYTHON) or newer is needed; $(1) was not found. $(2)" >&2; exit 1; }; \
	$(1) -c 'import sys; found = "%d.%d.%d" % tuple(sys.version_info[:3]); \
	needed = tuple(int(part) for part in "$(MIN_PYTHON)".split(".")); \
	sys.exit(None if tuple(sys.version_info[:2]) >= needed else \
	"Python $(MIN_PYTHON) or newer is needed; found %s ($(1)). $(2)" % found)'

.PHONY: run serve test lint mutation check-python clean

run: $(APP_STAMP)
	$(BIN)/python app.py

# The production server: gunicorn with gunicorn.conf.py (README: "Running in production").
serve: $(APP_STAMP)
	$(BIN)/gunicorn -c gunicorn.conf.py

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

# Mutation testing, slow (tens of minutes), so neither `make test` nor CI runs it: mutmut breaks
# the core modules one change at a time and runs the fast tests that reach each broken function
# (pyproject.toml's [tool.mutmut]); a change no test notices "survived". One module, or a few:
#   make mutation MUTANTS='inputs.* services.*'
# Of the embedded engine only the exclusion, fold-in and top-k are checked. Two workers, on a
# shared machine; the thread limits keep each one on a single core (and its CPU-time limit
# meaningful).
ENGINE_MUTANTS := recommend popular _codes _top _in_genre
MUTANTS ?= inputs.* services.* personalize.* omdb.* pages.* card_parts.* api.* \
	recommender.users.* recommender.ranking.* \
	$(foreach method,$(ENGINE_MUTANTS),recommender.base.x*ǁ$(method)__mutmut_*)
# The score counts a timeout as killed, and a mutant no selected test reaches as survived.
MUTATION_SCORE := $$2 != "not checked" { sub(/^ +/, "", $$1); split($$1, name, "."); \
	total[name[1]]++; \
	if ($$2 == "killed" || $$2 == "timeout") killed[name[1]]++ } \
	END { for (module in total) printf "%-12s %4d of %4d mutants killed (%.1f%%)\n", \
	module, killed[module], total[module], 100 * killed[module] / total[module] }
mutation: $(DEV_STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(BIN)/mutmut run --max-children 2 $(foreach mutant,$(MUTANTS),'$(mutant)')
	@$(BIN)/mutmut results --all true | awk -F': ' '$(MUTATION_SCORE)' | sort
	@echo "Survivors: $(BIN)/mutmut results; one of them: $(BIN)/mutmut show NAME"

# Says whether $(PYTHON) is new enough; the first `make run` or `make test` checks it too.
check-python:
	@$(call require_python,$(PYTHON),$(NEWER_PYTHON))
	@$(PYTHON) -c 'import platform; print("$(PYTHON) is Python", platform.python_version())'

# A venv that failed half-way (no ensurepip, say) is removed, so the next run starts afresh.
$(BIN)/python:
	@$(call require_python,$(PYTHON),$(NEWER_PYTHON))
	@echo "Creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(APP_STAMP): requirements.txt | $(BIN)/python
	@$(call require_python,$(BIN)/python,$(VENV) is from an older Python: make clean and try again)
	@echo "Installing what the app needs (requirements.txt); first run only, usually under a minute:"
	@$(PIP_INSTALL) -r requirements.txt | $(PIP_PROGRESS)
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(APP_STAMP)
	@echo "Installing the test tools (requirements-dev.txt); first run only:"
	@$(PIP_INSTALL) -r requirements-dev.txt | $(PIP_PROGRESS)
	@touch $@

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache mutants
