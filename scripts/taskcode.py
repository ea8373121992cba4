"""The code a job's tasks run: the running ``jeeves`` package as one zip
(made by jeeves.codezips: its modules and the WordNet lemma tables).

On Hadoop, EMR and Spark each job gets ``--py-files ZIP`` (mrjob puts it
first on the tasks' PYTHONPATH; Spark gets it as ``--py-files``); the local
runner's tasks get it and a zip of mrjob, made once, on their PYTHONPATH
(:func:`local_task_path`: no setup wrapper per task). So tasks import
exactly the modules the driver imported, whether Jeeves runs from a
checkout (the repository's folders mapped to ``jeeves.*``) or from an
installed wheel. The local runner's two zips are stored (not deflated) and
carry each module's bytecode for this very Python (jeeves.codezips).

The local runner's tasks also import mrjob's ``distutils`` from the standard
library where there is one (Python 3.11 and older:
:func:`local_task_environment`): setuptools' copy, which the ``distutils``
import otherwise loads, imports setuptools itself. The two halve a task's
start (0.37 to 0.14 CPU s on this machine's Python 3.11; docs/perf-results.md).

Every runner's streaming tasks (the local runner's, Hadoop's and EMR's) start
through jeeves.jobs.task_start (mrjob's ``task_python_bin``), which imports
mrjob.job without the modules only a driver uses (PyYAML, ``urllib.request``,
``distutils``: setuptools' copy where setuptools' shim answers, the
nodes' environment being no driver's); not where the mrjob.conf profile
names the tasks' own command (``task_python_bin``), which then stays as
given. The command is the profile's ``python_bin`` with ``-m
jeeves.jobs.task_start``, or mrjob's default Python with it: the driver's
own locally, the nodes' ``python3`` on Hadoop and EMR, where the code zip
is on its PYTHONPATH before it starts (mrjob's setup wrapper exports it).
Spark's tasks are mrjob's Spark harness, started by Spark.

It is built once per driver process, with fixed timestamps so the same code
gives the same bytes, in a temporary directory removed when the process
ends. On Hadoop, with WebHDFS, the driver puts it and a zip of mrjob
(:func:`mrjob_zip`) on HDFS once, under content-addressed names, and gives
every job their URIs (:func:`shipped_code_args`; jeeves.pipeline.engine):
no job uploads them again. Those zips (and the kernel's) are kept between
runs in the user's cache directory, keyed by their sources (jeeves.codecache):
a run of code the cache knows neither builds nor reads them. So are the
local runner's two zips (stored, with bytecode; kinds ``local-code`` and
``local-mrjob`` there): a run of code the cache knows neither builds nor
compiles them; where the cache cannot be written they are built for the
process, as the others.

The native kernel (``jeeves_kernel``, features/native) cannot be imported
from a zip (Python loads no extension module from one), so the Hadoop and
EMR tasks get it as an archive of its own (:func:`kernel_zip`: the driver's
installed ``jeeves_kernel`` package, its abi3 ``.so`` for CPython 3.9+ on
Linux x86_64), which Hadoop unpacks into the task's working directory, and
a setup line puts that directory first on the tasks' PYTHONPATH
(:func:`kernel_args`). A node where it does not load (another platform, an
older glibc) counts in Python and says so (``kernel_unavailable``). The
local runner's tasks import the driver's installed module as they are.
"""

import atexit
import functools
import os
import shlex
import shutil
import sys
import sysconfig
import tempfile

from jeeves import codecache
from jeeves.codezips import (  # noqa: F401 - the zips' makers, as this module's before
    LEMMA_TABLES_ENTRY,
    PACKAGES,
    bytecode_entry,
    kernel_files,
    package_files,
    write_code_zip,
    write_kernel_zip,
    write_mrjob_zip,
)

# the runners whose tasks get the native kernel as an archive (module docstring)
KERNEL_RUNNERS = ("hadoop", "emr")
# the module the streaming tasks are started with (task_code_args)
TASK_START = "jeeves.jobs.task_start"
# the runners whose tasks the nodes' python3 runs, started through TASK_START too
CLUSTER_TASK_START_RUNNERS = ("hadoop", "emr")
# the archive's directory in a task's working directory
KERNEL_DIRECTORY = "jeeves-kernel"


def _local_zip(kind):
    """The path of the local runner's ``kind`` zip from the user's cache
    (jeeves.codecache: built into it on a first run, found by its sources'
    fingerprint on the next), or built for the process where the cache
    cannot be written."""
    try:
        return codecache.cached_zip(kind)[0]
    except OSError:
        return codecache.built_here(kind)[0]


