"""User errors end in one line on stderr and a non-zero exit, never a
traceback: a missing or unreadable input, an output that is a file, an
unknown runner profile, a full disk while a stage writes (which leaves no
completion marker). Through jeeves.cli.main in-process, and the real
`jeeves` in a subprocess where the process itself matters (its privileges,
its whole stderr)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jeeves.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "mail"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def jeeves(*args, prefix=(), cwd=None):
    """(exit status, stderr lines) of `python -m jeeves.cli ARGS`."""
    env = dict(os.environ, JEEVES_HOME=str(REPO))
    env.setdefault("NLTK_DATA", str(REPO / ".nltk_data"))
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "jeeves.cli", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd or REPO)
    return result.returncode, result.stderr.splitlines()


def jeeves_main(capsys, *args):
    """(exit status, stderr lines) of jeeves.cli.main(ARGS) in this process."""
    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exit:  # argparse's errors
        status = exit.code
    return status, capsys.readouterr().err.splitlines()


def assert_one_line(status, lines, command, *words):
    assert status != 0
    assert len(lines) == 1, lines
    assert lines[0].startswith("jeeves %s: error: " % command)
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("command", ["parse", "features", "graph", "run"])
def test_missing_input(tmp_path, capsys, command):
    status, lines = jeeves_main(capsys, command, "--input", tmp_path / "nowhere",
                                "--output", tmp_path / "out")
    assert_one_line(status, lines, command, "input not found", "nowhere")


def _without_root_powers():
    """A command prefix under which root obeys file modes, or None."""
    if not IS_ROOT:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


@pytest.mark.parametrize("what", ["file", "directory"])
def test_unreadable_input(tmp_path, what):
    prefix = _without_root_powers()
    if prefix is None:
        pytest.skip("running as root without setpriv: root reads every file")
    unreadable = tmp_path / "secret"
    if what == "file":
        shutil.copy(FIXTURES / "html_only.eml", unreadable)
    else:
        shutil.copytree(FIXTURES / "maildir", unreadable)
    unreadable.chmod(0)
    try:
        status, lines = jeeves("parse", "--input", unreadable, "--output", tmp_path / "out",
                               prefix=prefix)
    finally:
        unreadable.chmod(0o700)
    assert_one_line(status, lines, "parse", "not readable", str(unreadable))


@pytest.mark.parametrize("command", ["parse", "features", "graph", "run"])
def test_output_that_is_a_file(tmp_path, capsys, command):
    (tmp_path / "afile").write_text("not a directory\n")
    status, lines = jeeves_main(capsys, command, "--input", FIXTURES,
                                "--output", tmp_path / "afile")
    assert_one_line(status, lines, command, "afile", "is a file")
    status, lines = jeeves_main(capsys, command, "--input", FIXTURES,
                                "--output", tmp_path / "afile" / "out")
    assert_one_line(status, lines, command, "afile", "is a file")


def test_unknown_runner_profile(tmp_path):
    status, lines = jeeves("parse", "--input", FIXTURES, "--output", tmp_path / "out",
                           "--runner", "nosuch")
    assert_one_line(status, lines, "parse", "nosuch", "--runner")


def test_bad_flag_is_one_line_too(tmp_path, capsys):
    status, lines = jeeves_main(capsys, "parse", "--input", FIXTURES,
                                "--output", tmp_path / "out", "--no-such-flag")
    # argparse reports arguments no subcommand knows at the top level
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith("jeeves: error: unrecognized arguments: --no-such-flag")


def write_wide_corpus(directory, count=100):
    """Messages whose records are about three times their size on disk
    (Cyrillic text: two bytes in UTF-8, a six-byte \\u escape in JSON)."""
    directory.mkdir()
    text = "Встреча во вторник в три часа, переговорная на третьем этаже. " * 40
    for number in range(count):
        (directory / ("%03d.eml" % number)).write_bytes((
            "Message-ID: <wide-%d@example.com>\nFrom: a@example.com\nTo: b@example.com\n"
            "Subject: встреча %d\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n%s\n" % (number, number, text)).encode("utf-8"))
    return sum(path.stat().st_size for path in directory.iterdir())


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a tmpfs of that many bytes, unmounted at the end."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("a full disk is a small tmpfs: needs root and mount")
    mounted = []

    def mount(size):
        point = tmp_path / ("disk-%d" % len(mounted))
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs",
                                 str(point)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip("cannot mount a tmpfs here: %s" % result.stderr.strip())
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


@pytest.mark.parametrize("command", ["parse", "run"])
def test_full_disk_fails_cleanly_without_a_completion_marker(tmp_path, small_disk, command):
    raw_bytes = write_wide_corpus(tmp_path / "corpus")
    # room for a copy of the input, not for the records
    disk = small_disk(2 * raw_bytes)
    output = disk / "out"
    status, lines = jeeves(command, "--input", tmp_path / "corpus", "--output", output)
    assert_one_line(status, lines, command, "no space left")
    left = [path.name for path in output.rglob("*")] if output.exists() else []
    assert "_SUCCESS" not in left
    assert "summary.json" not in left
