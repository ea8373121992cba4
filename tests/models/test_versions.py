"""Versioned model directories (models/versions.py): resolve, deploy, atomicity."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from jeeves.models import versions
from jeeves.models.bundle import METADATA_FILE, BundleError, load_predictor, save_bundle
from jeeves.models.registry import REGISTRY
from tests.models.corpus import tfidf_corpus
from tests.models.test_bundle import write_vocabulary


def fake_bundle(directory, tag="x"):
    """Enough of a bundle for the version logic: its metadata.json and a marker."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, METADATA_FILE), "w") as handle:
        json.dump({"format_version": 2}, handle)
    with open(os.path.join(directory, "tag"), "w") as handle:
        handle.write(tag)


def tag_of(directory):
    with open(os.path.join(directory, "tag")) as handle:
        return handle.read()


def test_a_plain_bundle_is_version_zero(tmp_path):
    fake_bundle(tmp_path / "model")
    assert versions.resolve(tmp_path / "model") == str(tmp_path / "model")
    first = versions.version_id(tmp_path / "model")
    assert first.startswith("bundle:")
    os.remove(tmp_path / "model" / METADATA_FILE)
    fake_bundle(tmp_path / "model")  # `jeeves run` writes the bundle anew
    os.utime(tmp_path / "model" / METADATA_FILE, ns=(1, 1))
    assert versions.version_id(tmp_path / "model") != first


def test_neither_bundle_nor_versions_is_an_error(tmp_path):
    with pytest.raises(BundleError, match="not a directory"):
        versions.resolve(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="neither a bundle"):
        versions.resolve(tmp_path / "empty")
    with pytest.raises(BundleError):
        versions.version_id(tmp_path / "empty")


def test_deploy_numbers_versions_and_moves_current(tmp_path):
    model = tmp_path / "model"
    first = versions.deploy(model, lambda d: fake_bundle(d, "one"), {"auc": 0.9})
    assert first == str(model / "v000001")
    assert versions.resolve(model) == first and tag_of(first) == "one"
    assert versions.version_id(model) == "v000001"
    assert versions.read_metrics(first) == {"auc": 0.9}
    second = versions.deploy(model, lambda d: fake_bundle(d, "two"), {"auc": 0.95})
    assert versions.resolve(model) == second == str(model / "v000002")
    assert versions.version_id(model) == "v000002"
    assert versions.versions(model) == ["v000001", "v000002"]
    assert tag_of(first) == "one"  # older versions stay for readers still using them


def test_deploy_over_a_plain_bundle_takes_over_from_version_zero(tmp_path):
    model = tmp_path / "model"
    fake_bundle(model, "zero")
    assert versions.resolve(model) == str(model)
    deployed = versions.deploy(model, lambda d: fake_bundle(d, "one"), {})
    assert versions.resolve(model) == deployed and tag_of(deployed) == "one"


def test_an_error_in_write_leaves_the_previous_version_current(tmp_path):
    model = tmp_path / "model"
    versions.deploy(model, lambda d: fake_bundle(d, "one"), {})

    def half_written(directory):
        fake_bundle(directory, "broken")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        versions.deploy(model, half_written, {})
    assert tag_of(versions.resolve(model)) == "one"
    assert sorted(os.listdir(model)) == [".deploy.lock", "CURRENT", "v000001"]
    assert versions.deploy(model, lambda d: fake_bundle(d, "two"), {}) == str(model / "v000002")


def test_a_crash_before_current_is_replaced_deploys_nothing(tmp_path, monkeypatch):
    model = tmp_path / "model"
    versions.deploy(model, lambda d: fake_bundle(d, "one"), {})
    real = versions.write_atomically

    def failing(path, data):
        if os.path.basename(path) == versions.CURRENT_FILE:
            raise OSError("killed")
        return real(path, data)

    monkeypatch.setattr(versions, "write_atomically", failing)
    with pytest.raises(OSError):
        versions.deploy(model, lambda d: fake_bundle(d, "two"), {})
    monkeypatch.undo()
    assert tag_of(versions.resolve(model)) == "one"
    # the finished but undeployed v000002 is never reused
    assert versions.deploy(model, lambda d: fake_bundle(d, "three"), {}) \
        == str(model / "v000003")


def test_a_killed_deploy_leaves_nothing_that_looks_finished(tmp_path):
    """SIGKILL in the middle of write(): a real crash, no cleanup runs."""
    model = tmp_path / "model"
    versions.deploy(model, lambda d: fake_bundle(d, "one"), {})
    script = textwrap.dedent("""
        import os, signal, sys
        from jeeves.models import versions
        def write(directory):
            open(os.path.join(directory, "metadata.json"), "w").write("{}")
            os.kill(os.getpid(), signal.SIGKILL)
        versions.deploy(sys.argv[1], write, {})
    """)
    done = subprocess.run([sys.executable, "-c", script, str(model)])
    assert done.returncode == -9
    left = sorted(os.listdir(model))
    assert [name for name in left if name.startswith("v000002")] != []  # the crash's debris
    assert versions.versions(model) == ["v000001"]
    assert tag_of(versions.resolve(model)) == "one"
    assert versions.deploy(model, lambda d: fake_bundle(d, "two"), {}) == str(model / "v000002")


@pytest.mark.parametrize("current", ["../elsewhere", "v1", "/etc", "v000009"])
def test_current_naming_anything_but_a_version_inside_is_refused(tmp_path, current):
    model = tmp_path / "model"
    versions.deploy(model, lambda d: fake_bundle(d), {})
    fake_bundle(tmp_path / "elsewhere")
    (model / "CURRENT").write_text(current + "\n")
    with pytest.raises(BundleError):
        versions.resolve(model)


def test_a_version_symlinked_out_of_the_directory_is_refused(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    fake_bundle(tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", model / "v000001")
    (model / "CURRENT").write_text("v000001\n")
    with pytest.raises(BundleError, match="outside"):
        versions.resolve(model)


def test_a_deployed_real_bundle_loads_and_scores(tmp_path):
    X, y, names, vectorizer = tfidf_corpus()
    estimator = REGISTRY["logistic_regression"].make_pipeline(0, X.shape[1]).fit(X, y)
    vocabulary = write_vocabulary(tmp_path / "vocabulary.tsv", names, vectorizer)

    def write(directory):
        save_bundle(directory, estimator, 0.5, {"lemmatize": False}, vocabulary,
                    "logistic_regression", X.shape[1])

    deployed = versions.deploy(tmp_path / "model", write, {"roc_auc": 1.0})
    predictor = load_predictor(versions.resolve(tmp_path / "model"))
    assert deployed.endswith("v000001")
    assert predictor.threshold == 0.5
    assert not [name for name in os.listdir(tmp_path / "model") if ".tmp-" in name]
