"""`jeeves run --test-input PATH --test-labels SPEC`: a held-out test set, parsed and
vectorized with the training vocabulary, scored by the chosen model."""

import json
import os

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from jeeves import cli
from jeeves.models.bundle import load_bundle
from jeeves.models.scoring import predict_records
from tests.fixtures.tiny_corpus import MEETING, OTHER, message_text, write_corpus

LABELS = "meeting*=1,other*=0"
TRAINING = ["--labels", LABELS, "--models", "logistic_regression,multinomial_nb",
            "--folds", "2", "--target-recall", "0.9", "--no-graph"]


def write_test_corpus(root):
    """Other messages than the training ones (new ids, subjects moved one along, a word
    the training vocabulary lacks) -> {message_id: label}."""
    labels = {}
    for kind, messages, label in (("meeting", MEETING, 1), ("other", OTHER, 0)):
        directory = os.path.join(root, kind + "-later")
        os.makedirs(directory, exist_ok=True)
        for index, (_, body) in enumerate(messages):
            number = 100 + index
            subject = messages[(index + 1) % len(messages)][0] + " zyzzyva"
            with open(os.path.join(directory, "%d.eml" % number), "w") as handle:
                handle.write(message_text(kind, number, subject, body))
            labels["%s-%d@tiny.example.com" % (kind, number)] = label
    return labels


@pytest.fixture(scope="module")
def heldout_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    write_corpus(str(root / "train"))
    test_labels = write_test_corpus(str(root / "test"))
    out = root / "out"
    status = cli.main(["run", "--input", str(root / "train"), "--output", str(out),
                       "--test-input", str(root / "test"), "--test-labels", LABELS] + TRAINING)
    return status, out, test_labels


def test_the_held_out_figures_are_the_bundles_scores_of_the_test_messages(heldout_run):
    status, out, test_labels = heldout_run
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    test = summary["test"]
    assert (test["messages"], test["positives"]) == (len(test_labels),
                                                     sum(test_labels.values()))
    assert summary["stages"]["test"]["labels"]["labelled"] == len(test_labels)
    records = [json.loads(line) for part in sorted((out / "test" / "messages").glob("part-*"))
               for line in part.read_text().splitlines() if line.strip()]
    assert sorted(record["message_id"] for record in records) == sorted(test_labels)
    # the bundle scores each test message whole, from its raw record: the same
    # figures as the test stage's vectors (training vocabulary and idf)
    predictions = predict_records(load_bundle(str(out / "model")), records)
    y = np.array([test_labels[row["message_id"]] for row in predictions])
    scores = np.array([row["score"] for row in predictions])
    assert test["roc_auc"] == pytest.approx(roc_auc_score(y, scores), abs=1e-9)
    assert test["pr_auc"] == pytest.approx(average_precision_score(y, scores), abs=1e-9)
    recall = ((scores >= summary["threshold"]) & (y == 1)).sum() / y.sum()
    assert test["recall"] == pytest.approx(recall)
    vocabulary = (out / "features" / "vocabulary.tsv").read_text()
    assert "zyzzyva" not in vocabulary


def test_the_report_shows_the_held_out_set_beside_cv(heldout_run):
    _, out, test_labels = heldout_run
    report = (out / "report" / "report.md").read_text()
    assert "## Held-out test set" in report
    row = [line for line in report.splitlines() if line.startswith("| held-out test set |")]
    assert row and row[0].split("|")[2].strip() == str(len(test_labels))
    assert "| cross-validation (out of fold) |" in report
    for name in ("messages", "features", "quarantine"):
        assert (out / "test" / name).is_dir()
    assert (out / "test" / "features" / "labelled" / "_SUCCESS").exists()


def test_test_labels_need_a_test_input(tmp_path, capsys):
    write_corpus(str(tmp_path / "train"))
    assert cli.main(["run", "--input", str(tmp_path / "train"), "--output",
                     str(tmp_path / "out"), "--test-labels", LABELS] + TRAINING) != 0
    assert "--test-labels labels the --test-input messages" in capsys.readouterr().err


def test_a_test_set_of_one_class_is_refused(tmp_path, capsys):
    write_corpus(str(tmp_path / "train"))
    write_test_corpus(str(tmp_path / "test"))
    assert cli.main(["run", "--input", str(tmp_path / "train"), "--output",
                     str(tmp_path / "out"), "--test-input", str(tmp_path / "test" / "other-later")]
                    + TRAINING) != 0
    error = capsys.readouterr().err
    assert "--test-labels labelled %d test messages, 0 positive" % len(OTHER) in error
    assert "Traceback" not in error
