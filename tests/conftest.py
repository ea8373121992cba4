"""How `make test` spreads the suite over two workers (pytest-xdist, ``-n 2``).

``pytest_xdist_make_scheduler`` gives xdist a scheduler whose unit of work
is a test file, so a file's module fixtures are built once, on one worker,
and whose tests of a server that one process must own form one unit:
tests/emr (the moto server) and tests/mailbox (Dovecot). The engine test
files (tests/engines) are units of their own, spread over both workers:
they share one Hadoop cluster, which the first worker to need it starts
(tests/engines/conftest.py) and the controller stops at the end of the run
(``pytest_sessionfinish`` below). Units go out longest first
(``SLOW_UNITS``, from the durations `make test` prints), so the run does
not end with one worker alone on a long file. (xdist's own ``xdist_group``
marks do not group under this pytest: tests/test_conftest.py checks what
this scheduler does.) Without ``-n`` (plain ``pytest``) nothing changes.
"""

import importlib.util
import os
import uuid

# The checkout's WordNet (make setup: tools/provision_wordnet.py), as `make
# test` exports it, for a pytest started by hand too. The product itself finds
# WordNet without it (jeeves.features.wordnet.load_lemma_tables).
_CHECKOUT_NLTK_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                   ".nltk_data")
if os.path.isdir(_CHECKOUT_NLTK_DATA):
    os.environ.setdefault("NLTK_DATA", _CHECKOUT_NLTK_DATA)

SERVER_GROUPS = ("emr", "mailbox")
# Units in the order they go out, before all others (which keep their
# collection order): the longest first, about 2 to 15 minutes each on the
# CI machine.
SLOW_UNITS = (
    "tests/engines/test_engines.py",
    "tests/engines/test_pipeline_engines.py",
    "tests/engines/test_run_engines.py",
    "tests/engines/test_cluster_native.py",
    "tests/engines/test_killed_hadoop.py",
    "emr",
    "tests/engines/test_parse_split_hadoop.py",
    "mailbox",
    "tests/scripts/test_progress.py",
    "tests/tools/test_bench_full.py",
)
# In the Hadoop cluster's working directory (wiped at each start): the
# xdist run whose worker started the cluster, so its controller stops it.
CLUSTER_RUN_MARK = "started-by-test-run"


def cluster_run_mark(home):
    return os.path.join(home, "cluster", CLUSTER_RUN_MARK)


def unit_of(nodeid):
    """The unit of work of a test id: its server's group, else its file."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in SERVER_GROUPS:
        return parts[1]
    return path


def unit_rank(unit):
    """Sort key of a unit: the slow ones first, in SLOW_UNITS order."""
    return SLOW_UNITS.index(unit) if unit in SLOW_UNITS else len(SLOW_UNITS)


def next_unit(queue, pending):
    """The unit a worker gets next, of the ``queue`` (slowest first), while it
    still has the ``pending`` units.

    A worker runs a test only once it holds the next one, so on the last
    test of a unit it takes its next unit, which then waits behind it.
    Behind a slow unit that is the lightest one left (the end of the
    queue), not the next slow one, which the other worker may be free to
    start first; otherwise the first.
    """
    if any(unit in SLOW_UNITS for unit in pending):
        return queue[-1]
    return queue[0]


def _make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFileAndServer(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return unit_of(nodeid)

        def _assign_work_unit(self, node):
            assigned = self.assigned_work.get(node, {})
            pending = [scope for scope, tests in assigned.items() if not all(tests.values())]
            # xdist hands out the first unit of its queue
            self.workqueue.move_to_end(next_unit(list(self.workqueue), pending), last=False)
            super()._assign_work_unit(node)

    # the order of the collection, which pytest_collection_modifyitems
    # sets, not xdist's "most tests first"
    config.option.loadscopereorder = False
    return ByFileAndServer(config, log)


def _xdist_active(config):
    return bool(getattr(config.option, "numprocesses", None)) or hasattr(config, "workerinput")


def pytest_configure(config):
    # the controller names the run itself, so it knows the id its workers
    # write in the cluster's run mark
    if (_xdist_active(config) and not hasattr(config, "workerinput")
            and getattr(config.option, "testrunuid", None) is None):
        config.option.testrunuid = uuid.uuid4().hex


def pytest_collection_modifyitems(config, items):
    if _xdist_active(config):
        items.sort(key=lambda item: unit_rank(unit_of(item.nodeid)))


def pytest_sessionfinish(session):
    """On the xdist controller: stop the Hadoop cluster one of this run's workers started."""
    config = session.config
    if hasattr(config, "workerinput") or not _xdist_active(config):
        return
    from tools.hadoop import cluster

    mark = cluster_run_mark(cluster.DEFAULT_HOME)
    try:
        with open(mark, encoding="ascii") as handle:
            ours = handle.read().strip() == config.option.testrunuid
    except OSError:
        return
    if ours:
        cluster.stop(cluster.DEFAULT_HOME)
        os.remove(mark)


# the hook exists only with pytest-xdist, which the smoke runs on other
# Pythons (tools/check_pythons.sh, the `smoke` extra) do not install
if importlib.util.find_spec("xdist") is not None:
    pytest_xdist_make_scheduler = _make_scheduler
