import os

import pytest

from tests.conftest import SLOW_UNITS, cluster_run_mark, next_unit, unit_of, unit_rank


def test_a_servers_tests_are_one_unit_and_other_files_their_own():
    assert unit_of("tests/mailbox/test_watch.py::test_c") == "mailbox"
    assert unit_of("tests/emr/test_batch.py::test_d") == "emr"
    assert unit_of("tests/jobs/test_mr_tfidf_vectors.py::test_e") == (
        "tests/jobs/test_mr_tfidf_vectors.py")
    assert unit_of("tests/test_helpers.py::test_f") == "tests/test_helpers.py"


def test_the_engine_files_are_units_of_their_own_sharing_one_cluster():
    assert unit_of("tests/engines/test_engines.py::test_a") == "tests/engines/test_engines.py"
    assert unit_of("tests/engines/test_cluster_native.py::test_b[x]") == (
        "tests/engines/test_cluster_native.py")
    assert cluster_run_mark("/h") == os.path.join("/h", "cluster", "started-by-test-run")


def test_slow_units_go_first_in_their_order_and_the_rest_keep_theirs():
    units = ["tests/test_helpers.py", "mailbox", "tests/jobs/test_mr_x.py",
             "tests/engines/test_engines.py"]
    assert sorted(units, key=unit_rank) == [
        "tests/engines/test_engines.py", "mailbox", "tests/test_helpers.py",
        "tests/jobs/test_mr_x.py"]


@pytest.mark.parametrize("unit", SLOW_UNITS)
def test_every_slow_unit_names_a_file_or_group_that_exists(unit):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    path = os.path.join(repo, unit) if "/" in unit else os.path.join(here, unit)
    assert os.path.exists(path), unit


def test_behind_a_slow_unit_a_worker_takes_the_lightest_unit_else_the_first():
    queue = ["tests/engines/test_killed_hadoop.py", "tests/jobs/test_a.py", "tests/test_z.py"]
    assert next_unit(queue, ["tests/engines/test_engines.py"]) == "tests/test_z.py"
    assert next_unit(queue, ["tests/jobs/test_b.py"]) == queue[0]
    assert next_unit(queue, []) == queue[0]
