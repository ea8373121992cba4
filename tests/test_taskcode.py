"""jeeves.taskcode: the zip of the running package that every job ships to its tasks."""

import filecmp
import importlib.util
import json
import os
import shlex
import sys
import sysconfig
import zipfile

import pytest

from jeeves import codezips, taskcode
from jeeves.features.wordnet import load_lemma_tables
from tests.helpers import run_job
from tests.jobs.mr_fixture_task_code import MRFixtureTaskCode


def test_the_zip_holds_every_module_and_the_lemma_tables(tmp_path):
    path = taskcode.write_code_zip(str(tmp_path / "jeeves.zip"), load_lemma_tables())
    names = zipfile.ZipFile(path).namelist()
    for package in taskcode.PACKAGES:
        assert package.replace(".", "/") + "/__init__.py" in names
    assert "jeeves/jobs/mr_parse_emails.py" in names and "jeeves/errors.py" in names
    assert all(name.startswith("jeeves/") for name in names)
    tables = json.loads(zipfile.ZipFile(path).read(taskcode.LEMMA_TABLES_ENTRY))
    assert tables == json.loads(json.dumps(load_lemma_tables()))


def test_the_same_code_gives_the_same_bytes(tmp_path):
    first = taskcode.write_code_zip(str(tmp_path / "a.zip"), load_lemma_tables())
    second = taskcode.write_code_zip(str(tmp_path / "b.zip"), load_lemma_tables())
    assert filecmp.cmp(first, second, shallow=False)


def test_local_tasks_import_the_shipped_zip_and_its_lemma_tables():
    inline = dict(run_job(MRFixtureTaskCode, ["meetings\n"], runner="inline"))
    local = dict(run_job(MRFixtureTaskCode, ["meetings\n"], runner="local"))
    assert not inline["packaged_tables"] and "jeeves.zip" not in inline["module"]
    assert local["packaged_tables"]
    assert os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(local["module"])))) \
        == "jeeves.zip"
    assert local["lemma"] == inline["lemma"] == "meeting"
    # and mrjob from the one zip of it the driver makes (taskcode.mrjob_zip),
    # not from one mrjob makes for every job
    args = taskcode.task_code_args("local")
    path = taskcode.local_task_path().split(os.pathsep)
    assert [os.path.basename(name) for name in path] == ["jeeves.zip", "mrjob.zip"]
    assert [os.stat(name).st_ino for name in path] == [
        os.stat(taskcode.task_code_zip(compressed=False)).st_ino,
        os.stat(taskcode.mrjob_zip(compressed=False)).st_ino]
    stored = zipfile.ZipFile(path[0])
    assert {info.compress_type for info in stored.infolist()} == {zipfile.ZIP_STORED}
    # the same modules, each with its bytecode for this Python, which the
    # tasks load (a module loaded from a zip's .pyc has it as its __file__)
    sources = sorted(zipfile.ZipFile(taskcode.task_code_zip()).namelist())
    assert sorted(name for name in stored.namelist() if not name.endswith(".pyc")) == sources
    assert sorted(name[:-1] for name in stored.namelist() if name.endswith(".pyc")) \
        == [name for name in sources if name.endswith(".py")]
    assert local["module"].endswith("/jeeves.zip/jeeves/features/text.pyc"), local["module"]
    assert local["mrjob_module"].endswith("/mrjob.zip/mrjob/__init__.pyc"), local["mrjob_module"]
    # no --py-files: mrjob runs the tasks without its setup wrapper (and the
    # Python it starts for a file lock); the zips are on their PYTHONPATH
    environment = dict(taskcode.local_task_environment(), PYTHONPATH=taskcode.local_task_path())
    start = ["--task-python-bin", "%s -m jeeves.jobs.task_start" % shlex.quote(sys.executable)]
    assert args == ["--no-bootstrap-mrjob"] + start + [
        value for name in sorted(environment) for value in ("--cmdenv", "%s=%s" % (
            name, environment[name]))]
    assert taskcode.task_code_args("local", task_start=False) == \
        args[:1] + args[1 + len(start):]
    assert local["wrapped"] is False
    # started through jeeves.jobs.task_start: mrjob imported without yaml,
    # urllib.request and distutils, which the task never imported after either
    # (until it called mrjob's LooseVersion)
    assert local["task_start"] is True and inline["task_start"] is False
    assert local["unused_modules"] == []
    assert local["versions"] is True
    assert local["openblas_threads"] == environment.get(
        "OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS"))
    if "SETUPTOOLS_USE_DISTUTILS" in environment:  # then distutils: the standard library's
        assert local["distutils"].startswith(sysconfig.get_paths()["stdlib"]), local["distutils"]


def test_the_local_tasks_take_distutils_from_the_standard_library_where_there_is_one(tmp_path):
    stdlib = tmp_path / "lib"
    (stdlib / "distutils").mkdir(parents=True)
    (stdlib / "distutils" / "spawn.py").write_text("")
    blas = {"OPENBLAS_NUM_THREADS": "1"}
    wanted = dict(blas, SETUPTOOLS_USE_DISTUTILS="stdlib")
    assert taskcode.local_task_environment({}, (3, 11), str(stdlib)) == wanted
    assert taskcode.local_task_environment({}, (3, 9, 18), str(stdlib)) == wanted
    # 3.12 has none (mrjob needs setuptools' copy), nor has a Python without it
    assert taskcode.local_task_environment({}, (3, 12), str(stdlib)) == blas
    assert taskcode.local_task_environment({}, (3, 11), str(tmp_path)) == blas
    # the user's own choices stand
    assert taskcode.local_task_environment(
        {"SETUPTOOLS_USE_DISTUTILS": "local", "OPENBLAS_NUM_THREADS": "4"}, (3, 11),
        str(stdlib)) == {}
    expected = blas if sys.version_info >= (3, 12) else wanted
    assert taskcode.local_task_environment({}) == expected


