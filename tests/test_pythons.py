"""tools/check_pythons.sh finds the other supported Pythons, refuses
interpreters that do not run (a pyenv shim of a version not selected) or
report another version, skips the main one, and says when none is found.
Run with a PATH holding only what the test puts there, so no smoke run
starts (the real ones run in `make test`)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "check_pythons.sh"
TOOLS = ("sh", "dirname", "head", "date", "mktemp", "rm", "touch", "tail", "cat")


def bin_directory(tmp_path, pythons):
    """A directory of the tools the script needs and the given fake pythons."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in TOOLS:
        (directory / tool).symlink_to(shutil.which(tool))
    for name, body in pythons.items():
        path = directory / name
        path.write_text("#!%s\n%s\n" % (shutil.which("sh"), body))
        path.chmod(0o755)
    return directory


def run_script(directory, main_python):
    return subprocess.run([str(directory / "sh"), str(SCRIPT), main_python],
                          capture_output=True, text=True, cwd=REPO,
                          env={"PATH": str(directory), "HOME": os.environ.get("HOME", "/")})


def test_no_other_python_found(tmp_path):
    main = "%d.%d" % sys.version_info[:2]
    broken_shim = 'echo "pyenv: python3.13: command not found" >&2; exit 127'
    liar = 'echo 3.11'  # says another version than its name
    directory = bin_directory(tmp_path, {"python3.13": broken_shim, "python3.12": liar})
    (directory / "python3").symlink_to(sys.executable)
    result = run_script(directory, "python3")
    assert result.returncode == 0, result.stderr
    others = [version for version in ("3.11", "3.12", "3.13") if version != main]
    assert result.stdout.splitlines() == [
        "python%s: not found, smoke run skipped" % version for version in others]


def test_main_python_version_is_not_smoke_tested_again(tmp_path):
    directory = bin_directory(tmp_path, {"python3": "echo 3.13"})
    result = run_script(directory, "python3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "python3.11: not found, smoke run skipped", "python3.12: not found, smoke run skipped"]
