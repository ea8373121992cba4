import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from jeeves.features.vocabulary import read_vocabulary_by_id, write_vocabulary
from jeeves.models.bundle import load_bundle
from jeeves.models.run import train_from_features
from jeeves.models.training import TrainingSettings
from tests.models.corpus import texts_and_labels

ANALYZER = {"ngram_range": [1, 2]}
SETTINGS = TrainingSettings(models="logistic_regression,complement_nb", n_splits=4)


def write_features(directory, documents, message_ids):
    """Write vocabulary.tsv and tfidf/ part files the way the tf-idf job lays them out."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    X = vectorizer.fit_transform(documents).tocsr()
    # svmlight lines list feature ids in increasing order
    X.sort_indices()
    features = directory / "features"
    (features / "tfidf").mkdir(parents=True)
    write_vocabulary(features / "vocabulary.tsv",
                     [(term, index, 1, float(vectorizer.idf_[index]))
                      for index, term in enumerate(vectorizer.get_feature_names_out())])
    # two part files, as two reducers would write them
    for part, rows in enumerate((range(0, X.shape[0], 2), range(1, X.shape[0], 2))):
        with open(features / "tfidf" / ("part-%05d" % part), "w", encoding="utf-8") as handle:
            for row in rows:
                start, end = X.indptr[row], X.indptr[row + 1]
                pairs = " ".join("%d:%r" % (column, float(value)) for column, value in
                                 zip(X.indices[start:end], X.data[start:end]))
                handle.write("0 %s # %s\n" % (pairs, json.dumps(message_ids[row])))
    return str(features)


def labelled_corpus():
    """(documents, message ids, labels, y): the corpus and one unlabelled note."""
    documents, y = texts_and_labels()
    documents = documents + ["An unlabelled note about the weather."]
    message_ids = ["m%d@example.com" % index for index in range(len(documents))]
    labels = {message_id: int(label) for message_id, label in zip(message_ids, y)}
    labels[message_ids[-1]] = None
    return documents, message_ids, labels, y


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("run")
    documents, message_ids, labels, y = labelled_corpus()
    features = write_features(directory, documents, message_ids)
    summary = train_from_features(features, labels, str(directory / "out"), ANALYZER, SETTINGS)
    return directory, summary, y


def test_summary_counts_labelled_and_unlabelled(trained):
    _, summary, y = trained
    assert summary["samples"] == len(y)
    assert summary["positives"] == int(y.sum())
    assert summary["featurized"] == len(y) + 1
    assert summary["unlabelled_featurized"] == 1
    assert set(summary["models"]) == {"logistic_regression", "complement_nb"}
    json.dumps(summary)


def test_report_and_bundle_are_written(trained):
    directory, summary, _ = trained
    out = directory / "out"
    for name in ("report.html", "report.md", "roc.png", "pr.png", "confusion.png"):
        assert (out / "report" / name).is_file()
    bundle = load_bundle(out / "model")
    assert bundle.model["model_name"] == summary["chosen_model"]
    assert bundle.threshold == summary["threshold"]
    assert bundle.analyzer_config == ANALYZER


def test_the_bundle_scores_one_new_email_as_one_document(trained):
    directory, _, _ = trained
    bundle = load_bundle(directory / "out" / "model")
    terms, idf = read_vocabulary_by_id(bundle.vocabulary_path)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), vocabulary=terms)
    vectorizer.idf_ = idf
    scores = bundle.score(vectorizer.transform(["Where should we meet on Tuesday?",
                                                "Your expense report has been approved."]))
    assert scores.shape == (2,)
    assert scores[0] > scores[1]
    assert np.isin(bundle.label(scores), (0, 1)).all()


def test_training_does_not_depend_on_the_part_files_layout(trained, tmp_path):
    """Another runner lays the same vectors out in other part files, in
    another order: same folds, same metrics, same threshold."""
    directory, summary, _ = trained
    features = directory / "features"
    relaid = tmp_path / "features"
    (relaid / "tfidf").mkdir(parents=True)
    (relaid / "vocabulary.tsv").write_bytes((features / "vocabulary.tsv").read_bytes())
    lines = [line for part in sorted((features / "tfidf").glob("part-*"))
             for line in part.read_text(encoding="utf-8").splitlines(True)]
    (relaid / "tfidf" / "part-00000").write_text("".join(reversed(lines)), encoding="utf-8")
    _, _, labels, _ = labelled_corpus()
    again = train_from_features(str(relaid), labels, str(tmp_path / "out"), ANALYZER, SETTINGS)
    for name, model in summary["models"].items():
        assert again["models"][name]["cv"] == model["cv"], name
        assert again["models"][name]["threshold"] == model["threshold"], name
    assert again["chosen_model"] == summary["chosen_model"]


def test_too_few_labels_is_a_value_error_with_counts(tmp_path):
    documents, _ = texts_and_labels()
    message_ids = ["m%d" % index for index in range(len(documents))]
    features = write_features(tmp_path, documents, message_ids)
    labels = {message_ids[0]: 1, message_ids[1]: 0}
    with pytest.raises(ValueError, match="got 1 positive and 1 negative"):
        train_from_features(features, labels, str(tmp_path / "out"), ANALYZER)
