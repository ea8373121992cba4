import json
import os

import pytest
from sklearn.datasets import load_svmlight_file

from jeeves import cli
from tests.fixtures.tiny_corpus import write_corpus

LABELS = "meeting*=1,other*=0"


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    corpus = root / "corpus"
    labels = write_corpus(str(corpus))
    out = root / "out"
    status = cli.main(["run", "--input", str(corpus), "--output", str(out), "--labels", LABELS,
                       "--models", "logistic_regression,multinomial_nb", "--folds", "2",
                       "--target-recall", "0.9"])
    return status, out, labels


def test_run_writes_the_output_contract(pipeline_run):
    status, out, _ = pipeline_run
    assert status == 0
    for path in ("messages/part-00000", "quarantine", "features/vocabulary.tsv",
                 "features/tfidf", "graph/contacts.tsv", "model/metadata.json",
                 "report/report.html", "report/report.md", "summary.json"):
        assert (out / path).exists(), path


def test_summary_reconciles_and_names_the_choice(pipeline_run):
    _, out, labels = pipeline_run
    summary = json.loads((out / "summary.json").read_text())
    parse = summary["stages"]["parse"]
    assert parse["read"] == parse["parsed"] + parse["quarantined"] + parse["duplicates"]
    assert parse["parsed"] == len(labels)
    assert summary["stages"]["labels"]["positive"] == sum(labels.values())
    assert summary["stages"]["labels"]["unlabelled"] == 0
    assert summary["runner"] == "inline"
    assert set(summary["models"]) == {"logistic_regression", "multinomial_nb"}
    assert summary["chosen_model"] in summary["models"]
    for model in summary["models"].values():
        for metric in ("roc_auc", "pr_auc", "precision", "recall", "f1"):
            assert set(model["cv"][metric]) == {"mean", "std"}


def test_vectors_hold_every_parsed_message(pipeline_run):
    _, out, labels = pipeline_run
    parts = sorted((out / "features" / "tfidf").glob("part-*"))
    ids = [json.loads(line.split(" # ", 1)[1]) for part in parts
           for line in part.read_text().splitlines()]
    assert sorted(ids) == sorted(labels)
    X, _ = load_svmlight_file([str(part) for part in parts if part.stat().st_size][0],
                              zero_based=True)
    assert X.shape[0] > 0


def test_predict_scores_one_email_whole(pipeline_run, tmp_path, capsys):
    _, out, _ = pipeline_run
    email = tmp_path / "new.eml"
    email.write_text("From: boss@enron.example.com\nTo: me@enron.example.com\n"
                     "Subject: meet next week?\nMessage-ID: <new-1@x>\n\n"
                     "Can we meet on Tuesday to discuss the budget? Where should we meet?\n")
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(out / "model"), str(email)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    prediction = json.loads(lines[0])
    assert prediction["message_id"] == "new-1@x"
    assert 0.0 <= prediction["score"] <= 1.0
    assert prediction["label"] in (0, 1)


def test_predict_agrees_with_the_pipeline_vectors(pipeline_run, capsys):
    """Scoring the training mail again through predict gives the scores the
    bundle gives the job's own tf-idf vectors."""
    _, out, _ = pipeline_run
    from jeeves.models.bundle import load_bundle
    from jeeves.models.vectors import load_vectors

    bundle = load_bundle(str(out / "model"))
    X, ids = load_vectors(str(out / "features" / "tfidf"), n_features=bundle.model["n_features"])
    expected = dict(zip(ids, bundle.score(X)))
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(out / "model"), str(out / "messages")]) == 0
    predicted = {row["message_id"]: row["score"] for row in map(
        json.loads, capsys.readouterr().out.splitlines())}
    assert predicted.keys() == expected.keys()
    for message_id, score in predicted.items():
        assert score == pytest.approx(expected[message_id], abs=1e-9)


def test_predict_refuses_a_tampered_bundle(pipeline_run, tmp_path, capsys):
    _, out, _ = pipeline_run
    import shutil
    bundle = tmp_path / "model"
    shutil.copytree(out / "model", bundle)
    with open(bundle / "vocabulary.tsv", "a") as handle:
        handle.write("planted\t999\t1\t1.0\n")
    assert cli.main(["predict", "--model", str(bundle), str(out / "messages")]) == 2
    error = capsys.readouterr().err
    assert "checksum" in error and len(error.strip().splitlines()) == 1


def test_predict_missing_input_is_one_line(pipeline_run, tmp_path, capsys):
    _, out, _ = pipeline_run
    status = cli.main(["predict", "--model", str(out / "model"), str(tmp_path / "nope.eml")])
    assert status == 2
    assert "input not found" in capsys.readouterr().err


def test_bad_label_spec_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus))
    status = cli.main(["run", "--input", str(corpus), "--output", str(tmp_path / "out"),
                       "--labels", "nonsense"])
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("jeeves run: error: --labels")


def test_run_without_labels_stops_before_training(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus))
    out = tmp_path / "out"
    assert cli.main(["run", "--input", str(corpus), "--output", str(out), "--no-graph"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "train" not in summary["stages"] and "graph" not in summary["stages"]
    assert not os.path.exists(out / "model")


def test_train_on_cluster_gives_the_local_choice(pipeline_run, tmp_path):
    _, out, _ = pipeline_run
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus))
    cluster_out = tmp_path / "cluster-out"
    assert cli.main(["run", "--input", str(corpus), "--output", str(cluster_out),
                     "--labels", LABELS, "--models", "logistic_regression,multinomial_nb",
                     "--folds", "2", "--target-recall", "0.9", "--no-graph",
                     "--train-on-cluster"]) == 0
    local = json.loads((out / "summary.json").read_text())
    cluster = json.loads((cluster_out / "summary.json").read_text())
    assert cluster["chosen_model"] == local["chosen_model"]
    assert cluster["threshold"] == pytest.approx(local["threshold"], abs=1e-9)
    for name, model in local["models"].items():
        assert cluster["models"][name]["fold_params"] == model["fold_params"]
        for metric, values in model["cv"].items():
            assert cluster["models"][name]["cv"][metric]["mean"] == pytest.approx(
                values["mean"], abs=1e-9), (name, metric)


def test_counter_lines_name_every_group():
    from jeeves.cmd_run import counter_lines

    summary = {"stages": {
        "parse": {"quarantine_reasons": {"not_email": 2}, "warnings": {}},
        "features": {"counters": {"count_ngrams": {"count_ngrams": {"messages": 5}}}},
        "graph": {"skipped": {"no_sender": 1}}}}
    assert counter_lines(summary) == [
        "parse    quarantine: not_email=2",
        "features count_ngrams: messages=5",
        "graph    skipped: no_sender=1",
    ]
