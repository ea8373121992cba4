"""`jeeves run` with the email model (issue 17): records travel with the labelled
vectors, every group is fitted inside the folds, the report shows the ablation
and the messages behind the numbers, and the bundle scores a message alone as
the training pipeline does (`jeeves predict` and the scoring job, to 1e-9)."""

import glob
import io
import json
import os

import pytest
from sklearn.datasets import load_svmlight_file

from jeeves import cli
from jeeves.features.vocabulary import read_vocabulary_by_id
from jeeves.models.bundle import load_bundle
from jeeves.models.documents import Documents
from jeeves.models.registry import EMAIL_MODEL
from jeeves.models.vectors import labelled_line
from tests.fixtures.tiny_corpus import write_corpus

LABELS = "meeting*=1,other*=0"


def labelled_rows(out):
    """OUT/features/labelled -> (X, y, records) in message-id order."""
    lines = [line for path in sorted(glob.glob(os.path.join(out, "features", "labelled",
                                                            "part-*")))
             for line in open(path, "rb").read().splitlines() if line.strip()]
    parsed = [labelled_line(line, "labelled", number) for number, line in enumerate(lines)]
    terms, _ = read_vocabulary_by_id(os.path.join(out, "features", "vocabulary.tsv"))
    X, y = load_svmlight_file(io.BytesIO(b"\n".join(lines) + b"\n"), n_features=len(terms),
                              zero_based=True)
    order = sorted(range(len(parsed)), key=lambda row: parsed[row][0])
    return X.tocsr()[order], y.astype(int)[order], [parsed[row][1] for row in order]


@pytest.fixture(scope="module")
def email_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("email-run")
    corpus = root / "corpus"
    labels = write_corpus(str(corpus))
    out = root / "out"
    status = cli.main(["run", "--input", str(corpus), "--output", str(out), "--labels", LABELS,
                       "--models", EMAIL_MODEL, "--folds", "2", "--score"])
    return status, str(corpus), str(out), labels


def test_the_email_model_is_trained_reported_and_bundled(email_run):
    status, _, out, labels = email_run
    assert status == 0
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["chosen_model"] == EMAIL_MODEL
    assert [row["name"] for row in summary["ablation"]["rows"]] == [
        "text", "text + headers", "text + cues", "text + graph", "text + intent",
        "text + lsa", "all groups"]
    # the LSA sample: every tf-idf row of this small corpus, selected by a job
    assert os.path.exists(os.path.join(out, "features", "sample", "_SUCCESS"))
    _, _, records = labelled_rows(out)
    assert sorted(record["message_id"] for record in records) == sorted(labels)
    assert all(record.get("body") for record in records)
    report = open(os.path.join(out, "report", "report.md")).read()
    assert "## Feature groups (ablation, same folds)" in report
    assert "LSA: " in report and "of the %d messages' tf-idf rows" % len(labels) in report
    bundle = load_bundle(os.path.join(out, "model"))
    assert bundle.model["extra"]["input"] == "documents"


def test_predict_and_the_scoring_job_equal_the_training_pipeline(email_run, tmp_path):
    _, corpus, out, _ = email_run
    X, _, records = labelled_rows(out)
    bundle = load_bundle(os.path.join(out, "model"))
    # the final pipeline on the jobs' tf-idf rows and the label job's records
    expected = dict(zip((record["message_id"] for record in records),
                        bundle.estimator.predict_proba(Documents(X, records))[:, 1]))
    predicted = tmp_path / "predicted.jsonl"
    assert cli.main(["predict", "--model", os.path.join(out, "model"), corpus,
                     "--output", str(predicted)]) == 0
    scores = {row["message_id"]: row["score"] for row in map(json.loads, open(predicted))}
    assert scores.keys() == expected.keys()
    assert max(abs(scores[key] - expected[key]) for key in expected) <= 1e-9
    job = {row["message_id"]: row["score"]
           for path in glob.glob(os.path.join(out, "predictions", "scores", "part-*"))
           for row in map(json.loads, open(path)) if row}
    assert job.keys() == expected.keys()
    assert max(abs(job[key] - expected[key]) for key in expected) <= 1e-9


def test_the_intent_group_is_left_out_with_a_note_without_its_data(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus))
    out = tmp_path / "out"
    missing = tmp_path / "no-such-sentences.txt"
    assert cli.main(["run", "--input", str(corpus), "--output", str(out), "--labels", LABELS,
                     "--models", "logistic_regression,%s" % EMAIL_MODEL, "--folds", "2",
                     "--feature-groups", "cues,intent", "--no-ablation", "--no-graph",
                     "--intent-data", str(missing)]) == 0
    summary = json.load(open(out / "summary.json"))
    assert EMAIL_MODEL in summary["models"] and "ablation" not in summary
    report = (out / "report" / "report.md").read_text()
    assert "The intent feature group is left out: no sentence data at %s" % missing in report
    assert not (out / "features" / "sample").exists()


def test_without_the_email_model_the_examples_keep_subjects(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus))
    out = tmp_path / "out"
    assert cli.main(["run", "--input", str(corpus), "--output", str(out), "--labels", LABELS,
                     "--models", "logistic_regression", "--folds", "2", "--no-graph",
                     "--target-recall", "1.0"]) == 0
    _, _, records = labelled_rows(str(out))
    assert set(records[0]) <= {"message_id", "subject", "from", "date"}
    assert "subject" in records[0]


@pytest.mark.parametrize("args, message", [
    (["--feature-groups", "cues,nope"], "--feature-groups: unknown feature group 'nope'"),
    (["--train-on-cluster", "--models", EMAIL_MODEL],
     "--train-on-cluster compares the tf-idf models only"),
])
def test_bad_email_model_options_are_one_line(tmp_path, capsys, args, message):
    assert cli.main(["run", "--input", str(tmp_path), "--output", str(tmp_path / "out"),
                     "--labels", LABELS] + args) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_terminal_shows_the_ablation(email_run, capsys):
    from jeeves.cmd_run import ablation_text

    _, _, out, _ = email_run
    summary = json.load(open(os.path.join(out, "summary.json")))
    lines = ablation_text(summary["ablation"]).splitlines()
    assert lines[0].startswith("feature groups of %s, C " % EMAIL_MODEL)
    assert lines[1].split() == ["features", "ROC", "AUC", "PR", "AUC"]
    assert [line.split()[0] for line in lines[2:]] == ["text"] * 6 + ["all"]
