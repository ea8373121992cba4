"""`jeeves schedule --run-once` killed with SIGKILL between partitions, then run again.

Real processes and signals against the session's moto S3 server: the batch
runs as a subprocess (inline runner: its jobs run in that process) in its
own process group; once the first partition's ``_SUCCESS`` is in S3 the
group gets SIGKILL, i.e. after that partition's commit and before or while
the next one is processed (the manifest update may or may not have
happened: both cases are the batch's to handle). While killed: only the
first partition carries ``_SUCCESS`` and the run wrote no run summary. The
same command again processes the rest, never the first partition again, and
the objects equal those of one uninterrupted run of the same command into
another prefix (tests/emr/test_batch.py's ``outputs``: every object but the
run bookkeeping under ``_jeeves/``, with the output prefix itself written
``OUT/``).
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

from jeeves import batch
from tests.emr.test_batch import WEEK, deliver, outputs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAYS = WEEK[:3]


def schedule(bucket, prefix, bundle, endpoint, s3=None, kill_after=None):
    """`jeeves schedule --run-once` into s3://bucket/prefix/; with ``kill_after``
    (a date), SIGKILL its process group once that partition's _SUCCESS exists.
    Returns (exit status, output)."""
    env = dict(os.environ, JEEVES_HOME=REPO, AWS_ENDPOINT_URL_S3=endpoint)
    env.setdefault("NLTK_DATA", os.path.join(REPO, ".nltk_data"))
    process = subprocess.Popen(
        [sys.executable, "-m", "jeeves.cli", "schedule", "--run-once", "--runner", "inline",
         "--input", "s3://%s/mail/" % bucket, "--output", "s3://%s/%s/" % (bucket, prefix),
         "--model", bundle],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        start_new_session=True)
    marker = "%s/dt=%s/%s" % (prefix, kill_after, batch.SUCCESS)
    try:
        while kill_after is not None and process.poll() is None:
            if batch._exists(s3, bucket, marker):
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        output = process.communicate()[0].decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, output


def test_a_batch_killed_between_partitions_finishes_on_the_next_run(s3, bundle, aws_env):
    bucket = "killed-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    for index in range(len(DAYS)):
        deliver(s3, bucket, index)

    status, output = schedule(bucket, "daily", bundle, aws_env, s3, kill_after=DAYS[0])
    assert status == -signal.SIGKILL, "the batch ended (%s) before it was killed:\n%s" % (
        status, output)
    done = [date for date in DAYS
            if batch._exists(s3, bucket, "daily/dt=%s/%s" % (date, batch.SUCCESS))]
    assert done == [DAYS[0]]
    assert not list(batch._keys(s3, bucket, "daily/" + batch.STATE_PREFIX + "runs/"))

    status, output = schedule(bucket, "daily", bundle, aws_env)
    assert status == 0, output
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["status"] == "ok"
    # the first partition is done: recovered from its marker at most, never processed again
    assert summary["processed"] == DAYS[1:]
    assert summary["recovered"] in ([], [DAYS[0]])
    assert summary["done"] == DAYS

    status, output = schedule(bucket, "whole", bundle, aws_env)
    assert status == 0, output
    assert json.loads(output.strip().splitlines()[-1])["processed"] == DAYS
    killed, whole = outputs(s3, bucket, "daily/"), outputs(s3, bucket, "whole/")
    assert sorted(killed) == sorted(whole)
    assert [key for key in killed if killed[key] != whole[key]] == []
