"""jeeves.driver_imports: an Engine's driver imports neither pyspark (but for
the Spark runner) nor pytest (through skops and scikit-learn), and both can
still be imported after; each case in a fresh interpreter (what a process
imported is for good)."""

import importlib.util
import subprocess
import sys

import pytest

PYSPARK = """
import sys
from jeeves.pipeline.engine import Engine
Engine(sys.argv[1])
import mrjob.bin, mrjob.hadoop, mrjob.local
print("pyspark" in sys.modules, mrjob.bin.pyspark is None)
import pyspark  # a later import still works
Engine("spark")  # and a Spark engine after it gives mrjob.bin its pyspark
print(mrjob.bin.pyspark is pyspark)
"""

PYTEST = """
import sys
from jeeves.pipeline.engine import Engine
Engine("inline")
# what skops' import does when it lists scikit-learn's estimators
from sklearn.utils import _testing
print("pytest" in sys.modules, hasattr(_testing, "ignore_warnings"),
      hasattr(_testing, "skip_if_32bit"))
import pytest  # a later import still works
print(hasattr(pytest, "mark"))
"""


def run(code, *args):
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                    reason="pyspark is not installed (the spark or test extra)")
def test_only_a_spark_engine_imports_pyspark():
    assert run(PYSPARK, "hadoop") == ["False", "True", "True"]
    assert run(PYSPARK, "local") == ["False", "True", "True"]
    assert run(PYSPARK, "spark") == ["True", "False", "True"]


def test_skops_does_not_import_pytest_in_a_driver():
    # scikit-learn's testing module without its pytest markers, the rest of it there
    assert run(PYTEST) == ["False", "True", "False", "True"]
