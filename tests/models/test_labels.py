import pathlib

import pytest

from jeeves.models.labels import (
    CatsLabeller,
    FolderPatternLabeller,
    TableLabeller,
    label_records,
    labeller_from_spec,
)


def record(message_id="m1", folder=(), path=None):
    uri = pathlib.Path(path).as_uri() if path else "file:///corpus/" + message_id
    return {"message_id": message_id, "folder": list(folder),
            "source": {"uri": uri, "index": 0, "offset": 0}}


# folder patterns

def test_folder_patterns_label_spam_and_ham():
    labeller = labeller_from_spec("spam*=1,*ham*=0")
    assert isinstance(labeller, FolderPatternLabeller)
    assert labeller(record(folder=["corpus", "spam-2"])) == 1
    assert labeller(record(folder=["corpus", "easy-ham-1"])) == 0
    assert labeller(record(folder=["corpus", "hard-ham-1"])) == 0


def test_folder_patterns_innermost_segment_decides():
    labeller = labeller_from_spec("spam*=1,*ham*=0")
    # "spamassassin" matches spam*, but the nearer folder says ham
    assert labeller(record(folder=["data", "spamassassin", "easy-ham-2"])) == 0


def test_folder_patterns_first_rule_wins_within_a_segment():
    assert labeller_from_spec("*ham*=0,spam*=1")(record(folder=["spam-ham"])) == 0
    assert labeller_from_spec("spam*=1,*ham*=0")(record(folder=["spam-ham"])) == 1


def test_folder_patterns_leave_unmatched_messages_unlabelled():
    labeller = labeller_from_spec("spam*=1,*ham*=0")
    assert labeller(record(folder=["inbox"])) is None
    assert labeller(record(folder=[])) is None


def test_folder_pattern_with_slash_matches_the_source_path(tmp_path):
    labeller = labeller_from_spec("*/meetings/*=1,*=0")
    assert labeller(record(path="/mail/meetings/a.eml")) == 1
    # no folder segments: only the path rule can match, the bare "*" matches no segment
    assert labeller(record(path="/mail/other/a.eml")) is None
    assert labeller(record(folder=["other"], path="/mail/other/a.eml")) == 0


@pytest.mark.parametrize("spec, bad", [
    ("spam*=2", "'2'"),
    ("spam*=1,=0", "'=0'"),
    ("spam*=yes", "'yes'"),
])
def test_bad_folder_rule_names_the_bad_part(spec, bad):
    with pytest.raises(ValueError, match=bad):
        labeller_from_spec(spec)


def test_spec_that_is_no_known_form_is_refused():
    with pytest.raises(ValueError, match="nonsense"):
        labeller_from_spec("nonsense")
    with pytest.raises(ValueError, match="empty"):
        labeller_from_spec("  ")


# CSV / TSV tables

def test_csv_table_with_header_and_angle_brackets(tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text("message_id,label\n<a@x>,1\nb@x,0\n\n", encoding="utf-8")
    labeller = labeller_from_spec(str(table))
    assert isinstance(labeller, TableLabeller)
    assert labeller(record("a@x")) == 1
    assert labeller(record("b@x")) == 0
    assert labeller(record("c@x")) is None


def test_tsv_table_without_header(tmp_path):
    table = tmp_path / "labels.tsv"
    table.write_text("a@x\t0\nb,with,commas@x\t1\n", encoding="utf-8")
    labeller = labeller_from_spec(str(table))
    assert labeller(record("a@x")) == 0
    assert labeller(record("b,with,commas@x")) == 1


def test_table_with_a_bad_label_names_file_and_line(tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text("a@x,1\nb@x,spam\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels\.csv:2.*'spam'"):
        labeller_from_spec(str(table))


def test_table_with_conflicting_labels_is_refused(tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text("a@x,1\n<a@x>,0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="both 0 and 1"):
        labeller_from_spec(str(table))


def test_table_row_without_label_is_refused(tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text("a@x,1\nb@x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels\.csv:2"):
        labeller_from_spec(str(table))


# Berkeley .cats files

def write_message(folder, name, cats):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / (name + ".txt")).write_text("Subject: x\n\nbody\n", encoding="ascii")
    if cats is not None:
        (folder / (name + ".cats")).write_text(cats, encoding="ascii")
    return str(folder / (name + ".txt"))


def test_cats_labels_by_top_and_sub_category(tmp_path):
    positive = write_message(tmp_path / "4", "101", "1,4,2\n2,1,1\n")
    negative = write_message(tmp_path / "1", "102", "1,1,1\n4,4,1\n1,14,1\n")
    labeller = labeller_from_spec("cats:1,4")
    assert isinstance(labeller, CatsLabeller)
    assert labeller(record("p", path=positive)) == 1
    assert labeller(record("n", path=negative)) == 0


def test_cats_without_a_cats_file_is_unlabelled(tmp_path):
    orphan = write_message(tmp_path / "1", "103", None)
    assert labeller_from_spec("cats:1,4")(record("o", path=orphan)) is None


def test_cats_with_a_non_file_source_is_unlabelled():
    message = record("s")
    message["source"]["uri"] = "s3://bucket/1/104.txt"
    assert labeller_from_spec("cats:1,4")(message) is None


def test_cats_spec_accepts_spaces_and_leading_zeros(tmp_path):
    positive = write_message(tmp_path / "4", "105", "1,4,1\n")
    assert labeller_from_spec("cats: 01 , 4")(record("p", path=positive)) == 1


@pytest.mark.parametrize("spec", ["cats:", "cats:1", "cats:1,4,2", "cats:a,b"])
def test_bad_cats_spec_names_the_category(spec):
    with pytest.raises(ValueError, match="cats:TOP,SUB"):
        labeller_from_spec(spec)


# applying a labeller

def test_label_records_counts_labelled_and_unlabelled():
    records = [record("a", ["spam-1"]), record("b", ["easy-ham-1"]),
               record("c", ["spam-2"]), record("d", ["inbox"])]
    labels, counts = label_records(records, labeller_from_spec("spam*=1,*ham*=0"))
    assert labels == {"a": 1, "b": 0, "c": 1, "d": None}
    assert counts == {"labelled": 3, "unlabelled": 1, "positive": 2, "negative": 1}
