"""jeeves.files: the one temp-then-rename helper."""

import os

import pytest

from jeeves.files import replaced_directory, write_atomically


def test_write_atomically_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "state.json"
    write_atomically(str(path), b"old")
    write_atomically(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["state.json"]
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    write_atomically(str(path), b"old")
    with pytest.raises(TypeError):
        write_atomically(str(path), "not bytes")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["state.json"]


def test_replaced_directory_swaps_whole_or_not_at_all(tmp_path):
    final = tmp_path / "messages"
    final.mkdir()
    (final / "part-00000").write_text("old")
    with pytest.raises(RuntimeError):
        with replaced_directory(str(final)) as staging:
            open(os.path.join(staging, "part-00000"), "w").write("half")
            raise RuntimeError("killed")
    assert (final / "part-00000").read_text() == "old" and os.listdir(tmp_path) == ["messages"]
    with replaced_directory(str(final)) as staging:
        open(os.path.join(staging, "part-00001"), "w").write("new")
    assert os.listdir(final) == ["part-00001"] and os.listdir(tmp_path) == ["messages"]
