"""The local runner's task inputs cut by byte ranges (jeeves/local_splits.py)
are mrjob's own split files, byte for byte."""

import gzip
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mrjob.sim import _split_records

from jeeves import local_splits
from jeeves.runjob import run_job
from tests.jobs.mr_fixture_word_count import MRFixtureWordCount


def mrjob_groups(data, split_size, keyed=False):
    """mrjob's grouping of the lines of ``data`` (its own helper)."""
    key = (lambda line: line.split(b"\t")[0]) if keyed else None
    # lines as a file yields them: cut after each b"\n" only
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    return [b"".join(group) for group in _split_records(iter(lines), split_size, key)]


def range_groups(data, split_size, keyed=False):
    return [data[start:end]
            for start, end in local_splits.line_boundaries(data, len(data), split_size, keyed)]


lines = st.lists(
    st.tuples(st.sampled_from([b"a", b"b", b"ab", b"", b"key"]),
              st.booleans(), st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"."))),
    max_size=30)


def assemble(parts, final_newline):
    data = b"".join(key + (b"\t" if tab else b"") + rest + b"\n" for key, tab, rest in parts)
    return data if final_newline or not data else data[:-1]


@settings(max_examples=300, deadline=None)
@given(lines, st.booleans(), st.integers(min_value=0, max_value=60), st.booleans())
def test_the_boundaries_are_mrjobs(parts, final_newline, split_size, keyed):
    data = assemble(parts, final_newline)
    assert range_groups(data, split_size, keyed) == mrjob_groups(data, split_size, keyed)


def test_an_empty_input_is_one_empty_split():
    assert local_splits.line_boundaries(b"", 0, 10) == [(0, 0)]
    assert mrjob_groups(b"", 10) == [b""]


def test_a_line_longer_than_the_split_stays_whole():
    data = b"x" * 50 + b"\nshort\n" + b"y" * 40
    assert range_groups(data, 8) == [b"x" * 50 + b"\n", b"short\n" + b"y" * 40]
    assert range_groups(data, 8) == mrjob_groups(data, 8)


def test_copy_range_without_the_kernel_call(tmp_path, monkeypatch):
    source = tmp_path / "source"
    source.write_bytes(bytes(range(256)) * 10)
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    with open(source, "rb") as handle, open(tmp_path / "target", "wb") as target:
        target.write(b"head")
        local_splits.copy_range(handle, target, 300, 1000)
    assert (tmp_path / "target").read_bytes() == b"head" + source.read_bytes()[300:1300]


