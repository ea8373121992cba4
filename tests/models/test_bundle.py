import json
import os

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from jeeves.features.vocabulary import read_vocabulary_by_id
from jeeves.models.bundle import TRUSTED_TYPES, BundleError, load_bundle, save_bundle
from jeeves.models.registry import REGISTRY
from tests.models.corpus import texts_and_labels, tfidf_corpus

ANALYZER = {"ngram_range": [1, 2], "lowercase": True}


@pytest.fixture(scope="module")
def trained():
    X, y, names, vectorizer = tfidf_corpus()
    estimator = REGISTRY["logistic_regression"].make_pipeline(0, X.shape[1]).fit(X, y)
    return X, estimator, names, vectorizer


def write_vocabulary(path, names, vectorizer):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("term\tid\tdf\tidf\n")
        for index, (term, idf) in enumerate(zip(names, vectorizer.idf_)):
            handle.write("%s\t%d\t1\t%r\n" % (term, index, float(idf)))
    return str(path)


@pytest.fixture
def bundle_dir(trained, tmp_path):
    X, estimator, names, vectorizer = trained
    vocabulary = write_vocabulary(tmp_path / "vocabulary.tsv", names, vectorizer)
    return save_bundle(tmp_path / "out" / "model", estimator, 0.42, ANALYZER, vocabulary,
                       "logistic_regression", X.shape[1], extra={"pr_auc": 0.9})


def test_round_trip_gives_the_same_scores(trained, bundle_dir):
    X, estimator, _, _ = trained
    bundle = load_bundle(bundle_dir)
    np.testing.assert_array_equal(bundle.score(X), estimator.predict_proba(X)[:, 1])
    assert bundle.threshold == 0.42
    assert bundle.analyzer_config == ANALYZER
    assert bundle.model["model_name"] == "logistic_regression"
    assert bundle.model["extra"] == {"pr_auc": 0.9}
    assert bundle.metadata["versions"]["scikit-learn"]
    # a logistic regression also gets the numpy scorer (models/fastscore.py)
    assert set(bundle.metadata["sha256"]) == {
        "estimator.skops", "analyzer.json", "vocabulary.tsv", "model.json", "scorer.npz"}


def test_one_email_is_one_document_and_gets_one_score(bundle_dir):
    bundle = load_bundle(bundle_dir)
    terms, idf = read_vocabulary_by_id(bundle.vocabulary_path)
    vectorizer = TfidfVectorizer(ngram_range=tuple(bundle.analyzer_config["ngram_range"]),
                                 vocabulary=terms)
    vectorizer.idf_ = idf
    email_text = "Can we meet on Friday to discuss the budget?"
    scores = bundle.score(vectorizer.transform([email_text]))
    assert scores.shape == (1,)
    assert bundle.label(scores).tolist() == [int(scores[0] >= 0.42)]


