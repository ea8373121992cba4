"""mr_label_messages: labels applied on the cluster equal label_records + join_labels."""

import io
import json
import random

import pytest
from sklearn.datasets import load_svmlight_file

from jeeves.features.tfidf import svmlight_line
from jeeves.jobs.mr_label_messages import MRLabelMessages
from jeeves.models.labels import label_records, labeller_from_spec
from jeeves.models.vectors import join_labels, labelled_line, load_vectors
from jeeves.taskcode import task_code_args
from tests.helpers import MRJOB_CONF

N_FEATURES = 30
FOLDERS = [["corpus", "meetings"], ["corpus", "other"], ["corpus", "spam", "x"], ["corpus"]]


def run(paths, args, output_dir, runner="inline", extra=()):
    """Run the job -> (output lines, counters of its steps merged)."""
    switches = ["-r", runner, "--output-dir", str(output_dir)]
    switches += ["--no-conf"] if runner == "inline" else ["-c", MRJOB_CONF] + task_code_args(runner)
    job = MRLabelMessages(args=switches + list(args) + list(extra) + [str(p) for p in paths])
    job.sandbox()
    with job.make_runner() as runner_:
        runner_.run()
        lines = b"".join(runner_.cat_output()).decode("utf-8").splitlines()
        counters = {}
        for step in runner_.counters():
            for name, value in step.get("label_messages", {}).items():
                counters[name] = counters.get(name, 0) + value
    return lines, counters


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Records (with sources beside .cats files for some), their vectors and a table.

    One record has no vector, one vector has no record, one message id has
    two vectors and one message has a vector with no feature.
    """
    rng = random.Random(14)
    root = tmp_path_factory.mktemp("labels")
    mail = root / "mail"
    mail.mkdir()
    records, vector_lines, table, cats_files = [], [], [], []
    for number in range(40):
        message_id = "m%02d/%d@x" % (number, number % 3)
        source = mail / ("%d.txt" % number)
        source.write_text("Subject: %d\n\nbody\n" % number)
        if number % 5:
            cats = mail / ("%d.cats" % number)
            cats.write_text("".join("%d,%d,1\n" % (rng.randint(1, 2), rng.randint(1, 3))
                                    for _ in range(rng.randint(1, 3))))
            cats_files.append(cats)
        records.append({"schema_version": 1, "message_id": message_id,
                        "subject": str(number), "body": "body",
                        "folder": FOLDERS[number % 4],
                        "labels": ["Meetings"] if number % 3 == 0 else [],
                        "source": {"uri": source.as_uri(), "index": 0, "offset": 0}})
        if number % 4 == 0:
            table.append("<%s>,%d" % (message_id, number % 8 == 0))
        if number == 7:
            continue  # a record without vector
        for _ in range(2 if number == 11 else 1):
            columns = sorted(rng.sample(range(N_FEATURES), 0 if number == 13 else 4))
            pairs = [(column, rng.random()) for column in columns]
            vector_lines.append(svmlight_line(pairs, message_id))
    vector_lines.append(svmlight_line([(1, 0.5)], "<orphan@x>"))
    messages = root / "messages"
    messages.mkdir()
    (messages / "part-00000").write_text(
        "".join(json.dumps(record) + "\n" for record in records[:25])
        + '"quarantine"\t{"reason": "x"}\n{broken\n')
    # the parse job's key/value form
    (messages / "part-00001").write_text(
        "".join('"message"\t' + json.dumps(record) + "\n" for record in records[25:]))
    tfidf = root / "tfidf"
    tfidf.mkdir()
    (tfidf / "part-00000").write_text("".join(line + "\n" for line in vector_lines[:20]))
    (tfidf / "part-00001").write_text("".join(line + "\n" for line in vector_lines[20:])
                                      + "0 1:0.5 no comment\n")
    # the same vectors for load_vectors, which refuses a line without comment
    valid = root / "vectors.svm"
    valid.write_text("".join(line + "\n" for line in vector_lines))
    table_path = root / "labels.csv"
    table_path.write_text("message_id,label\n" + "".join(row + "\n" for row in table))
    return {"records": records, "messages": sorted(messages.iterdir()),
            "tfidf": sorted(tfidf.iterdir()), "cats": cats_files, "table": table_path,
            "valid_vectors": valid}


def expected_rows(corpus, spec):
    """(sorted (id, label, row) triples, label counts) by models/labels + models/vectors."""
    labels, counts = label_records(corpus["records"], labeller_from_spec(spec))
    X, ids = load_vectors(corpus["valid_vectors"], N_FEATURES)
    X_labelled, y, ids_labelled = join_labels(X, ids, labels)
    rows = sorted((message_id, int(label), tuple(X_labelled[row].toarray().ravel()))
                  for row, (message_id, label) in enumerate(zip(ids_labelled, y)))
    return rows, counts


def output_rows(lines):
    """The job's lines -> sorted (id, label, row) triples."""
    if not lines:
        return []
    X, y = load_svmlight_file(io.BytesIO("\n".join(lines).encode("utf-8") + b"\n"),
                              n_features=N_FEATURES, zero_based=True)
    ids = [labelled_line(line.encode("utf-8"), "output", number)[0]
           for number, line in enumerate(lines, 1)]
    return sorted((message_id, int(label), tuple(X[row].toarray().ravel()))
                  for row, (message_id, label) in enumerate(zip(ids, y)))


