"""Session fixtures for the engine tests: the local Hadoop cluster and Spark.

``hadoop_cluster`` starts the pseudo-distributed cluster of
``tools/hadoop/cluster.py`` once per test session (about a minute) and
stops it at the end; it skips when Java or the fetched jars
(``make hadoop-jars``) are missing. For the session it points
``HADOOP_HOME`` and ``HADOOP_CONF_DIR`` at the cluster, as a user would
(docs/engines.md). The cluster runs the shuffle, with several reducers a
step, when the test run is in a network namespace of its own
(``make test`` runs pytest through ``tools/hadoop/netns-run``), and uber
jobs otherwise; ``hadoop_shuffle`` is the cluster when it runs the
shuffle and skips, saying why, when it does not. ``spark`` skips when
Java or pyspark is missing.

Under pytest-xdist (``make test`` runs two workers) the engine test files
spread over the workers and share one cluster: the first worker that needs
it starts it (``tools.hadoop.cluster.start`` holds a lock, so the other
waits and joins it), and the controller stops it when the whole run ends
(``pytest_sessionfinish`` in tests/conftest.py, when the cluster's run mark
names its run). A cluster that already ran before the
tests (``make cluster-start``) is left running.
"""

import importlib.util
import os
import shutil

import pytest

from tests.conftest import cluster_run_mark
from tests.engines.runners import HadoopCluster
from tools.hadoop import cluster as local_cluster


@pytest.fixture(scope="session")
def hadoop_cluster(request):
    home = local_cluster.DEFAULT_HOME
    worker = getattr(request.config, "workerinput", None)
    if shutil.which("java") is None:
        pytest.skip("java not found: the Hadoop engine tests need Java 17")
    if not os.path.exists(os.path.join(home, "lib", ".fetched")):
        pytest.skip("Hadoop jars not found in %s: run 'make hadoop-jars'" % home)
    details = local_cluster.start(home)
    # one that ran already (`make cluster-start`, another worker) is left running
    started_here = details["started"]
    if worker is not None:
        # one of several workers: the others may still need the cluster
        # after this one ends, so the controller stops it (tests/conftest.py)
        if started_here:
            with open(cluster_run_mark(home), "w", encoding="ascii") as handle:
                handle.write(worker["testrunuid"])
        started_here = False
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HADOOP_HOME", home)
            patch.setenv("HADOOP_CONF_DIR", os.path.join(home, "etc", "hadoop"))
            yield HadoopCluster(home, details)
    finally:
        if started_here:
            local_cluster.stop(home)


@pytest.fixture(scope="session")
def hadoop_shuffle(hadoop_cluster):
    if not hadoop_cluster.shuffle:
        pytest.skip("the Hadoop cluster runs uber jobs, without the shuffle: this test run "
                    "has a network interface besides lo (run pytest through "
                    "tools/hadoop/netns-run, as root, as `make test` does)")
    return hadoop_cluster


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None:
        pytest.skip("java not found: the Spark engine tests need Java 17")
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark not installed: pip install -e '.[test]'")
