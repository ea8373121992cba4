"""mr_score_messages: the scores of `jeeves predict`, computed in the tasks."""

import json

import pytest
from mrjob.step import StepFailedException
from sklearn.feature_extraction.text import TfidfVectorizer

from jeeves.cmd_predict import predict_paths
from jeeves.features.text import Analyzer
from jeeves.jobs.mr_score_messages import MRScoreMessages, bundle_file_args
from jeeves.models.bundle import BundleError, save_bundle
from jeeves.models.registry import REGISTRY
from jeeves.taskcode import task_code_args
from tests.helpers import MRJOB_CONF
from tests.models.corpus import texts_and_labels

ANALYZER = {"lemmatize": False, "ngram_max": 2}
NEW_MAIL = ["Can we meet on Monday to go over the gas budget?",
            "The quarterly report is attached, thanks.",
            "Let's schedule a call with legal on Friday afternoon.",
            "Nothing in the vocabulary at all: zzzz qqqq",
            "Please review the pipeline numbers before our meeting next week.",
            ""]


def records_of(texts, prefix="n"):
    return [{"schema_version": 1, "message_id": "%s%d@x" % (prefix, number),
             "subject": "note %d" % number, "body": text, "folder": ["inbox"],
             "source": {"uri": "file:///mail/%s%d.txt" % (prefix, number)}}
            for number, text in enumerate(texts)]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """A bundle trained on the models' corpus with a non-WordNet analyzer."""
    texts, labels = texts_and_labels()
    vectorizer = TfidfVectorizer(analyzer=Analyzer(ANALYZER))
    X = vectorizer.fit_transform(records_of(texts, "t"))
    estimator = REGISTRY["logistic_regression"].make_pipeline(0, X.shape[1]).fit(X, labels)
    directory = tmp_path_factory.mktemp("bundle")
    vocabulary = directory / "vocabulary.tsv"
    with open(vocabulary, "w", encoding="utf-8") as handle:
        handle.write("term\tid\tdf\tidf\n")
        for index, (term, idf) in enumerate(zip(vectorizer.get_feature_names_out(),
                                                vectorizer.idf_)):
            handle.write("%s\t%d\t1\t%r\n" % (term, index, float(idf)))
    return save_bundle(directory / "model", estimator, 0.5, ANALYZER, str(vocabulary),
                       "logistic_regression", X.shape[1])


@pytest.fixture(scope="module")
def messages(tmp_path_factory):
    """OUT/messages/-style JSON lines in two files, plus parse-output rows and bad lines."""
    directory = tmp_path_factory.mktemp("messages")
    records = records_of(NEW_MAIL) + records_of(texts_and_labels()[0][:20], "o")
    first, second = directory / "part-00000", directory / "part-00001"
    first.write_text("".join(json.dumps(record) + "\n" for record in records[:13]))
    second.write_text("".join(json.dumps(record) + "\n" for record in records[13:]))
    noisy = directory.parent / "noisy"
    noisy.write_text('"message"\t%s\n"quarantine"\t{"reason": "x"}\n{broken\n[1]\n{"a": 1}\n'
                     % json.dumps(records_of(["Meet me at noon?"], "p")[0]))
    return directory, records, noisy


def run(paths, args, output_dir, runner="inline", extra=()):
    """Run the job -> (prediction dicts, counters)."""
    switches = ["-r", runner, "--output-dir", str(output_dir)]
    switches += ["--no-conf"] if runner == "inline" else ["-c", MRJOB_CONF] + task_code_args(runner)
    job = MRScoreMessages(args=switches + list(args) + list(extra) + [str(p) for p in paths])
    job.sandbox()
    with job.make_runner() as runner_:
        runner_.run()
        lines = b"".join(runner_.cat_output()).decode("utf-8").splitlines()
        counters = runner_.counters()[0].get("score_messages", {})
    return [json.loads(line) for line in lines], counters


def test_empty_input(bundle_dir, tmp_path):
    (tmp_path / "empty").write_text("")
    assert run([tmp_path / "empty"], bundle_file_args(bundle_dir), tmp_path / "out") == ([], {})


