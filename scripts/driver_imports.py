"""Modules the driver need not import: pyspark (but for the Spark runner), and
pytest.

Both come in only where the ``spark`` or ``test`` extras are installed, and
cost every run that loads them (docs/perf-results.md, "Driver bytes, round
three"):

- ``mrjob.bin``, the base of mrjob's local, Hadoop, EMR and Spark runners,
  tries ``import pyspark`` when it is imported, only to look for
  ``spark-submit`` beside pyspark (``MRJobBinRunner._spark_submit_bin_dirs``)
  when a job has Spark steps. No Jeeves job has one, and only the ``spark``
  runner runs jobs with spark-submit: 3.8 MB of modules read for nothing.
- skops (the model bundle, jeeves.models.bundle) lists scikit-learn's
  estimators when it is imported (``sklearn.utils.all_estimators``), which
  imports ``sklearn.utils._testing``, which imports pytest, if it is
  there, to define the skip markers of scikit-learn's own tests (and asks
  threadpoolctl about the BLAS libraries for one of them, reading
  ``/proc/self/maps``): 2.4 MB read for nothing.

:func:`prepare_driver` (jeeves.pipeline.engine.Engine calls it with its
runner):

- imports ``mrjob.bin`` with pyspark hidden for that one import
  (``sys.modules["pyspark"] = None``, then removed, so that a later ``import
  pyspark`` works), and gives it a stand-in for its ``pyspark``
  (:class:`PysparkOnDemand`) that imports pyspark when mrjob asks for it
  (a Spark step looking for ``spark-submit``), so a Spark job run later in
  the same process finds it as before; for the ``spark`` runner it
  imports pyspark as mrjob does;
- while pytest is not imported, has ``sklearn.utils._testing`` run with
  pytest hidden the same way (a finder on ``sys.meta_path`` that only
  wraps that module's loading): the module defines everything but the
  test markers. A process that imported pytest (the test suite) is left as
  it is.

One more the driver need not load, setuptools: mrjob 0.7.4 imports
``distutils`` (``distutils.spawn.find_executable``), and setuptools' shim
(``_distutils_hack``, put on ``sys.meta_path`` by a ``.pth`` file at start)
answers that import with setuptools' own copy, importing setuptools: 55 ms
of the driver's start, while the cores wait. Where Python still has its own
``distutils`` (3.11 and older) and the user has not chosen one
(``SETUPTOOLS_USE_DISTUTILS`` unset), :func:`prefer_stdlib_distutils`, which
``jeeves.cli.main`` calls first, takes the shim away and sets
``SETUPTOOLS_USE_DISTUTILS=stdlib``, as the local runner's tasks have it
(jeeves.taskcode.local_task_environment), so a setuptools imported later in
the process uses the same distutils without a warning. On 3.12 and newer
there is no other distutils, and setuptools' copy costs 70-85 ms of every
start there, though the driver calls neither function in most runs
(``find_executable`` looks for the ``hadoop`` and ``spark-submit``
binaries, ``LooseVersion`` compares Hadoop and EMR versions). So
:func:`distutils_on_demand`, which ``jeeves.cli.main`` calls first (before
anything imports mrjob: jeeves.pipeline.engine does at its own import), has
``mrjob.util`` and ``mrjob.compat`` imported with stand-ins for
``distutils.spawn`` and ``distutils.version`` whose functions import the
real module when first called (jeeves.jobs.task_start does the same for the
tasks): on every Python, distutils is imported only by a run
that needs it.
"""

import os
import sys

from jeeves.jobs.task_start import distutils_stand_ins, modules_replaced

_ABSENT = object()
SKLEARN_TESTING = "sklearn.utils._testing"


def _without(name, load):
    """Run ``load()`` with the module ``name`` hidden (``sys.modules[name] =
    None``: its import raises ImportError), then unhide it."""
    with modules_replaced({name: None}):
        return load()


class PysparkOnDemand:
    """``mrjob.bin.pyspark`` until it is used: true, and with the attributes
    of the pyspark module (mrjob reads its ``__file__``), once that is
    imported on the first such use; false if pyspark cannot be imported."""

    def _module(self):
        try:
            import pyspark
        except ImportError:
            return None
        return pyspark

    def __bool__(self):
        return self._module() is not None

    def __getattr__(self, name):
        module = self._module()
        if module is None:
            raise AttributeError(name)
        return getattr(module, name)


