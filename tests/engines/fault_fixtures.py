"""Fixture jobs of the fault tests (tests/engines/test_faults_*.py): test code,
not product jobs; their faults are switched on by their own arguments.

``MRSlowFirstAttempt`` (Hadoop, this file's ``__main__``): lines
``KEY<TAB>PAYLOAD`` -> per key ``[lines, payload bytes]``. With
``--slow-seconds S`` the first attempt (``_0``) of the first map task and
of the first reduce task sleeps S seconds before reading its input, which
stays unread in the pipe: the attempt's progress stalls, so Hadoop's
speculator starts a second attempt of the task; that one is not slowed, and
when it succeeds the first is killed. The attempt id comes from the
environment Hadoop streaming gives the task (``mapreduce_task_attempt_id``).

``MRFailFirstAttempt`` (Spark): the same computation; with ``--fail-marker
DIR`` the first attempt (``TaskContext.attemptNumber() == 0``) of the
first partition's mapper, once it has read its lines and counted them,
writes ``DIR/failed-<stage>-<partition>`` and raises, so Spark retries the
task. Outside Spark it never fails.

Counters (group ``faults``): ``lines`` read by the mappers, ``keys`` written
by the reducers.

Only the standard library and mrjob: on Hadoop this file is the job's script.
"""

import os
import time

from mrjob.job import MRJob
from mrjob.step import MRStep

GROUP = "faults"
FIRST_ATTEMPT_SUFFIXES = ("_m_000000_0", "_r_000000_0")


def first_attempt_of_first_task():
    """True in attempt _0 of map or reduce task 000000 on Hadoop."""
    return os.environ.get("mapreduce_task_attempt_id", "").endswith(FIRST_ATTEMPT_SUFFIXES)


class MRSlowFirstAttempt(MRJob):
    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg("--slow-seconds", type=float, default=0.0,
                              help="how long attempt _0 of the first map and reduce task sleeps")

    def slow_start(self):
        if self.options.slow_seconds and first_attempt_of_first_task():
            time.sleep(self.options.slow_seconds)

    def mapper_init(self):
        self.slow_start()
        self.lines = 0

    def mapper(self, _, line):
        key, _, payload = line.partition("\t")
        self.lines += 1
        yield key, len(payload.encode("utf-8"))

    def mapper_final(self):
        self.increment_counter(GROUP, "lines", self.lines)

    def reducer_init(self):
        self.slow_start()

    def reducer(self, key, sizes):
        lines = total = 0
        for size in sizes:
            lines += 1
            total += size
        self.increment_counter(GROUP, "keys", 1)
        yield key, [lines, total]

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper,
                       mapper_final=self.mapper_final, reducer_init=self.reducer_init,
                       reducer=self.reducer)]


class MRFailFirstAttempt(MRSlowFirstAttempt):
    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg("--fail-marker", default=None,
                              help="directory of the marker the failing first attempt writes")

    def mapper_final(self):
        super().mapper_final()  # the lines counted: a failed attempt's must not count
        if self.options.fail_marker is None:
            return
        try:
            from pyspark import TaskContext
        except ImportError:
            return
        context = TaskContext.get()
        if context is None or context.partitionId() != 0 or context.attemptNumber() != 0:
            return
        marker = os.path.join(self.options.fail_marker, "failed-%d-%d"
                              % (context.stageId(), context.partitionId()))
        with open(marker, "w", encoding="ascii") as handle:
            handle.write("attempt 0 failed on purpose\n")
        raise RuntimeError("fault fixture: the first attempt of partition 0 fails")


if __name__ == "__main__":
    MRSlowFirstAttempt.run()
