"""A Spark task that fails once and is retried gives the same output (issue 27).

The fixture job (tests/engines/fault_fixtures.py, ``MRFailFirstAttempt``)
fails the first attempt of its first partition's mapper
(``TaskContext.attemptNumber() == 0``) after writing a marker outside the
output. Spark's local master retries a task only when told how often
(``local[N,maxFailures]``: ``spark.task.maxFailures`` does not apply to
local masters), so the run gives ``--spark-master local[2,2]``, a runner
option, over the profile's ``local[2]``. The marker proves the attempt
failed; it had counted its lines first. The output and the counters equal
the inline run's, where nothing fails: the failed attempt's counts are not
in them.
"""

import os

import pytest

from tests.engines.fault_fixtures import MRFailFirstAttempt
from tests.engines.runners import assert_same_records, run_with_counters

pytestmark = pytest.mark.slow

INPUTS = [["k%02d\t%s" % (index % 7, "x" * index) for index in range(40)],
          ["k%02d\t%s" % (index % 5, "y" * index) for index in range(30)]]


def test_a_task_failed_once_is_retried_with_the_same_output(spark, tmp_path):
    expected, expected_counters = run_with_counters("inline", MRFailFirstAttempt, INPUTS)
    markers = tmp_path / "markers"
    markers.mkdir()
    output, counters = run_with_counters(
        "spark", MRFailFirstAttempt, INPUTS,
        ["--spark-master", "local[2,2]", "--fail-marker", str(markers)])
    assert [name.split("-")[0] for name in os.listdir(markers)] == ["failed"]
    assert_same_records(expected, output)
    assert counters[0]["faults"] == expected_counters[0]["faults"]
