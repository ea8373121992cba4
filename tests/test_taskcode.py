"""jeeves.taskcode: the zip of the running package that every job ships to its tasks."""

import filecmp
import json
import os
import zipfile

from jeeves import taskcode
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
    assert args[1].split(",") == [taskcode.task_code_zip(compressed=False),
                                  taskcode.mrjob_zip(compressed=False)]
    stored = zipfile.ZipFile(args[1].split(",")[0])
    assert {info.compress_type for info in stored.infolist()} == {zipfile.ZIP_STORED}
    assert sorted(stored.namelist()) == sorted(zipfile.ZipFile(taskcode.task_code_zip()).namelist())
    assert args[2:] == ["--no-bootstrap-mrjob"]
    assert local["mrjob_module"].endswith("/mrjob.zip/mrjob/__init__.py"), local["mrjob_module"]
