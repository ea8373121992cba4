"""The train stage's fold checkpoints on disk (scripts/pipeline/train.py
CheckpointStore); killed runs that use them: tests/scripts/test_killed_runs.py."""

import os

from jeeves.pipeline.train import CheckpointStore
from jeeves.storage import Storage


def test_entries_survive_a_reopen_with_the_same_fingerprint(tmp_path):
    out = str(tmp_path / "out")
    store = CheckpointStore(Storage(), out, "a" * 64)
    assert store.get("nb-fold0.json") is None
    store.put("nb-fold0.json", b'{"x": 1}')
    again = CheckpointStore(Storage(), out, "a" * 64)
    assert again.get("nb-fold0.json") == b'{"x": 1}'
    assert sorted(os.listdir(os.path.join(out, "checkpoints", "train"))) == [
        "FINGERPRINT", "nb-fold0.json"]


def test_another_fingerprint_clears_what_an_earlier_run_left(tmp_path):
    out = str(tmp_path / "out")
    CheckpointStore(Storage(), out, "a" * 64).put("nb-fold0.json", b"{}")
    other = CheckpointStore(Storage(), out, "b" * 64)
    assert other.get("nb-fold0.json") is None
    assert other.get("FINGERPRINT") == b"b" * 64
