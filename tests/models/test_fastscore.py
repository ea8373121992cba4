"""jeeves.models.fastscore: the numpy scorer of `jeeves predict` equals the
estimator on real mail."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from jeeves.features.mailformats import iter_found
from jeeves.features.parsing import outcome_of
from jeeves.features.text import Analyzer
from jeeves.features.vocabulary import read_vocabulary_table
from jeeves.models.bundle import SCORER_FILE, Bundle, load_bundle, load_predictor, save_bundle
from jeeves.models.fastscore import FastScorer, read_scorer, term_table
from jeeves.models.registry import REGISTRY
from jeeves.models.training import positive_scores

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPAMASSASSIN = os.path.join(os.path.dirname(REPO), "shared", "data", "spamassassin")
# no WordNet: the test is about the scorer, not the lemmatizer
ANALYZER = {"lemmatize": False, "stop_words": None, "ngram_max": 2}
SUPPORTED = ("logistic_regression", "multinomial_nb", "complement_nb", "bernoulli_nb",
             "linear_svc")
PER_FOLDER = 60


def real_records(folder, count, skip=0):
    """Parsed records of ``count`` messages of a SpamAssassin folder, after ``skip``."""
    directory = os.path.join(SPAMASSASSIN, folder)
    records = []
    for name in sorted(os.listdir(directory))[skip:]:
        with open(os.path.join(directory, name), "rb") as handle:
            data = handle.read()
        for found in iter_found(data, "file://" + name, name):
            kind, record, _ = outcome_of(found)
            if kind == "message":
                records.append(record)
        if len(records) >= count:
            break
    return records[:count]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(train records, labels, new records, fitted TfidfVectorizer, vocabulary.tsv path)."""
    if not os.path.isdir(SPAMASSASSIN):
        pytest.skip("../shared/data/spamassassin not found")
    ham, spam = real_records("easy-ham-1", PER_FOLDER), real_records("spam-1", PER_FOLDER)
    new = real_records("easy-ham-1", 20, skip=PER_FOLDER) + \
        real_records("spam-1", 20, skip=PER_FOLDER)
    # a message of no known term scores the intercept alone
    new.append(dict(new[0], message_id="empty@x", subject="", body="zzqx"))
    train = ham + spam
    vectorizer = TfidfVectorizer(analyzer=Analyzer(ANALYZER), min_df=2)
    vectorizer.fit(train)
    vocabulary = str(tmp_path_factory.mktemp("fastscore") / "vocabulary.tsv")
    with open(vocabulary, "w", encoding="utf-8") as handle:
        handle.write("term\tid\tdf\tidf\n")
        for index, (term, idf) in enumerate(zip(vectorizer.get_feature_names_out(),
                                                vectorizer.idf_)):
            handle.write("%s\t%d\t1\t%r\n" % (term, index, float(idf)))
    return train, np.array([0] * len(ham) + [1] * len(spam)), new, vectorizer, vocabulary


def saved(corpus, directory, name):
    """(bundle path, fitted estimator) of registry model ``name`` trained on the corpus."""
    train, labels, _, vectorizer, vocabulary = corpus
    X = vectorizer.transform(train)
    estimator = REGISTRY[name].make_pipeline(0, X.shape[1])
    clf = estimator.named_steps["clf"]
    # a few trees or rounds are enough to be an unsupported model
    clf.set_params(**{key: value for key, value in {"n_estimators": 3}.items()
                      if key in clf.get_params()})
    estimator.fit(X, labels)
    path = save_bundle(directory / name, estimator, 0.5, ANALYZER, vocabulary, name, X.shape[1])
    return path, estimator


@pytest.mark.parametrize("name", SUPPORTED)
def test_the_fast_scorer_equals_the_estimator_on_real_mail(corpus, tmp_path, name):
    _, _, new, vectorizer, _ = corpus
    path, estimator = saved(corpus, tmp_path, name)
    predictor = load_predictor(path)
    assert isinstance(predictor, FastScorer)
    expected = positive_scores(estimator, vectorizer.transform(new))
    predictions = predictor.predict(new)
    assert [row["message_id"] for row in predictions] == [record["message_id"]
                                                          for record in new]
    scores = np.array([row["score"] for row in predictions])
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)
    assert [row["label"] for row in predictions] == (expected >= 0.5).astype(int).tolist()
    # and as the full bundle scores them
    full = load_bundle(path).predict(new)
    np.testing.assert_allclose(scores, [row["score"] for row in full], rtol=0, atol=1e-9)
    # the scores are not all alike: the test could tell a wrong weight
    assert np.ptp(expected) > 0.1


