"""Jeeves as an installed package, away from its checkout (docs/package.md).

The wheel and its virtualenv: tests/package_env.py.
"""

import json
import os
import zipfile

import pytest

from tests.fixtures.tiny_corpus import write_corpus
from tests.helpers import REPO
from tests.package_env import install_wheel, run_installed

pytestmark = pytest.mark.slow

LABELS = "meeting*=1,other*=0"
EMAIL_MODEL = "email_logistic_regression"
SUBPACKAGE_FOLDERS = {"jeeves": "scripts", "jeeves.jobs": "jobs", "jeeves.features": "features",
                      "jeeves.models": "models"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("package")
    installed = install_wheel(root)
    installed["corpus"] = str(root / "corpus")
    write_corpus(installed["corpus"])
    return installed


def test_the_wheel_holds_every_package_under_one_name(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"jeeves"}
    # every package folder of the repository is in the wheel, with its modules
    for package, folder in SUBPACKAGE_FOLDERS.items():
        for directory, _, files in os.walk(os.path.join(REPO, folder)):
            if "__init__.py" not in files or "__pycache__" in directory:
                continue
            relative = os.path.relpath(directory, os.path.join(REPO, folder))
            prefix = package.replace(".", "/") + ("" if relative == "." else "/" + relative)
            for module in files:
                if module.endswith(".py"):
                    assert "%s/%s" % (prefix, module) in names
    for data in ("jeeves/mrjob.conf", "jeeves/models/data/parakweet-intent.txt",
                 "jeeves/models/data/PARAKWEET-LICENSE"):
        assert data in names
    assert not any(name.startswith(("jeeves/tools", "jeeves/hadoop", "tools/")) for name in names)


def test_every_module_of_the_wheel_imports_from_it(installed):
    code = (
        "import importlib, pkgutil, jeeves, sys\n"
        "names = ['jeeves'] + [m.name for m in pkgutil.walk_packages(jeeves.__path__, 'jeeves.')]\n"
        "for name in names:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(%r), module.__file__\n"
        "print(len(names))\n" % installed["site"])
    done = run_installed(installed, installed["python"], "-c", code)
    assert int(done.stdout) > 60


@pytest.fixture(scope="module")
def runs(installed):
    """`jeeves run` inline and local from the wheel, then `jeeves predict` on a bundle."""
    outputs = {}
    for runner in ("inline", "local"):
        out = os.path.join(installed["work"], "out-" + runner)
        run_installed(installed, installed["jeeves"], "run", "--input", installed["corpus"],
               "--output", out, "--labels", LABELS, "--runner", runner, "--folds", "2",
               "--models", EMAIL_MODEL, "--no-ablation", "--score", "--no-graph",
               # the group read from package data, and the text it needs
               "--feature-groups", "text,intent")
        outputs[runner] = out
    message = os.path.join(installed["corpus"], sorted(os.listdir(installed["corpus"]))[0])
    message = os.path.join(message, sorted(os.listdir(message))[0])
    predicted = run_installed(installed, installed["jeeves"], "predict", "--model",
                       os.path.join(outputs["local"], "model"), message)
    return outputs, predicted


def test_jeeves_run_and_predict_work_from_the_wheel(installed, runs):
    outputs, predicted = runs
    summaries = {runner: json.load(open(os.path.join(out, "summary.json")))
                 for runner, out in outputs.items()}
    for summary in summaries.values():
        assert EMAIL_MODEL in summary["models"]
    # the email model's bundle has its intent group, trained from the packaged sentences
    for out in outputs.values():
        report = open(os.path.join(out, "report", "report.md")).read()
        assert "The intent feature group is left out" not in report
        model = json.load(open(os.path.join(out, "model", "model.json")))
        assert "intent" in model["extra"]["groups"]
    # the local runner's tasks imported the shipped zip, and both runners agree
    for name in ("features/vocabulary.tsv",):
        assert (open(os.path.join(outputs["inline"], name)).read()
                == open(os.path.join(outputs["local"], name)).read())
    lines = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(lines) == 1 and 0 <= lines[0]["score"] <= 1


def test_the_working_directory_holds_only_the_outputs(installed, runs):
    assert sorted(os.listdir(installed["work"])) == ["out-inline", "out-local"]