def test_empty_input(tmp_path):
    (tmp_path / "empty").write_text("")
    assert run([tmp_path / "empty"], ["--labels", "meet*=1"], tmp_path / "out") == ([], {})


@pytest.mark.parametrize("spec", ["meet*=1,other*=0", "folder:spam/x", "label:Meetings",
                                  "cats:1,2"])
def test_equals_label_records_and_join_labels(corpus, tmp_path, spec):
    inputs = corpus["messages"] + corpus["tfidf"] + (corpus["cats"] if "cats" in spec else [])
    lines, counters = run(inputs, ["--labels", spec], tmp_path)
    rows, counts = expected_rows(corpus, spec)
    assert output_rows(lines) == rows
    assert 0 < sum(label for _, label, _ in rows) < len(rows)
    for name in ("labelled", "positive", "negative", "unlabelled"):
        assert counters.get(name, 0) == counts[name], name
    assert counters["invalid_json"] == 1 and counters["invalid_vector"] == 1
    without_vector = labeller_from_spec(spec)(corpus["records"][7]) is not None
    assert counters.get("labelled_without_vector", 0) == without_vector
    assert counters["vectors_unlabelled"] >= 1  # the orphan vector at least


def test_a_labels_table_is_shipped(corpus, tmp_path):
    lines, counters = run(corpus["messages"] + corpus["tfidf"],
                          ["--labels-file", str(corpus["table"])], tmp_path)
    rows, counts = expected_rows(corpus, str(corpus["table"]))
    assert output_rows(lines) == rows and len(rows) == 10
    assert counters["labelled"] == counts["labelled"]


def test_the_output_keeps_the_vector_lines(corpus, tmp_path):
    lines, _ = run(corpus["messages"] + corpus["tfidf"], ["--labels", "*=1"], tmp_path)
    originals = {line.split(" ", 1)[1] for path in corpus["tfidf"]
                 for line in path.read_text().splitlines() if " # " in line}
    assert {line.split(" ", 1)[1] for line in lines} <= originals
    assert {line.split(" ", 1)[0] for line in lines} == {"1"}
    # the featureless message keeps its line, the duplicate id its two lines
    assert sum(json.loads(line.split(" # ")[1]) == "m11/2@x" for line in lines) == 2
    assert "1 # \"m13/1@x\"" in lines


def test_local_runner_with_two_reducers_equals_inline(corpus, tmp_path):
    # a few .cats files only: each file is a map task, a process of its own
    inputs = corpus["messages"] + corpus["tfidf"] + corpus["cats"][:4]
    args = ["--labels", "cats:1,2"]
    inline, _ = run(inputs, args, tmp_path / "inline")
    local, counters = run(inputs, args, tmp_path / "local", runner="local",
                          extra=["--num-cores", "2", "--jobconf", "mapreduce.job.reduces=2"])
    assert sorted(local) == sorted(inline) and inline
    assert counters["labelled"] == 4


@pytest.mark.parametrize("args, message", [
    ([], "give one of --labels SPEC and --labels-file FILE"),
    (["--labels", "cats:x"], "bad category"),
    (["--labels", "nonsense"], "is not cats:TOP,SUB"),
])
def test_bad_label_arguments_are_refused_when_the_job_is_built(args, message):
    with pytest.raises(ValueError, match=message):
        MRLabelMessages(args=args)


def test_a_table_given_as_spec_is_refused(corpus):
    with pytest.raises(ValueError, match="--labels-file"):
        MRLabelMessages(args=["--labels", str(corpus["table"])])


def test_berkeley_cats_equal_the_cats_labeller(tmp_path):
    """Real .cats files beside real messages: the join by source stem."""
    from tests.jobs.berkeley import berkeley_records

    records = berkeley_records(8)
    # one vector a message (the join does not look into them)
    vectors = [svmlight_line([(number % N_FEATURES, 1.0)], record["message_id"])
               for number, record in enumerate(records)]
    (tmp_path / "messages").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "vectors").write_text("".join(line + "\n" for line in vectors))
    cats = [record["source"]["uri"][len("file://"):-len(".txt")] + ".cats" for record in records]
    lines, counters = run([tmp_path / "messages", tmp_path / "vectors"] + cats,
                          ["--labels", "cats:1,4"], tmp_path / "out")
    labels, counts = label_records(records, labeller_from_spec("cats:1,4"))
    assert {json.loads(line.split(" # ")[1]): int(line.split(" ")[0]) for line in lines} \
        == {message_id: label for message_id, label in labels.items() if label is not None}
    assert counters["labelled"] == counts["labelled"] == len(records)
    assert 0 < counters["positive"] == counts["positive"] < len(records)


