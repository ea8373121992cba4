# Three commands: `make demo`, `make test` and `make bench`. All three set everything up first
# (virtualenv, packages, WordNet) and a second run skips what is done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# WordNet for the checkout (the installed package provisions it on first use
# into ~/.cache/jeeves instead: features/wordnet.py)
NLTK_DATA := $(CURDIR)/.nltk_data
export NLTK_DATA
# task-side code (jeeves.models ships with the scoring and CV jobs) must also run on EMR 7's Python
TASK_SIDE := jobs features models scripts/__init__.py scripts/errors.py scripts/files.py \
	scripts/settings.py scripts/storage.py scripts/taskcode.py

# Real engines (docs/engines.md): Hadoop jars from Maven Central, fetched
# when Java and Maven are present; the engine tests skip without them.
HADOOP_LOCAL := $(CURDIR)/.cache/hadoop
HAVE_JAVA := $(shell command -v java >/dev/null && command -v mvn >/dev/null && echo yes)
ENGINES := $(if $(HAVE_JAVA),hadoop-jars)

.PHONY: setup bytecode lint test demo bench bench-full soak clean hadoop-jars cluster-start cluster-stop dovecot chromium

setup: $(VENV)/.installed $(NLTK_DATA)/.provisioned $(VENV)/.kernel bytecode

# The checkout's modules compiled, as pip compiles an installed package's:
# where PYTHONDONTWRITEBYTECODE is set (as on CI), every `jeeves` started from
# the checkout would otherwise compile the ~60 modules it imports from source
# (docs/perf-results.md, session 15). checked-hash: Python checks each file
# against its source's hash, so an edited module is never run stale.
bytecode: $(VENV)/.installed
	$(BIN)/python -m compileall -q --invalidation-mode checked-hash scripts jobs features models

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(NLTK_DATA)/.provisioned: tools/provision_wordnet.py features/wordnet.py | $(VENV)/.installed
	$(BIN)/python tools/provision_wordnet.py --target $(NLTK_DATA)
	touch $@

# The native kernel of the counting job (features/native, Rust): its abi3 wheel
# is kept in $(KERNEL_WHEELS) (shipped to cluster tasks) and installed. Without
# cargo nothing is built and features/kernel.py counts in Python.
KERNEL_WHEELS := .cache/kernel-wheels
KERNEL_SOURCES := features/native/Cargo.toml features/native/Cargo.lock \
	features/native/pyproject.toml $(wildcard features/native/src/*.rs)
$(VENV)/.kernel: $(KERNEL_SOURCES) | $(VENV)/.installed
	@if ! command -v cargo >/dev/null 2>&1; then \
	  echo "cargo not found: the Python kernel will be used (features/kernel.py)"; \
	else \
	  set -e; \
	  $(BIN)/python -m pip install -q maturin==1.16.0; \
	  rm -f $(KERNEL_WHEELS)/jeeves_kernel-*.whl; \
	  $(BIN)/maturin build --release -m features/native/Cargo.toml -i $(BIN)/python \
	    -o $(KERNEL_WHEELS); \
	  $(BIN)/python -m pip install -q --force-reinstall --no-deps \
	    $(KERNEL_WHEELS)/jeeves_kernel-*-abi3-*.whl; \
	  touch $@; \
	fi

lint: setup
	$(BIN)/ruff check .
	tools/check_py39.sh $(TASK_SIDE)

# pytest runs in a network namespace of its own holding only lo (as root;
# elsewhere as is): the Hadoop engine tests' cluster then runs the shuffle,
# whose service binds all interfaces (docs/engines.md). Everything the suite
# serves and reaches is on loopback.
# Two workers (tests/conftest.py groups the tests by file and by server): the
# Hadoop tests wait on YARN much of the time, the other worker runs the rest.
TEST_WORKERS ?= 2
test: setup lint $(ENGINES) dovecot chromium
	tools/hadoop/netns-run $(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=25
# a smoke run on every other supported Python found (README: Python versions)
	tools/check_pythons.sh $(PYTHON)

# tests/mailbox run a real Dovecot (docs/mailbox.md): Debian's dovecot-imapd, installed
# when missing and we are root; without it those tests skip and say why.
dovecot:
	@command -v dovecot >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  apt-get install -y -q dovecot-imapd >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q dovecot-imapd >/dev/null; } || \
	  echo "dovecot-imapd could not be installed: tests/mailbox will skip"

# tests/models/test_report.py renders the HTML report in a real browser: Debian's
# chromium, installed when missing and we are root; without it that test skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || \
	  echo "chromium could not be installed: the report's browser test will skip"

DEMO_CORPUS := .cache/demo/spamassassin

# the stamp stays outside the corpus, which must hold only mail
$(DEMO_CORPUS).fetched: tools/fetch_demo_corpus.sh
	tools/fetch_demo_corpus.sh $(DEMO_CORPUS)
	touch $@

demo: setup $(DEMO_CORPUS).fetched
	$(BIN)/jeeves demo --input $(DEMO_CORPUS)

# every stage against its reference on a 64 MB Enron prefix (docs/perf-results.md)
BENCH_MB ?= 64
bench: setup
	$(BIN)/python -m tools.run_bench --mb $(BENCH_MB)

# The full-corpus run, local runner against Hadoop with HDFS input and output
# (docs/perf-results.md, "The full-corpus run"; outside `make test`, as root
# for the cluster's shuffle); e.g. BENCH_FULL_ARGS="--sizes 440".
BENCH_FULL_ARGS ?=
bench-full: setup hadoop-jars
	$(BIN)/python -m tools.run_bench --full $(BENCH_FULL_ARGS)

# The soak of `jeeves watch` and `jeeves serve` (docs/mailbox.md, "Soak"; outside
# `make test`, which runs it on 2,000 messages): 20,000 messages, three Dovecot
# restarts, one dropped connection; the figures go to .cache/soak/soak.json.
soak: setup dovecot
	$(BIN)/python -m tools.soak --messages 20000 --batch 500 --restarts 3 --drops 1 --tag JeevesSoak

hadoop-jars: $(HADOOP_LOCAL)/lib/.fetched

$(HADOOP_LOCAL)/lib/.fetched: tools/hadoop/pom.xml
	tools/hadoop/fetch-jars $(HADOOP_LOCAL)

# A pseudo-distributed cluster on loopback for `-r hadoop`; see docs/engines.md.
# As root it runs in the network namespace $(HADOOP_NETNS), with the shuffle:
# run the jobs there too (tools/hadoop/netns-run --named $(HADOOP_NETNS) CMD).
HADOOP_NETNS ?= jeeves-hadoop
cluster-start: setup hadoop-jars
	tools/hadoop/netns-run --named $(HADOOP_NETNS) $(BIN)/python -m tools.hadoop.cluster start

cluster-stop:
	$(BIN)/python -m tools.hadoop.cluster stop
	tools/hadoop/netns-run --delete $(HADOOP_NETNS)

clean:
	rm -rf $(VENV) $(VENV)-3.* $(NLTK_DATA) .pytest_cache .ruff_cache *.egg-info \
	  $(KERNEL_WHEELS) features/native/target
	find scripts jobs features models -name __pycache__ -type d -prune -exec rm -rf {} +
