"""The label stage's ``.cats`` inputs (jeeves.pipeline.train.cats_files and
with_cats_files): remote globs only where they match, and every file,
local or remote, packed into one input with its URI, on every runner.
(tests/engines/test_label_engines.py runs the stage on Hadoop and Spark.)"""

import json
import types

from jeeves.pipeline.train import cats_files, with_cats_files


def berkeley_tree(root):
    """Two category directories of <id>.txt and <id>.cats, as the Berkeley set."""
    for category, number in ((1, 10), (4, 11)):
        directory = root / str(category)
        directory.mkdir(parents=True)
        (directory / ("%d.txt" % number)).write_text("Subject: x\n\nbody\n")
        (directory / ("%d.cats" % number)).write_text("1,%d,1\n" % category)
    (root / "categories.txt").write_text("1,1 meeting\n")
    return root


def test_local_cats_files_are_listed(tmp_path):
    root = berkeley_tree(tmp_path / "berkeley")
    assert cats_files([str(root)]) == [str(root / "1" / "10.cats"), str(root / "4" / "11.cats")]


def test_remote_globs_only_where_they_match():
    matching = {"hdfs:///b/*/*.cats"}
    assert cats_files(["hdfs:///b"], matching.__contains__) == ["hdfs:///b/*/*.cats"]
    assert cats_files(["hdfs:///b"]) == ["hdfs:///b/*.cats", "hdfs:///b/*/*.cats"]


def engine(runner, remote_files=None):
    """What with_cats_files uses of an Engine: its runner and storage."""
    remote_files = remote_files or {}
    fs = types.SimpleNamespace(ls=lambda glob: [uri for uri in remote_files
                                                if uri.startswith(glob.split("*")[0])])
    storage = types.SimpleNamespace(fs=fs, read_bytes=lambda uri: remote_files[uri])
    return types.SimpleNamespace(runner=runner, storage=storage)


def test_every_runner_gets_the_files_packed_with_their_uris(tmp_path):
    root = berkeley_tree(tmp_path / "b")
    found = cats_files([str(root)]) + ["hdfs:///b/*/*.cats"]
    remote = {"hdfs:///b/2/12.cats": b"1,4,2\n", "hdfs:///b/1/9.cats": b""}
    for runner in ("inline", "local", "hadoop", "emr", "spark"):
        scratch = tmp_path / runner
        scratch.mkdir()
        inputs = with_cats_files(engine(runner, remote), ["records"], found, str(scratch))
        packed = str(scratch / "cats.jsonl")
        assert inputs == ["records", packed]
        rows = [json.loads(line.split("\t", 1)[1])
                for line in open(packed, encoding="utf-8").read().splitlines()]
        # local files first, then the remote ones in URI order; an empty one kept
        assert rows == [{"uri": (root / "1" / "10.cats").as_uri(), "lines": ["1,1,1"]},
                        {"uri": (root / "4" / "11.cats").as_uri(), "lines": ["1,4,1"]},
                        {"uri": "hdfs:///b/1/9.cats", "lines": []},
                        {"uri": "hdfs:///b/2/12.cats", "lines": ["1,4,2"]}], runner


def test_no_cats_files_no_packed_input(tmp_path):
    assert with_cats_files(engine("local"), ["records"], [], str(tmp_path)) == ["records"]
    assert not (tmp_path / "cats.jsonl").exists()
