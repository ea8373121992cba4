"""MRJobs, one per file. Each is a thin adapter over `jeeves.features`.

Importing this package has no side effects. On every runner but inline the
driver ships the running ``jeeves`` package to the tasks as one zip
(jeeves.taskcode), so a task imports exactly the code the driver runs.
"""

import contextlib
import io
import os
import sys


def positive_int(text):
    """argparse type of the jobs' size options: an int of 1 or more.

    A bad value stops the job on the driver with argparse's one-line error,
    not with a task failing on a division by zero or an empty batch.
    """
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % (text,)) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more, not %d" % value)
    return value


# Hadoop streaming splits each output line into key and value and writes key
# SEPARATOR value: a tab-less line (svmlight, JSON values) would gain a
# trailing tab (an empty output separator has no effect: a trailing tab
# still). Splitting and joining at the first space instead (what these jobs
# did until session 18) gave a line without a space (a compact JSON record
# of a message without one) a trailing space. The map-only jobs that write
# whole lines read their task's output as keys alone (streaming's
# ``keyonlytext``: the line is the key, the value NullWritable, which
# TextOutputFormat writes without a separator): every line back unchanged.
WHOLE_LINE_OUTPUT_JOBCONF = {"stream.map.output": "keyonlytext"}
# the same for a step whose reducer writes whole lines (set on that step
# only: its map output must still split at the tab of its JSON key)
WHOLE_LINE_REDUCER_OUTPUT_JOBCONF = {"stream.reduce.output": "keyonlytext"}


def whole_line_reducer_jobconf(runner):
    """The jobconf of a step whose reducer writes whole lines, for a job run
    with ``runner`` (its ``self.options.runner``): WHOLE_LINE_REDUCER_OUTPUT_JOBCONF,
    but none on Spark.

    mrjob 0.7.4's Spark runner runs consecutive streaming steps of one jobconf
    in one ``spark-submit``; a step whose jobconf differs from the one before
    gets a ``spark-submit`` of its own, whose harness is given that step's
    description alone but, still, the step's number in the whole job
    (``--first-step-num``): it finds no step at that number, runs none, and
    the job's output is the step before's, with no error. Spark never reads
    tasks' output through Hadoop streaming, so the step goes without it
    there and runs with the others (tests/engines/test_label_engines.py,
    tests/engines/test_cluster_cv_engines.py)."""
    return {} if runner == "spark" else dict(WHOLE_LINE_REDUCER_OUTPUT_JOBCONF)


TASKS_GROUP = "tasks"

# Live progress (scripts/pipeline/progress.py): map tasks of a job's first step
# add the bytes of input they have read to this counter, at most one update
# per PROGRESS_EVERY bytes (and the rest at the end), so the driver can follow
# them in the tasks' stderr under the inline and local runners.
PROGRESS_GROUP = "progress"
PROGRESS_BYTES = "input_bytes"
PROGRESS_EVERY = 1 << 20

# A streaming task writes its output lines through a buffer of this many
# bytes (:func:`buffered_output`).
TASK_OUTPUT_BUFFER = 1 << 20


def count_task(job, kind):
    """Count one task of ``kind`` ("map" or "reduce") in the counter group
    ``tasks``.

    The runner sums counters over tasks, so the driver learns how many map
    and reduce tasks a job ran on any runner (inline, local, Hadoop, Spark,
    EMR), which mrjob reports nowhere else in the same way. Jobs get it from
    :class:`CountedJob`.
    """
    job.increment_counter(TASKS_GROUP, kind, 1)


