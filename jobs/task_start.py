"""How a streaming task starts: ``python -m jeeves.jobs.task_start
SCRIPT ARGS...`` runs the job script SCRIPT as ``python SCRIPT ARGS...``
would, having first imported ``mrjob.job`` without modules no task uses.

mrjob.job imports ``mrjob.conf``, which imports PyYAML (to read mrjob.conf
files, which only the driver does) and, through ``mrjob.py2``,
``urllib.request`` (for ``urlopen`` and ``pathname2url``, which no task
calls): with ``http.client``, ``ssl`` and the email package, about 25 ms of
the 75 ms mrjob.job costs every task process to import, ten task processes
in a run of the 64 MB benchmark. mrjob also imports two functions of
``distutils`` (``find_executable``, ``LooseVersion``) that only a driver
calls: on Python 3.12 and later, where the standard library has no
``distutils``, setuptools' shim answers with setuptools' copy and imports
setuptools itself, 70-85 ms of every task's start (2 ms for the standard
library's, on 3.11 and older). While mrjob.job is imported here, ``yaml``
is hidden (mrjob.conf then falls back to JSON conf files, which a task never
reads either), and ``urllib.request``, ``distutils.spawn`` and
``distutils.version`` are stand-ins whose functions import the real module
when called; all are put back right after, so any later ``import yaml``,
``import urllib.request`` or ``import distutils.version`` in the task gets
the real one.

jeeves.taskcode gives this command as the ``task_python_bin`` of the local
runner (the driver's Python), and of Hadoop and EMR (the nodes' ``python3``,
whose environment is no driver's: setuptools' shim, if installed there,
would load setuptools for mrjob's ``distutils`` on any Python), unless the
mrjob.conf profile names a Python of its own. Spark starts its tasks itself.
"""

import contextlib
import os
import runpy
import sys
import types

_ABSENT = object()


def _on_demand(module, name):
    """A function that imports ``module`` when called and calls its ``name``."""

    def call(*args, **kwargs):
        import importlib

        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


@contextlib.contextmanager
def modules_replaced(replacements):
    """While the block runs, each module of ``replacements`` (name -> module,
    or None: its import raises ImportError) that ``sys.modules`` does not
    hold is there as given; taken away after (unless something replaced it
    meanwhile), so a later import finds the real module."""
    added = [name for name in replacements if name not in sys.modules]
    for name in added:
        sys.modules[name] = replacements[name]
    try:
        yield
    finally:
        for name in added:
            if sys.modules.get(name, _ABSENT) is replacements[name]:
                del sys.modules[name]


def stand_in(name, *functions):
    """A module ``name`` whose ``functions`` import the real one when called."""
    module = types.ModuleType(name)
    for function in functions:
        setattr(module, function, _on_demand(name, function))
    return module


def distutils_stand_ins():
    """{name: stand-in} for the two ``distutils`` modules mrjob imports
    (module docstring): ``mrjob.util`` takes ``find_executable`` from
    ``distutils.spawn`` and ``mrjob.compat`` ``LooseVersion`` from
    ``distutils.version``, each used when called (mrjob compares versions
    with ``LooseVersion(a) >= LooseVersion(b)``, never ``isinstance``)."""
    return {"distutils.spawn": stand_in("distutils.spawn", "find_executable"),
            "distutils.version": stand_in("distutils.version", "LooseVersion")}


def import_mrjob_job():
    """Import mrjob.job with yaml hidden and urllib.request and distutils
    stood in for (module docstring); False when it was imported already."""
    if "mrjob.job" in sys.modules:
        return False
    replacements = {"yaml": None,
                    "urllib.request": stand_in("urllib.request", "urlopen", "pathname2url")}
    replacements.update(distutils_stand_ins())
    with modules_replaced(replacements):
        import mrjob.job  # noqa: F401
    return True


def main(argv=None):
    """Run ``argv[0]`` (a job script) as ``__main__`` with ``argv`` as its sys.argv."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        sys.exit("usage: python -m jeeves.jobs.task_start SCRIPT [ARGS...]")
    import_mrjob_job()
    script = argv[0]
    sys.argv = argv
    # as for `python SCRIPT`: the script's folder first on the path
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