def prepare_mrjob(runner):
    """Import ``mrjob.bin`` for ``runner`` (module docstring); True when
    pyspark was kept out of it."""
    loaded = sys.modules.get("mrjob.bin")
    if runner == "spark":
        if loaded is not None and not isinstance(getattr(loaded, "pyspark", None),
                                                 type(sys)):
            try:
                import pyspark
            except ImportError:
                return False
            loaded.pyspark = pyspark
        return False
    if loaded is not None or sys.modules.get("pyspark", _ABSENT) is not _ABSENT:
        return False  # imported already (with or without pyspark): nothing to keep out
    _without("pyspark", lambda: __import__("mrjob.bin"))
    sys.modules["mrjob.bin"].pyspark = PysparkOnDemand()
    return True


class _LoadedWith:
    """Finds no module itself: has each module named in ``replacements``
    (name -> a function giving the {module: stand-in} to put in
    ``sys.modules`` meanwhile, jeeves.jobs.task_start.modules_replaced) run
    with those stand-ins when it is imported. (A finder on ``sys.meta_path``
    needs only ``find_spec``: importlib.abc's base class would import
    importlib.resources into every driver's start.)"""

    replacements = {}
    # a module whose presence makes the stand-ins pointless (install)
    unneeded_once = None

    def find_spec(self, fullname, path=None, target=None):
        stand_ins = self.replacements.get(fullname)
        if stand_ins is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            execute = spec.loader.exec_module

            def execute_with_stand_ins(module):
                with modules_replaced(stand_ins()):
                    execute(module)

            # the loader is this module's own (one per spec)
            spec.loader.exec_module = execute_with_stand_ins
        return spec

    @classmethod
    def install(cls):
        """Put one first on ``sys.meta_path`` (once); False when one of
        the modules, or ``unneeded_once``, is imported already."""
        if cls.unneeded_once in sys.modules or any(name in sys.modules
                                                   for name in cls.replacements):
            return False
        if not any(isinstance(finder, cls) for finder in sys.meta_path):
            sys.meta_path.insert(0, cls())
        return True


class PytestHidden(_LoadedWith):
    """Has ``sklearn.utils._testing``, when it is imported in a process
    without pytest, run with pytest hidden (a pytest imported meanwhile is
    left as it is)."""

    replacements = {SKLEARN_TESTING: lambda: {"pytest": None}}
    unneeded_once = "pytest"


class DistutilsOnDemand(_LoadedWith):
    """Has ``mrjob.util`` and ``mrjob.compat`` imported with stand-ins for
    ``distutils.spawn`` and ``distutils.version`` (module docstring)."""

    replacements = {"mrjob.util": distutils_stand_ins, "mrjob.compat": distutils_stand_ins}
    unneeded_once = "distutils"


def hide_pytest_from_sklearn():
    """Put :class:`PytestHidden` first on ``sys.meta_path`` (once); False
    when pytest or ``sklearn.utils._testing`` is imported already."""
    return PytestHidden.install()


def distutils_on_demand():
    """Put :class:`DistutilsOnDemand` first on ``sys.meta_path`` (once);
    False when ``distutils``, ``mrjob.util`` or ``mrjob.compat`` is imported
    already."""
    return DistutilsOnDemand.install()


def prefer_stdlib_distutils(environ=None, version=None):
    """The standard library's distutils for this process (module docstring):
    True when the shim was taken away."""
    environ = os.environ if environ is None else environ
    version = sys.version_info if version is None else version
    if version >= (3, 12) or "SETUPTOOLS_USE_DISTUTILS" in environ or "distutils" in sys.modules:
        return False
    shim = sys.modules.get("_distutils_hack")
    if shim is not None and hasattr(shim, "remove_shim"):
        shim.remove_shim()
    environ["SETUPTOOLS_USE_DISTUTILS"] = "stdlib"
    return True


def prepare_driver(runner):
    """What a driver running jobs on ``runner`` imports (module docstring)."""
    hide_pytest_from_sklearn()
    if runner != "inline":
        prepare_mrjob(runner)