@functools.lru_cache(maxsize=None)
def task_code_zip(compressed=True):
    """The path of this process's zip (built on first use); ``compressed=False``:
    for tasks on this machine (the local runner), its entries stored, as
    deflating only costs the driver time (0.1 s) between its jobs, and with
    the modules' bytecode for this Python, kept between runs (module
    docstring). Asked once per process, so every job gets the same code."""
    return codecache.built_here("code")[0] if compressed else _local_zip("local-code")


def local_task_environment(environ=None, version=None, stdlib=None):
    """{name: value} the local runner's tasks get besides the driver's
    environment, each only where the user set nothing:

    - ``SETUPTOOLS_USE_DISTUTILS=stdlib`` where this Python has the standard
      library's ``distutils`` (3.11 and older), so mrjob's ``distutils``
      imports (``find_executable``, ``LooseVersion``) load it rather than
      setuptools (module docstring); on 3.12 and later mrjob needs
      setuptools' copy;
    - ``OPENBLAS_NUM_THREADS=1``: the runner starts a task per core, and
      numpy's OpenBLAS otherwise starts a thread per core in every task,
      whose waiting spins took 0.15-0.25 CPU s of a tf-idf task (perf)."""
    environ = os.environ if environ is None else environ
    version = sys.version_info if version is None else version
    stdlib = sysconfig.get_paths()["stdlib"] if stdlib is None else stdlib
    found = {}
    if ("SETUPTOOLS_USE_DISTUTILS" not in environ and version < (3, 12)
            and os.path.exists(os.path.join(stdlib, "distutils", "spawn.py"))):
        found["SETUPTOOLS_USE_DISTUTILS"] = "stdlib"
    if "OPENBLAS_NUM_THREADS" not in environ:
        found["OPENBLAS_NUM_THREADS"] = "1"
    return found


def task_code_args(runner, task_start=True, python=None):
    """The job switches that ship the zip to ``runner``'s tasks (none inline),
    and the native kernel to Hadoop's and EMR's (:func:`kernel_args`); the
    streaming tasks started through jeeves.jobs.task_start by ``python``
    (:func:`task_start_args`), unless ``task_start`` is false."""
    if runner == "inline":
        return []
    start = task_start_args(runner, python) if task_start else []
    if runner == "local":
        # the tasks run here: mrjob's own zip too is made once per driver
        # process rather than by mrjob for every job (about 0.05 s each, in
        # the driver between jobs: docs/perf-results.md)
        zips = (task_code_zip(compressed=False), mrjob_zip(compressed=False))
        _mark_used(zips)
        environment = dict(local_task_environment(), PYTHONPATH=local_task_path())
        args = ["--no-bootstrap-mrjob"] + start
        for name, value in sorted(environment.items()):
            args += ["--cmdenv", "%s=%s" % (name, value)]
        return args
    kernel = kernel_zip() if runner in KERNEL_RUNNERS else None
    return ["--py-files", task_code_zip()] + (kernel_args(kernel) if kernel else []) + start


def task_start_args(runner, python=None):
    """``--task-python-bin PYTHON -m jeeves.jobs.task_start`` for the local
    runner's, Hadoop's and EMR's tasks (module docstring). ``python``: the
    command (a string or a list) the tasks run, the profile's
    ``python_bin`` or mrjob's default (:func:`default_task_python`); None
    is the driver's own Python for the local runner, and for a cluster
    nothing (the caller does not know the nodes' Python: mrjob's own start
    stays). Nothing for other runners."""
    if runner == "local" and python is None:
        python = shlex.quote(sys.executable)
    if runner not in ("local",) + CLUSTER_TASK_START_RUNNERS or python is None:
        return []
    if not isinstance(python, str):
        python = " ".join(shlex.quote(str(part)) for part in python)
    return ["--task-python-bin", "%s -m %s" % (python, TASK_START)]


def default_task_python(runner, profile):
    """The Python ``runner``'s tasks run, as mrjob chooses it from the
    profile's options ``profile``: its ``python_bin``, else the driver's own
    (local) or ``python3`` (a cluster); None for a profile that names the
    tasks' own command (``task_python_bin``), which stays as given."""
    if profile.get("task_python_bin"):
        return None
    if profile.get("python_bin"):
        return profile["python_bin"]
    return shlex.quote(sys.executable) if runner == "local" else "python3"


