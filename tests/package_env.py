"""Jeeves built as a wheel and installed into a fresh virtualenv, for tests.

``install_wheel(root)`` builds the wheel from a copy of the repository's
tracked files (as a fresh clone has them) and installs it into a fresh
virtualenv under ``root``. That virtualenv takes the third-party packages
from the project's own virtualenv through a ``.pth`` line (pytest runs
without a network under `make test`; pip would resolve the same pins from
PyPI); the project virtualenv's own ``.pth`` files, the editable install of
the checkout among them, are not processed there. Commands run with
``run_installed`` from a directory outside the checkout, with PYTHONPATH and
JEEVES_HOME unset, HOME a fresh directory, and WordNet where a user would
have it (an NLTK data directory of its own, not the checkout's).
"""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from tests.helpers import REPO


def tracked_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def copy_tracked(target):
    """The repository's tracked files (as a fresh clone has them) under ``target``."""
    for name in tracked_files():
        source = os.path.join(REPO, name)
        if not os.path.lexists(source):
            continue
        destination = os.path.join(target, name)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
    return target


def copy_wordnet(target):
    """The WordNet files the lemma tables come from, in an NLTK data directory of the user's."""
    source = os.path.join(os.environ.get("NLTK_DATA", os.path.join(REPO, ".nltk_data")),
                          "corpora", "wordnet")
    if not os.path.isfile(os.path.join(source, "index.noun")):
        pytest.skip("no WordNet provisioned for the checkout (make setup)")
    wordnet = os.path.join(target, "corpora", "wordnet")
    os.makedirs(wordnet)
    for name in os.listdir(source):
        if os.path.isfile(os.path.join(source, name)) and not name.startswith("."):
            shutil.copy(os.path.join(source, name), wordnet)
    return target


def install_wheel(root):
    """Build and install (module docstring) -> a dict of paths and the environment."""
    root = str(root)
    source = copy_tracked(os.path.join(root, "source"))
    wheels = os.path.join(root, "wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", wheels, source], check=True,
                   capture_output=True)
    [wheel] = [os.path.join(wheels, name) for name in os.listdir(wheels) if name.endswith(".whl")]
    venv = os.path.join(root, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "jeeves-test-dependencies.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
                    "--no-deps", "--no-index", wheel], check=True, capture_output=True)
    home = os.path.join(root, "home")
    work = os.path.join(root, "work")
    os.makedirs(home)
    os.makedirs(work)
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "JEEVES_HOME", "NLTK_DATA", "VIRTUAL_ENV")}
    env.update(HOME=home, NLTK_DATA=copy_wordnet(os.path.join(root, "nltk_data")),
               PATH=os.pathsep.join([os.path.join(venv, "bin"), env.get("PATH", "")]),
               XDG_CACHE_HOME=os.path.join(home, ".cache"))
    return {"wheel": wheel, "python": python, "jeeves": os.path.join(venv, "bin", "jeeves"),
            "env": env, "work": work, "site": site}


def run_installed(installed, *command, env=None):
    """Run ``command`` in the installed environment (``env``: variables to add);
    assert it succeeded; return the CompletedProcess."""
    done = subprocess.run(list(command), cwd=installed["work"],
                          env=dict(installed["env"], **(env or {})),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


