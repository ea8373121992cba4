"""jeeves.codecache: the tasks' code zips kept between runs, named by their bytes.

A warm cache gives the zips' names without building or reading them; a
changed source, a changed lemma-table file, gives a new key and, when the
bytes differ, a new name; a source changed while its zip was built is not
kept; a cache directory that cannot be written falls back to the process's
own zips; a failed build leaves nothing in the cache; an entry a run uses
is among the last pruned. The local runner's zips (stored, with bytecode)
are kinds of their own, keyed by the Python their bytecode is for.
"""

import hashlib
import importlib.util
import os
import sys
import zipfile

import pytest

from jeeves import codecache, codezips, taskcode


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """One more module in the code zip, a file of the test's own to change."""
    module = tmp_path / "probe.py"
    module.write_text("VALUE = 1\n")
    package_files = codezips.package_files

    monkeypatch.setattr(codezips, "package_files",
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
    # zips built for the process: the bytes of the process's own (jeeves.taskcode)
    assert not found[0][0].startswith(str(tmp_path))
    assert found[0][1] == sha256(found[0][0]) == sha256(taskcode.task_code_zip())
    assert found[1][1] == sha256(found[1][0]) == sha256(taskcode.mrjob_zip())
    assert codecache.shipped_zips(str(blocked / "cache")) == found


def test_only_the_entries_used_last_are_kept(tmp_path):
    cache = tmp_path / "cache"
    names = ("local-code-d", "code-c", "mrjob-a", "local-mrjob-e", "code-b", "other", "local-x",
             ".building-x")
    for used, name in enumerate(names):
        (cache / name).mkdir(parents=True)
        os.utime(cache / name, (1000 + used, 1000 + used))
    codecache.prune(str(cache), kept=3)
    # the three used last, whatever their kind; folders not the cache's; a
    # dead run's build after a day
    assert sorted(os.listdir(cache)) == ["code-b", "local-mrjob-e", "local-x", "mrjob-a", "other"]


def test_a_hit_makes_its_entry_the_last_to_be_pruned(tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    used, other = (os.path.dirname(codecache.cached_zip(kind, cache)[0])
                   for kind in ("local-mrjob", "mrjob"))
    os.utime(used, (1000, 1000))  # written first, long ago
    os.utime(other, (2000, 2000))
    monkeypatch.setattr(codecache, "build", lambda *args: pytest.fail("built"))
    assert os.path.dirname(codecache.cached_zip("local-mrjob", cache)[0]) == used
    codecache.prune(cache, kept=1)
    assert os.listdir(cache) == [os.path.basename(used)]


@pytest.mark.parametrize("failing", ["build", "digest"])
def test_a_failed_write_leaves_nothing_in_the_cache(tmp_path, monkeypatch, failing):
    cache = tmp_path / "cache"
    build = codecache.build

    def build_then_fail(kind, path):
        if failing == "build":  # half a zip written, then the disk is full
            with open(path, "wb") as handle:
                handle.write(b"PK")
            raise OSError(28, "No space left on device")
        found = build(kind, path)
        os.mkdir(path + codecache.DIGEST_SUFFIX)  # the digest cannot be written
        return found

    monkeypatch.setattr(codecache, "build", build_then_fail)
    with pytest.raises(OSError):
        codecache.cached_zip("local-mrjob", str(cache))
    assert os.listdir(cache) == []
    # and the next run builds and keeps it
    monkeypatch.setattr(codecache, "build", build)
    path, digest = codecache.cached_zip("local-mrjob", str(cache))
    assert digest == sha256(path) and os.listdir(cache) == [os.path.basename(
        os.path.dirname(path))]


def test_the_local_zips_are_stored_with_bytecode_under_keys_of_their_own(tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    path, digest = codecache.cached_zip("local-mrjob", cache)
    archive = zipfile.ZipFile(path)
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    assert archive.read("mrjob/__init__.pyc")[:4] == importlib.util.MAGIC_NUMBER
    # the same sources, the cluster's zip (deflated, no bytecode): another entry
    cluster, _ = codecache.cached_zip("mrjob", cache)
    assert cluster != path and "mrjob/__init__.pyc" not in zipfile.ZipFile(cluster).namelist()
    # the same sources, another Python: another key, as the bytecode is not for it
    files = codecache.source_files("local-mrjob")
    key = codecache.fingerprint("local-mrjob", files)
    assert codecache.fingerprint("mrjob", files) != key
    monkeypatch.setattr(importlib.util, "MAGIC_NUMBER", b"\x00\x00\r\n")
    assert codecache.fingerprint("local-mrjob", files) != key
    monkeypatch.undo()
    monkeypatch.setattr(sys.implementation, "cache_tag", "another-python")
    assert codecache.fingerprint("local-mrjob", files) != key
    monkeypatch.undo()
    assert codecache.fingerprint("local-mrjob", files) == key