class CountedJob:
    """Mixin of every job (``class MRX(CountedJob, MRJob)``): counts each map
    and reduce task that runs the job's code (count_task) and reports the
    first step's input bytes read (PROGRESS_GROUP).

    Tasks are counted in map_pairs/reduce_pairs, which the streaming runners
    (inline, local, Hadoop, EMR) and mrjob's Spark harness all call once per
    task. A step without a mapper runs no job code on the map side (Hadoop
    runs an identity mapper, the local runners copy), so its map side counts
    no task. A job whose mapper reads its own input (the parse job's work
    items) sets REPORTS_STDIN_BYTES = False, reports with report_input_bytes
    and gives the driver its total with progress_total.
    """

    REPORTS_STDIN_BYTES = True

    def map_pairs(self, pairs, step_num=0):
        count_task(self, "map")
        yield from super().map_pairs(pairs, step_num)

    def reduce_pairs(self, pairs, step_num=0):
        count_task(self, "reduce")
        yield from super().reduce_pairs(pairs, step_num)

    def run_mapper(self, step_num=0):
        with buffered_output(self):
            if step_num != 0 or not self.REPORTS_STDIN_BYTES:
                return super().run_mapper(step_num)
            # the streaming task's input is stdin (mrjob's _read_input reads it)
            self._stdin = _ReportedLines(self.stdin, self)
            try:
                return super().run_mapper(step_num)
            finally:
                self._stdin = self._stdin.stream

    def run_combiner(self, step_num=0):
        with buffered_output(self):
            return super().run_combiner(step_num)

    def run_reducer(self, step_num=0):
        with buffered_output(self):
            return super().run_reducer(step_num)

    def report_input_bytes(self, count):
        """Add ``count`` bytes read to the progress counter, in updates of
        PROGRESS_EVERY bytes at least; ``flush_input_bytes`` sends the rest."""
        self._progress_pending = getattr(self, "_progress_pending", 0) + count
        if self._progress_pending >= PROGRESS_EVERY:
            self.flush_input_bytes()

    def flush_input_bytes(self):
        pending = getattr(self, "_progress_pending", 0)
        if pending:
            self.increment_counter(PROGRESS_GROUP, PROGRESS_BYTES, pending)
        self._progress_pending = 0

    @classmethod
    def progress_total(cls, inputs):
        """The input bytes the job's first step reads: the sizes of the local
        files (or directories' files) ``inputs``; remote inputs count 0."""
        total = 0
        for path in inputs:
            if os.path.isfile(path):
                total += os.path.getsize(path)
            elif os.path.isdir(path):
                # as Hadoop's input formats, skip hidden files (_SUCCESS, .crc)
                for directory, _, names in os.walk(path):
                    total += sum(os.path.getsize(os.path.join(directory, name))
                                 for name in names if not name.startswith(("_", ".")))
        return total


@contextlib.contextmanager
def buffered_output(job):
    """While a streaming task runs (its output is the process's stdout), its
    lines go to stdout through a buffer of TASK_OUTPUT_BUFFER bytes.

    mrjob writes each output line with two writes to ``sys.stdout.buffer``:
    through its 8 KB buffer, about a system call per line of a tf-idf or
    parse task (2-3 KB each), and two per line where Python's stdout is
    unbuffered (``PYTHONUNBUFFERED``, common in containers, or ``-u``). The
    buffer is flushed, and detached from the descriptor (left open), when
    the task's work ends, also when it fails. A job given its own output
    (mrjob's inline runner, ``sandbox``) writes there unchanged."""
    stream = getattr(sys.stdout, "buffer", None)
    if job._stdout is not None or stream is None:
        yield
        return
    stream.flush()
    buffered = io.BufferedWriter(getattr(stream, "raw", stream), TASK_OUTPUT_BUFFER)
    job._stdout = buffered
    try:
        yield
    finally:
        job._stdout = None
        try:
            buffered.flush()
        finally:
            buffered.detach()


class _ReportedLines:
    """An input stream whose lines' bytes go to job.report_input_bytes."""

    def __init__(self, stream, job):
        self.stream = stream
        self.job = job

    def __iter__(self):
        pending = 0
        for line in self.stream:
            pending += len(line)
            if pending >= PROGRESS_EVERY:
                self.job.report_input_bytes(pending)
                pending = 0
            yield line
        self.job.report_input_bytes(pending)
        self.job.flush_input_bytes()
