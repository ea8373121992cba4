"""Nothing generated is tracked by git (issue 27: nothing left behind).

Generated things are what a run, a build or a test leaves: model bundles
(four ``model-bundle-*`` directories were once committed at the root),
bytecode, native builds and wheels, virtualenvs, job outputs (``part-*``,
``_SUCCESS``, ``summary.json``) and the output directories of the demo and
the benchmarks. .gitignore names the usual ones; a tracked file it ignores
was added by force or before the rule, and is generated too.
"""

import fnmatch
import subprocess

import pytest

from tests.helpers import REPO

# fnmatch patterns of generated paths, matched against every path component
GENERATED_NAMES = ("model-bundle-*", "__pycache__", "*.pyc", "*.pyo", "*.so", "*.pyd",
                   "*.dylib", "*.whl", "*.egg-info", ".venv", ".venv-*", ".nltk_data",
                   ".pytest_cache", ".ruff_cache", ".hypothesis", "part-[0-9][0-9][0-9][0-9][0-9]",
                   "_SUCCESS", "jeeves-code-*", "jeeves-mrjob-*")
# generated directories at the top of the checkout
GENERATED_TOP = ("out", "demo-out", "build", "dist", ".cache")
# where hand-written inputs of the tests may look like a job's output
FIXTURES = "tests/fixtures/"


def git(*args):
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip("not a git checkout (git %s: %s)" % (" ".join(args), done.stderr.strip()))
    return done.stdout.splitlines()


def is_generated(path):
    parts = path.split("/")
    if parts[0] in GENERATED_TOP:
        return True
    return not path.startswith(FIXTURES) and any(
        fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in GENERATED_NAMES)


def test_git_tracks_nothing_that_gitignore_ignores():
    assert git("ls-files", "--cached", "--ignored", "--exclude-standard") == []


def test_git_tracks_nothing_generated():
    assert [path for path in git("ls-files") if is_generated(path)] == []


@pytest.mark.parametrize("path", ["model-bundle-3f2a/estimator.skops", "jobs/__pycache__/x.pyc",
                                  "out/messages/part-00000", "features/native/x.abi3.so",
                                  "demo-out/summary.json"])
def test_generated_paths_are_recognised(path):
    assert is_generated(path)


@pytest.mark.parametrize("path", ["models/bundle.py", "jobs/mr_score_messages.py",
                                  "tests/fixtures/counts/part-00000"])
def test_source_paths_are_not(path):
    assert not is_generated(path)