@pytest.mark.parametrize("name", ["gaussian_nb", "random_forest"])
def test_an_unsupported_model_falls_back_to_the_full_bundle(corpus, tmp_path, name):
    _, _, new, vectorizer, _ = corpus
    path, estimator = saved(corpus, tmp_path, name)
    assert not os.path.exists(os.path.join(path, SCORER_FILE))
    predictor = load_predictor(path)
    assert isinstance(predictor, Bundle)
    np.testing.assert_allclose([row["score"] for row in predictor.predict(new)],
                               positive_scores(estimator, vectorizer.transform(new)),
                               rtol=0, atol=1e-12)


def test_a_bundle_without_the_scorer_file_loads_the_full_way(corpus, tmp_path):
    """A bundle saved before the scorer existed."""
    _, _, new, _, _ = corpus
    path, _ = saved(corpus, tmp_path, "logistic_regression")
    fast = [row["score"] for row in load_predictor(path).predict(new)]
    os.remove(os.path.join(path, SCORER_FILE))
    metadata_path = os.path.join(path, "metadata.json")
    with open(metadata_path, encoding="utf-8") as handle:
        metadata = json.load(handle)
    del metadata["sha256"][SCORER_FILE]
    with open(metadata_path, "w", encoding="utf-8") as handle:
        json.dump(metadata, handle)
    predictor = load_predictor(path)
    assert isinstance(predictor, Bundle)
    np.testing.assert_allclose([row["score"] for row in predictor.predict(new)], fast,
                               rtol=0, atol=1e-9)


def test_a_tampered_scorer_fails_predict_in_one_line(corpus, tmp_path, capsys):
    from jeeves import cli

    path, _ = saved(corpus, tmp_path, "logistic_regression")
    scorer = os.path.join(path, SCORER_FILE)
    with open(scorer, "rb") as handle:
        data = bytearray(handle.read())
    data[len(data) // 2] ^= 0xFF  # one weight changed
    with open(scorer, "wb") as handle:
        handle.write(data)
    email = tmp_path / "mail.eml"
    email.write_text("Subject: lunch\nFrom: a@x.com\nMessage-ID: <m@x>\n\nCan we meet?\n")
    assert cli.main(["predict", "--model", path, str(email)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "scorer.npz does not match its sha256 checksum" in lines[0]


def test_the_term_table_finds_the_rows_of_the_vocabulary(corpus, tmp_path):
    _, _, _, vectorizer, vocabulary = corpus
    path, _ = saved(corpus, tmp_path, "multinomial_nb")
    table = term_table(read_scorer(os.path.join(path, SCORER_FILE)))
    reference = read_vocabulary_table(vocabulary)
    terms = list(vectorizer.get_feature_names_out()[::7]) + ["zzqx", "", "not a term"]
    rows, expected = table.rows_of(terms), reference.rows_of(terms)
    assert (rows >= 0).tolist() == (expected >= 0).tolist() == [True] * (len(terms) - 3) + \
        [False] * 3
    found = rows >= 0
    assert table.ids[rows[found]].tolist() == reference.ids[expected[found]].tolist()
    assert table.idf[rows[found]].tolist() == reference.idf[expected[found]].tolist()


def test_the_scorer_file_is_the_same_bytes_for_the_same_model(corpus, tmp_path):
    first, _ = saved(corpus, tmp_path / "a", "linear_svc")
    second, _ = saved(corpus, tmp_path / "b", "linear_svc")
    with open(os.path.join(first, SCORER_FILE), "rb") as one, \
            open(os.path.join(second, SCORER_FILE), "rb") as other:
        assert one.read() == other.read()


COLD = """
import sys
from jeeves import cli
status = cli.main(["predict", "--model", sys.argv[1], sys.argv[2]])
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"sklearn", "skops", "scipy",
                                                               "mrjob", "nltk"})
commands = sorted(name for name in sys.modules if name.startswith("jeeves.cmd_"))
print("commands:", ",".join(commands), file=sys.stderr)
print("heavy:", ",".join(heavy), file=sys.stderr)
sys.exit(status)
"""


@pytest.mark.parametrize("name,fast", [("logistic_regression", True), ("gaussian_nb", False)])
def test_a_cold_predict_imports_scikit_learn_only_for_the_full_bundle(corpus, tmp_path, name,
                                                                      fast):
    path, _ = saved(corpus, tmp_path, name)
    email = tmp_path / "mail.eml"
    email.write_text("Subject: lunch\nFrom: a@x.com\nMessage-ID: <m@x>\n\nCan we meet?\n")
    done = subprocess.run([sys.executable, "-c", COLD, path, str(email)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["message_id"] == "m@x"
    heavy = done.stderr.strip().rsplit("heavy:", 1)[1].strip()
    # the CLI imports the chosen subcommand's module alone
    assert done.stderr.rsplit("commands:", 1)[1].split()[0] == "jeeves.cmd_predict"
    if fast:
        assert heavy == ""
    else:
        assert "sklearn" in heavy.split(",") and "skops" in heavy.split(",")
