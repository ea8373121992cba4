"""MRJobs, one per file. Each is a thin adapter over `features/`.

Importing this package on the driver fills in two environment defaults the
runner profiles in mrjob.conf rely on: JEEVES_HOME (the checkout, for paths in
mrjob.conf) and NLTK_DATA (the project's WordNet, inherited by inline and local
tasks). On a task node the package is shipped by mrjob (upload_dirs) and the
defaults are harmless.
"""

import os

JEEVES_HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("JEEVES_HOME", JEEVES_HOME)
if os.path.isdir(os.path.join(JEEVES_HOME, ".nltk_data")):
    os.environ.setdefault("NLTK_DATA", os.path.join(JEEVES_HOME, ".nltk_data"))


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
# trailing tab (an empty output separator has no effect), so jobs that write
# whole lines split and join on the first space, which gives the line back.
WHOLE_LINE_OUTPUT_JOBCONF = {"stream.map.output.field.separator": " ",
                             "mapreduce.output.textoutputformat.separator": " "}

TASKS_GROUP = "tasks"


def count_task(job, kind):
    """Count one task of ``kind`` ("map" in mapper_init, "reduce" in
    reducer_init) in the counter group ``tasks``.

    The runner sums counters over tasks, so the driver learns how many map
    and reduce tasks a job ran on any runner (inline, local, Hadoop, Spark,
    EMR), which mrjob reports nowhere else in the same way.
    """
    job.increment_counter(TASKS_GROUP, kind, 1)