def test_labels_follow_the_threshold(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert bundle.label(np.array([0.1, 0.42, 0.9])).tolist() == [0, 1, 1]


def test_scoring_features_of_another_vocabulary_is_refused(trained, bundle_dir):
    X, _, _, _ = trained
    with pytest.raises(BundleError, match="expects %d" % X.shape[1]):
        load_bundle(bundle_dir).score(X[:, :10])


@pytest.mark.parametrize("name", ["estimator.skops", "vocabulary.tsv", "model.json",
                                  "analyzer.json", "scorer.npz"])
def test_a_tampered_file_is_refused_by_name(bundle_dir, name):
    with open(os.path.join(bundle_dir, name), "ab") as handle:
        handle.write(b" ")
    with pytest.raises(BundleError, match="%s does not match its sha256" % name):
        load_bundle(bundle_dir)


def test_a_missing_file_is_refused(bundle_dir):
    os.remove(os.path.join(bundle_dir, "vocabulary.tsv"))
    with pytest.raises(BundleError, match="missing vocabulary.tsv"):
        load_bundle(bundle_dir)


def edit_metadata(bundle_dir, change):
    path = os.path.join(bundle_dir, "metadata.json")
    with open(path, encoding="utf-8") as handle:
        metadata = json.load(handle)
    change(metadata)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(metadata, handle)


def test_another_format_version_is_refused(bundle_dir):
    edit_metadata(bundle_dir, lambda metadata: metadata.update(format_version=99))
    with pytest.raises(BundleError, match="format version 99"):
        load_bundle(bundle_dir)


def test_another_scikit_learn_version_is_refused(bundle_dir):
    edit_metadata(bundle_dir, lambda metadata: metadata["versions"].update(
        {"scikit-learn": "0.24.2"}))
    with pytest.raises(BundleError, match="scikit-learn 0.24.2"):
        load_bundle(bundle_dir)


def test_unreadable_metadata_is_refused(bundle_dir):
    with open(os.path.join(bundle_dir, "metadata.json"), "w", encoding="utf-8") as handle:
        handle.write("{not json")
    with pytest.raises(BundleError, match="metadata"):
        load_bundle(bundle_dir)


def test_a_path_that_is_no_bundle_is_refused(tmp_path):
    with pytest.raises(BundleError, match="not a directory"):
        load_bundle(tmp_path / "nothing")
    with pytest.raises(BundleError, match="metadata"):
        load_bundle(tmp_path)


def test_bundle_error_is_a_value_error():
    assert issubclass(BundleError, ValueError)


def test_saving_again_replaces_the_bundle(trained, bundle_dir, tmp_path):
    X, estimator, _, _ = trained
    save_bundle(bundle_dir, estimator, 0.7, ANALYZER, os.path.join(bundle_dir, "vocabulary.tsv"),
                "logistic_regression", X.shape[1])
    assert load_bundle(bundle_dir).threshold == 0.7
    # nothing is left behind next to the bundle
    assert sorted(os.listdir(os.path.dirname(bundle_dir))) == ["model"]


def test_a_failed_save_leaves_no_bundle(trained, tmp_path):
    X, estimator, _, _ = trained
    target = tmp_path / "model"
    with pytest.raises(FileNotFoundError):
        save_bundle(target, estimator, 0.5, ANALYZER, tmp_path / "no-vocabulary.tsv",
                    "logistic_regression", X.shape[1])
    assert os.listdir(tmp_path) == []


def test_texts_fixture_is_labelled_both_ways():
    # guards the fixture the bundle tests train on
    _, labels = texts_and_labels()
    assert set(labels.tolist()) == {0, 1}


class UnknownClassifier(ClassifierMixin, BaseEstimator):
    """A type no bundle of Jeeves contains: loading must refuse it."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((X.shape[0], 2), 0.5)


def test_an_unknown_type_is_refused_in_one_line(trained, tmp_path):
    X, _, names, vectorizer = trained
    estimator = Pipeline([("clf", UnknownClassifier())]).fit(X, np.arange(X.shape[0]) % 2)
    vocabulary = write_vocabulary(tmp_path / "vocabulary.tsv", names, vectorizer)
    directory = save_bundle(tmp_path / "model", estimator, 0.5, ANALYZER, vocabulary,
                            "unknown", X.shape[1])
    with pytest.raises(BundleError) as refused:
        load_bundle(directory)
    message = str(refused.value)
    assert "types Jeeves does not trust" in message
    assert "tests.models.test_bundle.UnknownClassifier" in message
    assert "\n" not in message


def test_the_estimator_file_is_no_pickle(bundle_dir):
    # skops files are zip archives holding a JSON schema; a pickle starts with 0x80
    with open(os.path.join(bundle_dir, "estimator.skops"), "rb") as handle:
        assert handle.read(2) == b"PK"


def test_every_model_of_the_registry_loads_with_the_trusted_types(trained, tmp_path):
    X, _, names, vectorizer = trained
    y = np.array([0, 1] * (X.shape[0] // 2) + [0] * (X.shape[0] % 2))
    vocabulary = write_vocabulary(tmp_path / "vocabulary.tsv", names, vectorizer)
    for name, spec in REGISTRY.items():
        estimator = spec.make_pipeline(0, X.shape[1])
        # a few trees or rounds hold the same types as a hundred, in a fraction of the time
        small = {"n_estimators": 3, "max_iter": 3}
        clf = estimator.named_steps["clf"]
        clf.set_params(**{key: value for key, value in small.items() if key in clf.get_params()})
        estimator.fit(X, y)
        directory = save_bundle(tmp_path / name, estimator, 0.5, ANALYZER, vocabulary, name,
                                X.shape[1])
        np.testing.assert_allclose(load_bundle(directory).score(X),
                                   estimator.predict_proba(X)[:, 1], rtol=0, atol=1e-12)


def test_trusted_types_are_named_once():
    assert len(set(TRUSTED_TYPES)) == len(TRUSTED_TYPES)


def test_an_email_pipeline_scores_one_message_from_the_bundle_as_in_training(tmp_path):
    """Every group (graph statistics, sentence model, SVD) travels in the bundle: one
    message scored alone from the loaded bundle equals the training pipeline's score."""
    from jeeves.models.documents import Documents
    from jeeves.models.email_features import email_pipeline
    from jeeves.models.intent import train_intent_model
    from jeeves.models.lsa import fit_corpus_svd
    from tests.models.test_email_features import INTENT_LABELS, INTENT_SENTENCES, corpus

    docs, y = corpus()
    estimator = email_pipeline(
        ["chars", "headers", "cues", "graph", "intent", "lsa"],
        intent_model=train_intent_model(INTENT_SENTENCES, INTENT_LABELS),
        corpus_svd=fit_corpus_svd(docs.tfidf, n_components=4)).fit(docs, y)
    terms = ["t%d" % index for index in range(docs.shape[1])]
    with open(tmp_path / "vocabulary.tsv", "w", encoding="utf-8") as handle:
        handle.writelines("%s\t%d\t1\t1.0\n" % (term, index) for index, term in enumerate(terms))
    directory = save_bundle(tmp_path / "model", estimator, 0.5, ANALYZER,
                            tmp_path / "vocabulary.tsv", "email_logistic_regression",
                            docs.shape[1])
    bundle = load_bundle(directory)
    expected = estimator.predict_proba(docs)[:, 1]
    # fresh Documents per message: nothing shared with the training rows
    alone = [bundle.score(Documents(docs.tfidf[row], [dict(docs.records[row])]))[0]
             for row in range(len(docs))]
    np.testing.assert_allclose(alone, expected, rtol=0, atol=1e-9)


def test_jeeves_predict_refuses_an_unknown_type_in_one_line(trained, tmp_path, capsys):
    from jeeves import cli

    X, _, names, vectorizer = trained
    estimator = Pipeline([("clf", UnknownClassifier())]).fit(X, np.arange(X.shape[0]) % 2)
    vocabulary = write_vocabulary(tmp_path / "vocabulary.tsv", names, vectorizer)
    directory = save_bundle(tmp_path / "model", estimator, 0.5, ANALYZER, vocabulary,
                            "unknown", X.shape[1])
    email = tmp_path / "mail.txt"
    email.write_text("Subject: lunch\nFrom: a@x.com\n\nCan we meet on Friday?\n")
    assert cli.main(["predict", "--model", directory, str(email)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "types Jeeves does not trust" in lines[0]


def test_vocabulary_bytes_read_as_the_file_reader_reads_the_file(tmp_path):
    from jeeves.features.vocabulary import read_vocabulary_by_id, read_vocabulary_rows
    from jeeves.models.bundle import vocabulary_rows, vocabulary_terms

    # more than a 1 MiB block of rows, terms of every width, ids not in file order
    rows = [("t\u00e9rm%d %s" % (index, "\u4e2d" * (index % 5)), (index * 7919) % 40000,
             1 + index % 13, 1.0 + index / 3.0) for index in range(40000)]
    path = tmp_path / "vocabulary.tsv"
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("term\tid\tdf\tidf\n")
        handle.writelines("%s\t%d\t%d\t%r\n" % row for row in rows)
    data = path.read_bytes()
    assert len(data) > 1 << 20
    assert vocabulary_rows(data) == read_vocabulary_rows(str(path)) == rows
    assert vocabulary_terms(vocabulary_rows(data)) == read_vocabulary_by_id(str(path))[0]
    # refused where the file reader refuses: header, fields, ids
    for bad in (b"word\tid\tdf\tidf\nx\t0\t1\t1.0\n", b"term\tid\tdf\tidf\nx\t0\t1\n",
                b"term\tid\tdf\tidf\nx\t0\t1\t1.0\ny\t0\t1\t1.0\n"):
        path.write_bytes(bad)
        with pytest.raises(ValueError):
            read_vocabulary_by_id(str(path))
        with pytest.raises(ValueError):
            vocabulary_terms(vocabulary_rows(bad))


def test_a_bundle_sent_through_storage_is_the_saved_bundle(trained, tmp_path):
    """The train stage's bundle (models.bundle.bundle_files, sent file by file from
    memory) holds the bytes save_bundle writes; only metadata.json's time may differ."""
    from jeeves.models.bundle import METADATA_FILE, bundle_files
    from jeeves.pipeline.train import send_bundle
    from jeeves.storage import Storage

    X, estimator, names, vectorizer = trained
    vocabulary = write_vocabulary(tmp_path / "vocabulary.tsv", names, vectorizer)
    saved = save_bundle(tmp_path / "saved", estimator, 0.5, ANALYZER, vocabulary,
                        "logistic_regression", X.shape[1], extra={"pr_auc": 0.9})
    with open(vocabulary, "rb") as handle:
        data = handle.read()
    files = bundle_files(estimator, 0.5, ANALYZER, data, "logistic_regression", X.shape[1],
                         extra={"pr_auc": 0.9})
    assert list(files)[-1] == METADATA_FILE and "scorer.npz" in files
    storage = Storage()
    sent = send_bundle(storage, str(tmp_path / "sent"), estimator, 0.5, ANALYZER, data,
                       "logistic_regression", X.shape[1], extra={"pr_auc": 0.9})
    assert sorted(os.listdir(sent)) == sorted(os.listdir(saved)) == sorted(files)
    for name in files:
        with open(os.path.join(saved, name), "rb") as handle:
            saved_bytes = handle.read()
        with open(os.path.join(sent, name), "rb") as handle:
            sent_bytes = handle.read()
        if name == METADATA_FILE:
            saved_bytes, sent_bytes, made = (
                {key: value for key, value in json.loads(found).items() if key != "created"}
                for found in (saved_bytes, sent_bytes, files[name]))
            assert made == saved_bytes
        else:
            assert files[name] == saved_bytes
        assert sent_bytes == saved_bytes, name
    # each file once: what the storage wrote is the files' bytes, nothing more
    assert storage.bytes_written == sum(len(data) for data in files.values())
    np.testing.assert_allclose(load_bundle(sent).score(X), load_bundle(saved).score(X),
                               rtol=0, atol=0)
