import os
import subprocess

import pytest

from tools import provision_wordnet

CHECK = os.path.join(provision_wordnet.REPO, "tools", "check_py39.sh")

NEWER_THAN_39 = {
    "match.py": "def f(x):\n    match x:\n        case 1:\n            return 1\n",
    "zip_strict.py": "def f(a, b):\n    return list(zip(a, b, strict=True))\n",
    "pairwise.py": "import itertools\n\n\ndef f(a):\n    return list(itertools.pairwise(a))\n",
    "union.py": "def f(x: int | None) -> int:\n    return 0\n",
}


def run_check(path):
    return subprocess.run([CHECK, str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("name", sorted(NEWER_THAN_39))
def test_check_rejects_310_construct_in_features(tmp_path, name):
    features = tmp_path / "features"
    features.mkdir()
    (features / name).write_text(NEWER_THAN_39[name])
    assert run_check(features).returncode != 0


def test_check_accepts_39_code(tmp_path):
    features = tmp_path / "features"
    features.mkdir()
    (features / "ok.py").write_text(
        "from __future__ import annotations\n\n\n"
        "def f(x: int | None) -> dict[str, int]:\n    return {}\n"
    )
    result = run_check(features)
    assert result.returncode == 0, result.stdout + result.stderr


def test_task_side_code_passes():
    repo = provision_wordnet.REPO
    result = subprocess.run(
        [CHECK, os.path.join(repo, "jobs"), os.path.join(repo, "features")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