def test_scores_equal_jeeves_predict(bundle_dir, messages, tmp_path):
    directory, records, _ = messages
    expected, quarantined = predict_paths(bundle_dir, [str(directory)])
    assert not quarantined and len(expected) == len(records)
    got, counters = run([directory], bundle_file_args(bundle_dir) + ["--batch-size", "4"],
                        tmp_path / "out")
    by_id = {row["message_id"]: row for row in got}
    assert sorted(by_id) == sorted(row["message_id"] for row in expected)
    for row in expected:
        assert by_id[row["message_id"]]["score"] == pytest.approx(row["score"], abs=1e-9)
        assert by_id[row["message_id"]]["label"] == row["label"]
        assert by_id[row["message_id"]]["source"] == row["source"]
    flagged = sum(row["label"] for row in expected)
    assert 0 < flagged < len(expected)
    assert counters == {"scored": len(expected), "flagged": flagged}


def test_bad_lines_are_counted(bundle_dir, messages, tmp_path):
    _, _, noisy = messages
    got, counters = run([noisy], bundle_file_args(bundle_dir), tmp_path / "out")
    assert [row["message_id"] for row in got] == ["p0@x"]
    assert counters == {"scored": 1, "flagged": got[0]["label"], "not_a_message_row": 1,
                        "invalid_json": 1, "not_a_record": 1, "missing_message_id": 1}


def test_local_runner_equals_inline(bundle_dir, messages, tmp_path):
    # two map tasks, each rebuilding and verifying the bundle (each imports
    # scikit-learn: seconds a task)
    directory, _, _ = messages
    args = bundle_file_args(bundle_dir) + ["--batch-size", "3"]
    inline, _ = run([directory], args, tmp_path / "inline")
    local, counters = run([directory], args, tmp_path / "local", runner="local",
                          extra=["--num-cores", "2", "--jobconf", "mapreduce.job.reduces=2"])
    key = lambda row: row["message_id"]  # noqa: E731
    assert sorted(local, key=key) == sorted(inline, key=key)
    assert counters["scored"] == len(inline)


def test_inline_tasks_read_the_estimator_once_and_verify_it_each_time(
        bundle_dir, messages, tmp_path, monkeypatch):
    """The inline runner runs every task in one process: the estimator is read
    once there, but every task verifies every checksum, so a bundle changed
    between two runs of one process still fails the second."""
    from jeeves.jobs import mr_score_messages

    directory, records, _ = messages
    reads, verified = [], []
    load, verify = mr_score_messages.load_bundle, mr_score_messages.verify_bundle
    monkeypatch.setattr(mr_score_messages, "load_bundle",
                        lambda path: reads.append(path) or load(path))
    monkeypatch.setattr(mr_score_messages, "verify_bundle",
                        lambda path: verified.append(path) or verify(path))
    monkeypatch.setattr(mr_score_messages, "_loaded", {})
    # two input files: two map tasks, in this process
    got, _ = run([directory], bundle_file_args(bundle_dir), tmp_path / "out")
    again, _ = run([directory], bundle_file_args(bundle_dir), tmp_path / "again")
    assert len(got) == len(records) and again == got
    assert len(reads) == 1 and len(verified) >= 4
    bad = tampered_copy(bundle_dir, tmp_path, "estimator.skops")
    with pytest.raises(BundleError, match="does not match its sha256 checksum"):
        run([directory], bundle_file_args(bad), tmp_path / "bad")


def tampered_copy(bundle_dir, tmp_path, name):
    """A copy of the bundle with one byte of ``name`` changed."""
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(bundle_dir, copy)
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    return copy


@pytest.mark.parametrize("name", ["estimator.skops", "vocabulary.tsv"])
def test_a_changed_byte_fails_the_job_before_scoring(bundle_dir, messages, tmp_path, name):
    directory, _, _ = messages
    bad = tampered_copy(bundle_dir, tmp_path, name)
    output = tmp_path / "out"
    with pytest.raises(BundleError, match="%s does not match its sha256 checksum" % name):
        run([directory], bundle_file_args(bad), output)
    assert not any(path.stat().st_size for path in output.glob("part-*"))


def test_a_changed_byte_fails_the_job_on_the_local_runner(bundle_dir, messages, tmp_path,
                                                         caplog):
    directory, _, _ = messages
    directory = directory / "part-00001"
    bad = tampered_copy(bundle_dir, tmp_path, "estimator.skops")
    output = tmp_path / "out"
    with pytest.raises(StepFailedException):
        run([directory], bundle_file_args(bad), output, runner="local")
    assert not any(path.stat().st_size for path in output.glob("part-*"))
    # mrjob names the task's error as the probable cause of the failure
    assert "estimator.skops does not match its sha256 checksum" in caplog.text


def test_no_bundle_is_refused_when_the_job_is_built(messages):
    with pytest.raises(ValueError, match="no --bundle-file"):
        MRScoreMessages(args=[str(messages[0])])
