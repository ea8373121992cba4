"""The driver-side environment for running the jobs on a local Spark (docs/engines.md).

mrjob's Spark runner starts ``spark-submit`` with the driver's environment
(plus ``cmdenv``), and with master ``local[N]`` the Python workers inherit it:

- ``PYTHONPATH`` gets the zip of the jeeves package (jeeves.taskcode):
  mrjob's Spark harness imports the job module in the spark-submit driver,
  whose ``sys.path`` has the job script but not the py_files, which only
  reach the executors;
- ``PATH`` gets this Python's directory first: workers run ``python3``
  (mrjob's default ``python_bin``), which must be the project's virtualenv
  with its packages, as a node's ``python3`` has them on a real cluster;
- ``SPARK_LOCAL_IP`` is loopback, so Spark neither binds nor advertises
  another interface.
"""

import os
import sys

LOOPBACK = "127.0.0.1"


def _prepend(path, current):
    return path + (os.pathsep + current if current else "")


def local_spark_environment(code_zip, environ=None):
    """The variables to set (name -> value) before running a job with ``-r spark``;
    ``code_zip``: the jeeves package's zip (jeeves.taskcode.task_code_zip)."""
    environ = os.environ if environ is None else environ
    return {
        "PYTHONPATH": _prepend(code_zip, environ.get("PYTHONPATH")),
        "PATH": _prepend(os.path.dirname(sys.executable), environ.get("PATH")),
        "SPARK_LOCAL_IP": LOOPBACK,
    }