def task_start_options(runner, profile):
    """``task_start`` and ``python`` of :func:`task_code_args` (and
    :func:`shipped_code_args`) for a runner whose profile's options are
    ``profile`` (:func:`default_task_python`)."""
    python = default_task_python(runner, profile)
    return {"task_start": python is not None, "python": python}


@functools.lru_cache(maxsize=None)
def local_task_path():
    """The local runner's tasks' PYTHONPATH: this process's own links to its
    two zips (jeeves's and mrjob's), in a folder removed when it exits.

    Given as ``--py-files``, the zips would make mrjob run every task through
    its setup wrapper, a shell script that starts a Python of its own only to
    take a file lock (``fcntl.flock``) before it exports ``PYTHONPATH``:
    about 25 ms of CPU and 40 ms of wall time in front of every task, 16
    tasks a run, for setup commands there are none of; and mrjob copies the
    zips into every step's working directory. Given as the tasks'
    ``PYTHONPATH`` (mrjob puts a ``cmdenv`` path in front of the driver's
    own), the tasks import the same zips, started as the job's script
    directly. The links (hard links: no copy; a copy across file systems)
    keep the zips a run started with, whatever the cache prunes meanwhile."""
    directory = tempfile.mkdtemp(prefix="jeeves-local-code-")
    atexit.register(shutil.rmtree, directory, True)
    paths = []
    for path in (task_code_zip(compressed=False), mrjob_zip(compressed=False)):
        target = os.path.join(directory, os.path.basename(path))
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
        paths.append(target)
    return os.pathsep.join(paths)


def _mark_used(paths):
    """Touch the folder of each of ``paths`` (a cache entry, or the process's
    own temporary folder) at every job: the cache keeps the entries used last
    (jeeves.codecache.prune), so the ones a long run uses stay among them.
    The run's tasks read the zips through this process's own links
    (:func:`local_task_path`), which a pruned entry leaves in place."""
    for path in paths:
        try:
            os.utime(os.path.dirname(path))
        except OSError:
            pass


@functools.lru_cache(maxsize=None)
def kernel_zip():
    """The path of a zip of the native kernel's package (module docstring),
    built once per process with fixed timestamps; None when there is none to
    ship (:func:`kernel_files`)."""
    built = codecache.built_here("kernel")
    return None if built is None else built[0]


def kernel_args(uri):
    """The job switches that give the tasks the kernel zip at ``uri`` (a local
    path, which mrjob uploads with the job, or a URI on the cluster): mrjob's
    setup syntax ``URI#NAME/`` ships it as an archive that Hadoop unpacks
    into NAME, and the line puts NAME first on the tasks' PYTHONPATH."""
    return ["--setup", "export PYTHONPATH=%s#%s/:$PYTHONPATH" % (uri, KERNEL_DIRECTORY)]


@functools.lru_cache(maxsize=None)
def mrjob_zip(compressed=True):
    """mrjob's own package as a zip, as mrjob's runners make it for each job
    (``bootstrap_mrjob``: its files but ``.pyc``, under ``mrjob/``), built once
    per process with fixed timestamps, so the same mrjob gives the same bytes;
    ``compressed=False`` as for :func:`task_code_zip` (stored, with bytecode,
    kept between runs)."""
    return codecache.built_here("mrjob")[0] if compressed else _local_zip("local-mrjob")


def shipped_code_args(uris, kernel_uri=None, task_start=True, python=None):
    """The job switches for code zips already on a Hadoop cluster (``uris``:
    the code zip's and :func:`mrjob_zip`'s; ``kernel_uri``:
    :func:`kernel_zip`'s, if any): mrjob does not upload URIs, and makes no
    zip of its own (one of them is mrjob's); the tasks start as
    :func:`task_code_args` starts them."""
    return (["--py-files", ",".join(uris), "--no-bootstrap-mrjob"]
            + (kernel_args(kernel_uri) if kernel_uri else [])
            + (task_start_args("hadoop", python) if task_start else []))


if __name__ == "__main__":
    # `python -m jeeves.taskcode OUT.zip`: the zip for a job run by hand
    # (python jobs/mr_x.py -r hadoop --py-files OUT.zip ...; docs/engines.md)
    import sys

    from jeeves.features.wordnet import load_lemma_tables

    if len(sys.argv) != 2:
        sys.exit("usage: python -m jeeves.taskcode OUT.zip")
    print(write_code_zip(sys.argv[1], load_lemma_tables()))
