from tests.conftest import unit_of


def test_a_servers_tests_are_one_unit_and_other_files_their_own():
    assert unit_of("tests/engines/test_engines.py::test_a") == "engines"
    assert unit_of("tests/engines/test_cluster_native.py::test_b[x]") == "engines"
    assert unit_of("tests/mailbox/test_watch.py::test_c") == "mailbox"
    assert unit_of("tests/emr/test_batch.py::test_d") == "emr"
    assert unit_of("tests/jobs/test_mr_tfidf_vectors.py::test_e") == (
        "tests/jobs/test_mr_tfidf_vectors.py")
    assert unit_of("tests/test_helpers.py::test_f") == "tests/test_helpers.py"
