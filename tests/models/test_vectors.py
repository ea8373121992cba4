import numpy as np
import pytest

from jeeves.features.vocabulary import read_vocabulary_by_id
from jeeves.models.vectors import join_labels, load_vectors


def test_load_vectors_reads_rows_and_message_ids(tmp_path):
    part = tmp_path / "part-00000"
    part.write_text(
        "# a comment-only line is skipped\n"
        "0 0:0.5 2:0.25 # \"<a@x>\"\n"
        "\n"
        "0 1:1.0 # \"b#2@x\"\n",
        encoding="utf-8")
    X, ids = load_vectors(str(part), n_features=4)
    assert ids == ["<a@x>", "b#2@x"]
    assert X.shape == (2, 4)
    np.testing.assert_allclose(X.toarray(), [[0.5, 0, 0.25, 0], [0, 1.0, 0, 0]])


def test_load_vectors_joins_part_files_of_a_directory_in_name_order(tmp_path):
    (tmp_path / "part-00001").write_text("0 3:2 # \"second\"\n", encoding="utf-8")
    (tmp_path / "part-00000").write_text("0 0:1 # \"first\"\n", encoding="utf-8")
    (tmp_path / "part-00002").write_text("", encoding="utf-8")
    (tmp_path / "_SUCCESS").write_text("", encoding="utf-8")
    X, ids = load_vectors(tmp_path, n_features=4)
    assert ids == ["first", "second"]
    np.testing.assert_allclose(X.toarray(), [[1, 0, 0, 0], [0, 0, 0, 2]])


def test_load_vectors_of_empty_input_is_an_empty_matrix(tmp_path):
    X, ids = load_vectors(tmp_path, n_features=3)
    assert X.shape == (0, 3)
    assert ids == []


def test_load_vectors_refuses_a_line_without_message_id(tmp_path):
    part = tmp_path / "part-00000"
    part.write_text("0 0:1 # \"a\"\n0 1:1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="part-00000:2"):
        load_vectors(part, n_features=2)


def test_load_vectors_refuses_a_missing_path(tmp_path):
    with pytest.raises(ValueError, match="no-such"):
        load_vectors(tmp_path / "no-such", n_features=2)


def test_load_vocabulary_orders_terms_by_id(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    vocabulary.write_text("term\tid\tdf\tidf\nmeet\t1\t3\t1.5\nwhere should\t0\t2\t2.25\n",
                          encoding="utf-8")
    terms, idf = read_vocabulary_by_id(vocabulary)
    assert terms == ["where should", "meet"]
    np.testing.assert_allclose(idf, [2.25, 1.5])


def test_load_vocabulary_refuses_a_gap_in_ids(tmp_path):
    vocabulary = tmp_path / "vocabulary.tsv"
    vocabulary.write_text("term\tid\tdf\tidf\na\t0\t1\t1.0\nb\t2\t1\t1.0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad id 2"):
        read_vocabulary_by_id(vocabulary)


def test_join_labels_keeps_labelled_rows_in_order(tmp_path):
    part = tmp_path / "part-00000"
    part.write_text('0 0:1 # "a"\n0 1:1 # "b"\n0 2:1 # "c"\n0 0:2 # "d"\n', encoding="utf-8")
    X, ids = load_vectors(part, n_features=3)
    X_labelled, y, kept = join_labels(X, ids, {"a": 1, "b": None, "d": 0})
    assert kept == ["a", "d"]
    assert y.tolist() == [1, 0]
    np.testing.assert_allclose(X_labelled.toarray(), [[1, 0, 0], [2, 0, 0]])


def test_load_vectors_names_the_file_of_a_malformed_line(tmp_path):
    part = tmp_path / "part-00003"
    part.write_text("0 2:1 1:1 # \"unsorted\"\n", encoding="utf-8")
    with pytest.raises(ValueError, match="part-00003.*sorted"):
        load_vectors(part, n_features=3)


def test_load_vectors_refuses_a_feature_id_outside_the_vocabulary(tmp_path):
    part = tmp_path / "part-00000"
    part.write_text("0 5:1 # \"a\"\n", encoding="utf-8")
    with pytest.raises(ValueError, match="part-00000"):
        load_vectors(part, n_features=3)
