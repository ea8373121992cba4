"""jeeves.driver_imports: an Engine's driver imports neither pyspark (but for
the Spark runner) nor pytest (through skops and scikit-learn), and both can
still be imported after; each case in a fresh interpreter (what a process
imported is for good)."""

import importlib.util
import subprocess
import sys

import pytest

PYSPARK = """
import os, sys
from jeeves.pipeline.engine import Engine
Engine(sys.argv[1])
import mrjob.bin, mrjob.hadoop, mrjob.local
print("pyspark" in sys.modules)
# a Spark step run later in the process still finds spark-submit beside pyspark:
# mrjob.bin's stand-in imports it then
directories = list(mrjob.bin.MRJobBinRunner._spark_submit_bin_dirs(None))
import pyspark
print(os.path.join(os.path.dirname(pyspark.__file__), "bin") in directories)
Engine("spark")  # and a Spark engine gives mrjob.bin the module itself
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
    assert run(PYSPARK, "spark") == ["True", "True", "True"]


def test_skops_does_not_import_pytest_in_a_driver():
    # scikit-learn's testing module without its pytest markers, the rest of it there
    assert run(PYTEST) == ["False", "True", "False", "True"]


DISTUTILS = """
import os, sys
from jeeves.driver_imports import prefer_stdlib_distutils
taken = prefer_stdlib_distutils()
import mrjob.util  # imports distutils.spawn
import distutils
print(taken, "setuptools" in sys.modules, os.environ.get("SETUPTOOLS_USE_DISTUTILS"),
      os.path.dirname(distutils.__file__) == os.path.join(os.path.dirname(os.__file__),
                                                          "distutils"))
"""


def run_without(variable, code):
    environ = {name: value for name, value in __import__("os").environ.items()
               if name != variable}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env=environ)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(), done.stderr


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 has no distutils of its "
                    "own: there the driver keeps setuptools' (tested below)")
def test_the_driver_takes_the_standard_librarys_distutils():
    out, errors = run_without("SETUPTOOLS_USE_DISTUTILS", DISTUTILS)
    assert out == ["True", "False", "stdlib", "True"]
    assert "Warning" not in errors


def test_the_users_choice_and_newer_pythons_keep_the_shim():
    from jeeves.driver_imports import prefer_stdlib_distutils

    chosen = {"SETUPTOOLS_USE_DISTUTILS": "local"}
    assert prefer_stdlib_distutils(chosen, (3, 11)) is False
    assert chosen == {"SETUPTOOLS_USE_DISTUTILS": "local"}
    newer = {}
    assert prefer_stdlib_distutils(newer, (3, 12)) is False
    assert newer == {}


ON_DEMAND = """
import sys
from jeeves.driver_imports import distutils_on_demand
print(distutils_on_demand(), distutils_on_demand())
from jeeves.pipeline.engine import Engine
Engine(sys.argv[1])
import mrjob.job, mrjob.hadoop, mrjob.local, mrjob.util, mrjob.compat
print("distutils" in sys.modules, "setuptools" in sys.modules)
# the functions mrjob took import the real ones when called
print(mrjob.compat.version_gte("3.10.1", "3.9"), mrjob.util.which("sh") is not None)
import distutils.spawn, distutils.version
print(sys.modules["distutils.version"] is distutils.version,
      mrjob.compat.LooseVersion("1.2") == distutils.version.LooseVersion("1.2"))
"""


def test_the_driver_imports_distutils_only_when_mrjob_calls_it():
    # with or without the standard library's (3.11 and older), and whichever
    # the user chose
    for chosen in ("local", "stdlib") if sys.version_info < (3, 12) else ("local",):
        environ = dict(__import__("os").environ, SETUPTOOLS_USE_DISTUTILS=chosen)
        done = subprocess.run([sys.executable, "-c", ON_DEMAND, "local"], capture_output=True,
                              text=True, check=False, env=environ)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["True", "True", "False", "False", "True", "True",
                                       "True", "True"], chosen


CLI = """
import sys
from jeeves.cli import main
status = main(["parse", "--input", sys.argv[1], "--output", sys.argv[2], "--runner", "local"])
print(status, "distutils" in sys.modules, "setuptools" in sys.modules)
"""


def test_a_jeeves_command_runs_without_distutils(tmp_path):
    mail = tmp_path / "one.eml"
    mail.write_text("From: a@example.com\nTo: b@example.com\nSubject: hi\n\nhello\n")
    # the last line: the command's status, then what it imported
    assert run(CLI, str(mail), str(tmp_path / "out"))[-3:] == ["0", "False", "False"]
    assert (tmp_path / "out" / "messages" / "_SUCCESS").exists()


def test_a_process_that_imported_mrjob_is_left_as_it_is():
    code = ("import sys, mrjob.util; from jeeves.driver_imports import distutils_on_demand, "
            "DistutilsOnDemand; print(distutils_on_demand(), "
            "any(isinstance(f, DistutilsOnDemand) for f in sys.meta_path))")
    assert run(code) == ["False", "False"]