def test_copy_range_when_the_kernel_refuses(tmp_path, monkeypatch):
    source = tmp_path / "source"
    source.write_bytes(b"0123456789" * 1000)

    def refuse(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    with open(source, "rb") as handle, open(tmp_path / "target", "wb") as target:
        local_splits.copy_range(handle, target, 5, 9995)
    assert (tmp_path / "target").read_bytes() == source.read_bytes()[5:]


@pytest.mark.parametrize("cores", [1, 4])
@pytest.mark.parametrize("kernel_copy", [True, False])
def test_the_splits_are_written_side_by_side_or_in_turn_alike(tmp_path, monkeypatch, cores,
                                                               kernel_copy):
    # one copier a core: the threads' copies through memory each seek a
    # source handle of their own
    source = tmp_path / "source"
    data = b"".join(b"line %d %s\n" % (number, b"x" * (number % 97)) for number in range(5000))
    source.write_bytes(data)
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    if not kernel_copy:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    ranges = local_splits.line_boundaries(data, len(data), len(data) // 7)
    assert len(ranges) >= 7

    def targets():
        for number in range(len(ranges)):
            yield open(tmp_path / ("split-%d" % number), "wb")

    local_splits._write_splits(str(source), ranges, targets())
    assert [(tmp_path / ("split-%d" % number)).read_bytes() for number in range(len(ranges))] \
        == [data[start:end] for start, end in ranges]


def test_a_failed_copy_closes_every_split(tmp_path, monkeypatch):
    source = tmp_path / "source"
    source.write_bytes(b"a\nb\nc\nd\n")
    opened = []

    def targets():
        for number in range(4):
            opened.append(open(tmp_path / ("split-%d" % number), "wb"))
            yield opened[-1]

    def refuse(path, byte_range, target):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(local_splits, "_copy_split", refuse)
    with pytest.raises(OSError):
        local_splits._write_splits(str(source), [(0, 2), (2, 4), (4, 6), (6, 8)], targets())
    assert len(opened) == 4 and all(handle.closed for handle in opened)


def split_files(runner, task_type, step_num, count):
    return [open(runner._task_input_path(task_type, step_num, number), "rb").read()
            for number in range(count)]


@pytest.mark.parametrize("runner_name", ["local", "inline"])
def test_a_local_runners_split_files_are_mrjobs(tmp_path, runner_name, monkeypatch):
    """Both splitters on a real local or inline runner, with mrjob's two tasks
    a core: the same split records and files."""
    monkeypatch.setattr(local_splits, "TASK_BYTES", 0)
    big = b"".join(b"word%d other%d\n" % (number % 97, number % 13) for number in range(5000))
    (tmp_path / "big.txt").write_bytes(big)
    (tmp_path / "small.txt").write_bytes(b"one line without a newline")
    (tmp_path / "empty.txt").write_bytes(b"")
    inputs = [str(tmp_path / name) for name in ("big.txt", "small.txt", "empty.txt")]
    sorted_input = b"".join(b"k%03d\t%d\n" % (number // 7, number) for number in range(3000))

    made = {}
    for way in ("mrjob", "ranges"):
        job = MRFixtureWordCount(["-r", runner_name, "--no-conf"] + inputs)
        with job.make_runner() as runner:
            if way == "ranges":
                local_splits.use_range_splits(runner)
            splits = runner._split_mapper_input(inputs, 0)
            sorted_path = runner._sorted_reducer_input_path(0)
            os.makedirs(os.path.dirname(sorted_path), exist_ok=True)
            with open(sorted_path, "wb") as handle:
                handle.write(sorted_input)
            reducers = runner._split_reducer_input(0)
            made[way] = (splits, split_files(runner, "mapper", 0, len(splits)), reducers,
                         split_files(runner, "reducer", 0, reducers))
    assert made["ranges"] == made["mrjob"]
    splits, files, reducers, _ = made["ranges"]
    assert len(splits) > 3 and reducers > 2
    assert b"".join(files) == big + b"one line without a newline"


@pytest.mark.parametrize("cores", [1, 2, 3])
def test_small_inputs_get_one_task_a_core(tmp_path, cores, monkeypatch):
    data = b"".join(b"line %d\tvalue\n" % number for number in range(3000))
    (tmp_path / "in.txt").write_bytes(data)
    job = MRFixtureWordCount(["-r", "local", "--no-conf", "--num-cores", str(cores),
                              str(tmp_path / "in.txt")])
    with job.make_runner() as runner:
        local_splits.use_range_splits(runner)
        splits = runner._split_mapper_input([str(tmp_path / "in.txt")], 0)
        files = split_files(runner, "mapper", 0, len(splits))
        sorted_path = runner._sorted_reducer_input_path(0)
        os.makedirs(os.path.dirname(sorted_path), exist_ok=True)
        with open(sorted_path, "wb") as handle:
            handle.write(data)
        reducers = runner._split_reducer_input(0)
        # past TASK_BYTES a task: mrjob's two a core
        monkeypatch.setattr(local_splits, "TASK_BYTES", len(data) // (2 * cores))
        assert len(runner._split_mapper_input([str(tmp_path / "in.txt")], 0)) == 2 * cores
    assert len(splits) == reducers == cores
    assert b"".join(files) == data
    assert [split["length"] for split in splits] == [len(part) for part in files]
    assert local_splits.tasks_for(2 * cores * local_splits.TASK_BYTES, cores) == 2 * cores


def test_compressed_input_is_left_to_mrjob(tmp_path):
    path = tmp_path / "lines.txt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"a b\nc d\n")
    job = MRFixtureWordCount(["-r", "local", "--no-conf", str(path)])
    with job.make_runner() as runner:
        local_splits.use_range_splits(runner)
        splits = runner._split_mapper_input([str(path)], 0)
        assert split_files(runner, "mapper", 0, 1) == [b"a b\nc d\n"]
    assert splits == [{"file": str(path), "start": 0, "length": os.path.getsize(path)}]


def test_run_job_on_the_local_runner_counts_the_same(tmp_path):
    text = b"".join(b"alpha beta %d\ngamma\n" % (number % 5) for number in range(2000))
    (tmp_path / "in.txt").write_bytes(text)
    results = {}
    for runner in ("inline", "local"):
        out = tmp_path / runner
        run_job(MRFixtureWordCount, [str(tmp_path / "in.txt")], str(out), runner=runner)
        results[runner] = sorted(
            line for name in os.listdir(out) if name.startswith("part-")
            for line in (out / name).read_bytes().splitlines())
    assert results["local"] == results["inline"]
    assert b'"gamma"\t2000' in results["local"]