def test_packed_cats_files_equal_the_cats_labeller(corpus, tmp_path):
    """All .cats files in one input (one map task), an empty one among them."""
    from jeeves.models.labels import packed_cats_line

    empty = corpus["cats"][0]
    original = empty.read_text()
    empty.write_text("")
    try:
        packed = tmp_path / "cats.jsonl"
        packed.write_text("".join(packed_cats_line(path.as_uri(), path.read_text()) + "\n"
                                  for path in corpus["cats"]) + '"cats"\t{"uri": 3}\n')
        lines, counters = run(corpus["messages"] + corpus["tfidf"] + [packed],
                              ["--labels", "cats:1,2"], tmp_path / "out")
        rows, counts = expected_rows(corpus, "cats:1,2")
    finally:
        empty.write_text(original)
    assert output_rows(lines) == rows
    assert any(message_id == "m01/1@x" and label == 0 for message_id, label, _ in rows)
    for name in ("labelled", "positive", "negative", "unlabelled"):
        assert counters.get(name, 0) == counts[name], name
    assert counters["invalid_cats"] == 1


def test_cats_lines_without_the_input_file_name_are_one_clear_error(monkeypatch):
    # as under mrjob's Spark harness, which names no input file
    for name in ("mapreduce_map_input_file", "map_input_file"):
        monkeypatch.delenv(name, raising=False)
    job = MRLabelMessages(args=["--labels", "cats:1,4"])
    job.mapper_init()
    assert list(job.mapper_route(None, '0 1:0.5 # "a@x"')) == [
        (["message", "a@x"], [2, "1:0.5"])]
    with pytest.raises(RuntimeError, match="input file name .* give the .cats files packed"):
        list(job.mapper_route(None, "1,4,2"))


@pytest.mark.parametrize("spec", ["meet*=1,other*=0", "cats:1,2"])
def test_records_travel_with_their_labelled_vectors(corpus, tmp_path, spec):
    inputs = corpus["messages"] + corpus["tfidf"] + (corpus["cats"] if "cats" in spec else [])
    plain, _ = run(inputs, ["--labels", spec], tmp_path / "plain")
    whole, _ = run(inputs, ["--labels", spec, "--records", "all"], tmp_path / "whole")
    some, _ = run(inputs, ["--labels", spec, "--records", "subject,folder"], tmp_path / "some")
    # the vectors and labels are those of the plain run; svmlight ignores the record
    assert output_rows(whole) == output_rows(some) == output_rows(plain) and plain
    by_id = {record["message_id"]: record for record in corpus["records"]}
    for number, line in enumerate(whole, 1):
        message_id, record = labelled_line(line.encode("utf-8"), "whole", number)
        assert record == by_id[message_id]
    for number, line in enumerate(some, 1):
        message_id, record = labelled_line(line.encode("utf-8"), "some", number)
        original = by_id[message_id]
        assert record == {"message_id": message_id, "subject": original["subject"],
                          "folder": original["folder"]}
    for number, line in enumerate(plain, 1):
        assert labelled_line(line.encode("utf-8"), "plain", number)[1] is None


def test_a_labelled_line_with_a_broken_record_is_refused():
    with pytest.raises(ValueError, match="x:3: svmlight line without"):
        labelled_line(b'1 0:1.0 # "a@x" {broken', "x", 3)
    with pytest.raises(ValueError, match="x:4"):
        labelled_line(b'1 0:1.0 # "a@x" [1]', "x", 4)
    assert labelled_line(b'1 0:1.0 # "a@x" {"subject": "s"}', "x", 5) == (
        "a@x", {"subject": "s"})


@pytest.mark.parametrize("runner", ["hadoop", "spark"])
def test_the_cats_steps_jobconf(runner):
    """Hadoop reads the joining step's svmlight lines whole; on Spark that
    step sets no jobconf, so mrjob runs both steps in one spark-submit
    (jobs.whole_line_reducer_jobconf; tests/engines/test_label_engines.py)."""
    job = MRLabelMessages(args=["-r", runner, "--labels", "cats:1,2"])
    jobconfs = [step.get("jobconf") for step in job._steps_desc()]
    assert jobconfs == [None, None if runner == "spark" else {
        "stream.reduce.output": "keyonlytext"}]
