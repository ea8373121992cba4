"""The local runner's parse work items (scripts/pipeline/parse_inputs.py): many
small files are cut into a multiple of the runner's cores, each item a run
of consecutive files of about the same work (a gzip file's work is its
uncompressed size), so the last wave of tasks keeps every core busy."""

import gzip
import json
import random

import pytest

from jeeves.pipeline import parse_inputs
from jeeves.pipeline.parse_inputs import plan_inputs


def _mail(number, size):
    body = ("word%d " % number) * (size // 7)
    return ("From a@x Mon Jan  1 00:00:00 2001\nMessage-ID: <%d@x>\nSubject: s\n\n%s\n"
            % (number, body)).encode("ascii")


def _files(tmp_path, count=41, seed=4):
    rng = random.Random(seed)
    paths, work = [], {}
    for number in range(count):
        data = _mail(number, rng.choice([200, 3000, 12000, 40000]))
        if number % 3 == 0:
            path = tmp_path / ("m%03d.mbox.gz" % number)
            path.write_bytes(gzip.compress(data))
        else:
            path = tmp_path / ("m%03d.mbox" % number)
            path.write_bytes(data)
        paths.append(str(path))
        work[str(path)] = len(data)
    return paths, work


def _items(plan):
    items = []
    for path in plan.work_list_paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        items.append([piece["read"] for piece in json.loads(text)["pieces"]] if text else [])
    return items


@pytest.mark.parametrize("cores", [2, 3])
def test_local_items_are_a_multiple_of_the_cores_and_near_equal_in_work(tmp_path, monkeypatch,
                                                                        cores):
    monkeypatch.setattr(parse_inputs.os, "cpu_count", lambda: cores)
    paths, work = _files(tmp_path)
    # a file holds more than an eighth of a core's work: two items a core
    assert max(work.values()) * parse_inputs.ONE_WAVE_SHARE * cores > sum(work.values())
    (tmp_path / "plan").mkdir()
    plan = plan_inputs(paths, str(tmp_path / "plan"), runner="local")
    items = _items(plan)
    assert len(items) == 2 * cores, [len(item) for item in items]
    # every file once, in the given order (consecutive runs of files)
    assert [path for item in items for path in item] == paths
    loads = [sum(work[path] for path in item) for item in items]
    # a file goes whole to one item: no item is more than one file's work
    # (the largest) past an equal share, nor that far below it
    share, largest = sum(loads) / len(loads), max(work.values())
    assert all(abs(load - share) <= largest for load in loads), (loads, share, largest)
    # by uncompressed work, not by the bytes on disk (a third of the files are gzip)
    on_disk = [sum(len(open(path, "rb").read()) for path in item) for item in items]
    assert on_disk != loads


@pytest.mark.parametrize("cores", [2, 3])
def test_small_files_make_one_item_a_core(tmp_path, monkeypatch, cores):
    monkeypatch.setattr(parse_inputs.os, "cpu_count", lambda: cores)
    paths, work = _files(tmp_path, count=120, seed=7)
    # sizes 200-40,000 bytes over 120 files: none holds an eighth of a core's work
    assert max(work.values()) * parse_inputs.ONE_WAVE_SHARE * cores <= sum(work.values())
    (tmp_path / "plan").mkdir()
    items = _items(plan_inputs(paths, str(tmp_path / "plan"), runner="local"))
    # one wave of tasks: a task start a core fewer than two items a core
    assert len(items) == cores
    assert [path for item in items for path in item] == paths
    loads = [sum(work[path] for path in item) for item in items]
    share, largest = sum(loads) / cores, max(work.values())
    assert all(abs(load - share) <= largest for load in loads), (loads, share, largest)


def test_local_items_hold_at_most_the_item_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(parse_inputs.os, "cpu_count", lambda: 2)
    paths, work = _files(tmp_path, count=120, seed=7)
    (tmp_path / "plan").mkdir()
    # a caller's container_bytes caps the local items too: a multiple of the cores
    cap = sum(work.values()) // 5
    items = _items(plan_inputs(paths, str(tmp_path / "plan"), runner="local",
                               container_bytes=cap))
    assert len(items) == 6
    # without one, at most LOCAL_ITEM_BYTES an item
    monkeypatch.setattr(parse_inputs, "LOCAL_ITEM_BYTES", cap)
    (tmp_path / "plan2").mkdir()
    assert len(_items(plan_inputs(paths, str(tmp_path / "plan2"), runner="local"))) == 6


def test_inline_items_are_grouped_by_size_only(tmp_path, monkeypatch):
    monkeypatch.setattr(parse_inputs.os, "cpu_count", lambda: 2)
    paths, _ = _files(tmp_path)
    (tmp_path / "plan").mkdir()
    items = _items(plan_inputs(paths, str(tmp_path / "plan"), runner="inline"))
    # one process runs them all: one item while they fit in a container
    assert items == [paths]
