# Reader commands: `make lab` (open the book) and `make test` (check every chapter).
# Needs python3 >= 3.10 and make; everything else is installed into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-from-pyproject
CHAPTERS_NB := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb notebooks/A[0-9]_*.ipynb))
CHAPTERS_PY := $(sort $(wildcard notebooks/[0-9][0-9]_*.py notebooks/A[0-9]_*.py))
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=300

.PHONY: venv lab test test-kernel book sync bench kernelspec html pretrain clean-store lint

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is needed, found " + sys.version.split()[0] + "; run: make PYTHON=python3.X ...")'
	$(PYTHON) -m venv $(VENV)

# (Re-)install when the venv is new or pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

# Listens on this machine only; Jupyter prints a URL with a fresh login token and opens a browser.
# Jupyter refuses to run as root unless told; the token stays on either way.
# book/jupyter/jupyter_server_config.json hides the chapters' .py twins from the file browser.
lab: venv
	JUPYTER_CONFIG_PATH=$(CURDIR)/book/jupyter $(BIN)/jupyter lab notebooks/ --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root)

# Every long pre-training run the book uses (helpers/runs.py), trained once into the pre-training
# store (helpers/store.py; $$SSL_STORE, default ~/.cache/ssl-from-scratch) on 2 worker processes,
# then a table of what each reaches. Runs already stored are loaded, not trained again.
pretrain: venv
	$(BIN)/python -m helpers.runs --workers 2

# Empty the pre-training store (the next `make pretrain` or chapter trains everything again).
clean-store: venv
	$(BIN)/python -c 'import shutil; from helpers.store import store_dir; d = store_dir(); shutil.rmtree(d, ignore_errors=True); print("emptied", d)'

# Unit tests, notebook policy (with the jupytext pair check) and strict nbval: one pytest run.
# The store is filled first, so chapters load their long runs instead of training them.
test: venv pretrain
	$(BIN)/python -m pytest $(NBVAL) tests notebooks

# Lint: ruff's checks and formatting (pyproject.toml, [tool.ruff]; lines <= 88 characters) over the
# code and the chapters' code cells; `make test` runs the same test. `$(BIN)/ruff format` fixes layout.
lint: venv
	$(BIN)/python -m pytest -q tests/test_lint.py

# The chapters again under another CPU's BLAS kernels (notebooks only), e.g.
# `make test-kernel KERNEL=Sandybridge`; `approx:` tags say which numbers may move (README).
KERNEL ?= Sandybridge
test-kernel: venv
	OPENBLAS_CORETYPE=$(KERNEL) $(BIN)/python -m pytest $(NBVAL) notebooks

# Re-execute every chapter in a fresh kernel, in order, without timing metadata; then re-pair.
book: venv kernelspec
	@for nb in $(CHAPTERS_NB); do \
	  echo "== $$nb"; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --NotebookClient.record_timing=False "$$nb" || exit 1; \
	done
	$(MAKE) sync

# The kernelspec JupyterLab writes ("Python 3 (ipykernel)"), in every chapter and its .py twin, so
# opening a chapter changes nothing on disk.
kernelspec: venv
	@$(BIN)/python book/set_kernelspec.py $(CHAPTERS_NB)

# Pair every chapter's .py and .ipynb (the newer file wins; a new .py gets its .ipynb).
sync: venv
	@if [ -n "$(strip $(CHAPTERS_PY) $(CHAPTERS_NB))" ]; then \
	  $(BIN)/jupytext --sync $(sort $(CHAPTERS_PY) $(filter-out $(CHAPTERS_PY:.py=.ipynb),$(CHAPTERS_NB))); \
	fi

# The static book for reading without a kernel: _build/html/index.html (offline; widgets as static figures).
html: venv
	$(BIN)/python book/build_html.py _build/html

# Seconds per chapter in a fresh kernel (a copy is executed; the chapters are not changed).
bench: venv
	$(BIN)/python benchmarks/time_chapters.py

# Instructors (README, "Instructors"): nbgrader (the `course` extra) in .venv, then every chapter
# released as assignment chNN: student versions in course/release/, answer keys in course/key/, and
# the student bundle course/student-bundle/ (+ .zip): released notebooks, the helpers wheel,
# requirements.txt, the students' nbgrader_config.py and README. The store is filled first, so
# autograding loads the long runs instead of training them.
COURSE_STAMP := $(VENV)/.installed-course-extra
.PHONY: course-env release student-bundle formgrader
course-env: $(COURSE_STAMP)
$(COURSE_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -e '.[test,course]'
	touch $(COURSE_STAMP)
release: course-env pretrain
	$(BIN)/python course/ssl_course.py release $(CHAPTERS_NB)

# The student bundle again from course/release/ as it is (after editing a released notebook by hand).
student-bundle: course-env
	$(BIN)/python course/ssl_course.py bundle

# nbgrader's web interface (formgrader: assignments, submissions, manual grading) on this course:
# Jupyter runs from the top of the repository, where nbgrader_config.py is; 127.0.0.1 only, with a token.
formgrader: course-env
	$(BIN)/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=$(CURDIR) --ServerApp.default_url=/formgrader $(if $(filter 0,$(shell id -u)),--allow-root)