def test_bytecode_of_another_python_is_skipped_for_the_source(tmp_path):
    """A .pyc entry is only for the Python that wrote it: one with another
    magic number (another Python) is skipped and the source compiled."""
    import zipimport

    source = b"VALUE = 6 * 7\n"
    name, data = taskcode.bytecode_entry("probe.py", source)
    assert name == "probe.pyc" and data[:4] == importlib.util.MAGIC_NUMBER
    for magic, wanted in ((data[:4], "probe.pyc"), (b"\x00\x00\r\n", "probe.py")):
        path = str(tmp_path / ("probe-%s.zip" % magic.hex()))
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("probe.py", source)
            archive.writestr(name, magic + data[4:])
        spec = zipimport.zipimporter(path).find_spec("probe")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.VALUE == 42 and module.__file__.endswith(wanted), module.__file__


@pytest.fixture
def local_zips(tmp_path, monkeypatch):
    """The local runner's zips made afresh, in a code cache of the test's own
    (the process's own are asked once per process: forgotten before and after)."""
    monkeypatch.setenv("JEEVES_CODE_CACHE", str(tmp_path / "cache"))
    forget = (taskcode.task_code_zip, taskcode.mrjob_zip, taskcode.local_task_path)
    for asked in forget:
        asked.cache_clear()
    yield tmp_path / "cache"
    for asked in forget:
        asked.cache_clear()


def test_the_local_zips_are_kept_between_runs_and_not_compiled_again(local_zips, monkeypatch):
    code, mrjob = taskcode.task_code_zip(compressed=False), taskcode.mrjob_zip(compressed=False)
    assert {os.path.dirname(os.path.dirname(path)) for path in (code, mrjob)} \
        == {str(local_zips)}
    assert (os.path.basename(code), os.path.basename(mrjob)) == ("jeeves.zip", "mrjob.zip")
    for path in (code, mrjob):
        archive = zipfile.ZipFile(path)
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        pyc = [name for name in archive.namelist() if name.endswith(".pyc")]
        assert pyc and all(archive.read(name)[:4] == importlib.util.MAGIC_NUMBER for name in pyc)
    # the next run (a new process: nothing remembered) finds them, compiling nothing
    taskcode.task_code_zip.cache_clear()
    taskcode.mrjob_zip.cache_clear()
    monkeypatch.setattr(codezips, "bytecode_entry", lambda *args: pytest.fail("compiled"))
    assert taskcode.task_code_zip(compressed=False) == code
    assert taskcode.mrjob_zip(compressed=False) == mrjob


def test_the_local_zips_are_built_for_the_process_where_the_cache_cannot_be_written(
        local_zips, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("JEEVES_CODE_CACHE", str(tmp_path / "a-file" / "cache"))
    for path in (taskcode.task_code_zip(compressed=False), taskcode.mrjob_zip(compressed=False)):
        assert not path.startswith(str(tmp_path)) and os.path.exists(path)
        archive = zipfile.ZipFile(path)
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        assert any(name.endswith(".pyc") for name in archive.namelist())


def test_every_local_job_marks_its_zips_used(local_zips):
    """The cache keeps the entries used last (jeeves.codecache.prune): a long
    run's zips must count as used at each of its jobs, not at its start only."""
    taskcode.task_code_args("local")
    zips = [taskcode.task_code_zip(compressed=False), taskcode.mrjob_zip(compressed=False)]
    for path in zips:
        os.utime(os.path.dirname(path), (1000, 1000))
    taskcode.task_code_args("local")
    assert all(os.stat(os.path.dirname(path)).st_mtime > 1000 for path in zips)


def test_streaming_tasks_start_through_task_start_with_the_profiles_python():
    start = ["--task-python-bin", "python3.11 -m jeeves.jobs.task_start"]
    for runner in ("hadoop", "emr"):
        args = taskcode.task_code_args(runner, python="python3.11")
        assert args[-2:] == start
        # a caller that does not know the nodes' Python leaves mrjob's own start
        assert "--task-python-bin" not in taskcode.task_code_args(runner)
        assert "--task-python-bin" not in taskcode.task_code_args(
            runner, task_start=False, python="python3.11")
    assert taskcode.shipped_code_args(["a.zip", "b.zip"], python="python3.11")[-2:] == start
    assert "--task-python-bin" not in taskcode.shipped_code_args(["a.zip", "b.zip"])
    # Spark starts its own tasks
    assert "--task-python-bin" not in taskcode.task_code_args("spark", python="python3.11")
    assert taskcode.task_start_args("local", ["/opt/my py/python3", "-X", "utf8"]) == [
        "--task-python-bin", "'/opt/my py/python3' -X utf8 -m jeeves.jobs.task_start"]


def test_the_tasks_python_is_the_one_mrjob_would_choose():
    assert taskcode.default_task_python("hadoop", {}) == "python3"
    assert taskcode.default_task_python("emr", {"python_bin": "python3.11"}) == "python3.11"
    assert taskcode.default_task_python("local", {}) == shlex.quote(sys.executable)
    # a profile that names the tasks' own command keeps it
    assert taskcode.default_task_python(
        "hadoop", {"python_bin": "python3.11", "task_python_bin": "/opt/task"}) is None
