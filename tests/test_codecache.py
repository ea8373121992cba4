"""jeeves.codecache: the tasks' code zips kept between runs, named by their bytes.

A warm cache gives the zips' names without building or reading them; a
changed source, a changed lemma-table file, gives a new key and, when the
bytes differ, a new name; a source changed while its zip was built is not
kept; a cache directory that cannot be written falls back to the process's
own zips.
"""

import hashlib
import os
import zipfile

import pytest

from jeeves import codecache, taskcode


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """One more module in the code zip, a file of the test's own to change."""
    module = tmp_path / "probe.py"
    module.write_text("VALUE = 1\n")
    package_files = taskcode.package_files

    monkeypatch.setattr(taskcode, "package_files",
                        lambda: package_files() + [("jeeves/probe.py", str(module))])
    return module


def test_a_warm_cache_names_the_zips_without_building_them(tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    cold = codecache.shipped_zips(cache)
    # the names are the sha256 of the bytes the process's own zips have
    processes = (taskcode.task_code_zip(), taskcode.mrjob_zip(), taskcode.kernel_zip())
    for found, own in zip(cold, processes):
        if own is None:
            assert found is None  # no native kernel to ship
            continue
        assert found[1] == sha256(found[0]) == sha256(own)
    assert codecache.cached_zip("code", cache)[0].startswith(cache)

    def no_build(*args):
        raise AssertionError("a warm cache built a zip")

    monkeypatch.setattr(codecache, "build", no_build)
    monkeypatch.setattr(codecache, "file_digest", no_build)
    assert codecache.shipped_zips(cache) == cold


def test_a_changed_source_gives_a_new_name(tmp_path, probe):
    cache = str(tmp_path / "cache")
    first_path, first = codecache.cached_zip("code", cache)
    assert codecache.cached_zip("code", cache) == (first_path, first)
    assert zipfile.ZipFile(first_path).read("jeeves/probe.py") == b"VALUE = 1\n"
    probe.write_text("VALUE = 2\n")  # the same size
    second_path, second = codecache.cached_zip("code", cache)
    assert second != first and second == sha256(second_path)
    assert zipfile.ZipFile(second_path).read("jeeves/probe.py") == b"VALUE = 2\n"
    # back to the first bytes: a new key (the file was written), the first name
    probe.write_text("VALUE = 1\n")
    third_path, third = codecache.cached_zip("code", cache)
    assert third == first and third_path != first_path


def test_a_changed_lemma_table_file_gives_a_new_key(tmp_path, monkeypatch):
    wordnet = tmp_path / "nltk" / "corpora" / "wordnet"
    wordnet.mkdir(parents=True)
    (wordnet / "index.noun").write_text("one\n")
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk"))
    files = codecache.source_files("code")
    assert str(wordnet / "index.noun") in files
    before = codecache.fingerprint("code", files)
    (wordnet / "index.noun").write_text("two\n")
    assert codecache.fingerprint("code", codecache.source_files("code")) != before


def test_a_source_changed_while_its_zip_was_built_is_not_kept(tmp_path, probe, monkeypatch):
    cache = str(tmp_path / "cache")
    build = codecache.build

    def build_then_edit(kind, path):
        found = build(kind, path)
        probe.write_text("VALUE = 3\n")
        return found

    monkeypatch.setattr(codecache, "build", build_then_edit)
    path, digest = codecache.cached_zip("code", cache)
    assert digest == sha256(path)
    monkeypatch.setattr(codecache, "build", build)
    # nothing was kept: the next run builds the zip again, with the new source
    path, digest = codecache.cached_zip("code", cache)
    assert zipfile.ZipFile(path).read("jeeves/probe.py") == b"VALUE = 3\n"


def test_an_unwritable_cache_falls_back_to_the_process_zips(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    found = codecache.shipped_zips(str(blocked / "cache"))
    assert found[0] == (taskcode.task_code_zip(), sha256(taskcode.task_code_zip()))
    assert found[1] == (taskcode.mrjob_zip(), sha256(taskcode.mrjob_zip()))


def test_only_the_entries_used_last_are_kept(tmp_path):
    cache = tmp_path / "cache"
    for used, name in enumerate(("code-c", "mrjob-a", "code-b", "other", ".building-x")):
        (cache / name).mkdir(parents=True)
        os.utime(cache / name, (1000 + used, 1000 + used))
    codecache.prune(str(cache), kept=2)
    # the two used last, a folder not the cache's; a dead run's build after a day
    assert sorted(os.listdir(cache)) == ["code-b", "mrjob-a", "other"]
