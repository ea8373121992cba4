"""A simulated week of scheduled batches against moto S3, with a failure and its re-run.

The jobs run on the inline runner and read each partition from S3 where it
lies; the driver's own S3 requests (the batch's client and the storage the
stages write through) are recorded with a botocore event hook, to check
that none of them downloads a partition object.
"""

import json
import uuid
from collections import Counter

import pytest

from jeeves import batch
from jeeves.pipeline.engine import Engine

WEEK = ["2026-11-%02d" % day for day in range(16, 23)]
MEETING = ("Can we meet on Thursday at 10am in the conference room to go over the budget? "
           "Let me know when you are free to meet.")
OTHER = ("Attached is the daily report of gas prices. Prices rose on cold weather and the "
         "storage numbers are in the shared drive.")


def email(date, number, body):
    return ("From: someone%d@example.com\nTo: you@example.com\nSubject: note %d\n"
            "Date: Mon, 16 Nov 2026 09:00:00 +0000\nMessage-ID: <%s-%d@week.example.com>\n"
            "Content-Type: text/plain; charset=us-ascii\n\n%s\n"
            % (number, number, date, number, body)).encode("ascii")


def deliver(s3, bucket, index):
    """Day `index`'s partition: one to three emails; the meeting requests should be flagged."""
    date = WEEK[index]
    for number, body in enumerate([MEETING, OTHER, MEETING][: 1 + index % 3]):
        s3.put_object(Bucket=bucket, Key="mail/dt=%s/msg-%d.eml" % (date, number),
                      Body=email(date, number, body))


class CountingProcessor:
    """The real parse-and-score processor, counting successes and failing on request."""

    def __init__(self, bundle_dir, fail_on=()):
        self.engine = Engine("inline")
        self.process = batch.parse_and_score(bundle_dir, self.engine)
        self.fail_on = set(fail_on)
        self.done = Counter()

    def __call__(self, input_uri, output_uri, date):
        if date in self.fail_on:
            self.fail_on.discard(date)
            raise RuntimeError("simulated task failure")
        result = self.process(input_uri, output_uri, date)
        self.done[date] += 1
        return result


class GetObjectRecorder:
    """The keys of the GetObject requests of one boto3 client."""

    def __init__(self, client):
        self.keys = []
        client.meta.events.register("provide-client-params.s3.GetObject", self)

    def __call__(self, params, **_):
        self.keys.append(params.get("Key"))


class LosingManifest:
    """An S3 client whose next manifest write is lost (the run dies just before it)."""

    def __init__(self, s3):
        self.s3 = s3
        self.armed = True

    def __getattr__(self, name):
        return getattr(self.s3, name)

    def put_object(self, **kwargs):
        if self.armed and kwargs["Key"].endswith(batch.MANIFEST_KEY):
            self.armed = False
            raise ConnectionError("simulated crash before the manifest update")
        return self.s3.put_object(**kwargs)


class Recorder:
    def __init__(self):
        self.calls = []

    def notify(self, summary, flagged):
        self.calls.append((summary, flagged))


def outputs(s3, bucket, prefix):
    """{relative key: body} of everything under prefix except the run bookkeeping."""
    found = {}
    for key in batch._keys(s3, bucket, prefix):
        relative = key[len(prefix):]
        if not relative.startswith(batch.STATE_PREFIX):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            # the output URI names the prefix; everything else must be equal
            found[relative] = body.replace(prefix.encode(), b"OUT/")
    return found


@pytest.fixture
def s3_endpoint_env(aws_env, monkeypatch):
    """The jobs' and the storage's boto3 clients find the moto server here."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)


def test_a_week_of_runs_processes_every_partition_once(s3, bundle, s3_endpoint_env):
    bucket = "week-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    # not partitions: ignored
    s3.put_object(Bucket=bucket, Key="mail/README.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="mail/dt=bad/x.eml", Body=b"x")
    source, out = "s3://%s/mail/" % bucket, "s3://%s/daily/" % bucket
    processor = CountingProcessor(bundle, fail_on={WEEK[2]})
    batch_gets = GetObjectRecorder(s3)
    recorder = Recorder()
    statuses = []
    for day in range(len(WEEK)):
        deliver(s3, bucket, day)
        client = LosingManifest(s3) if day == 4 else s3
        try:
            summary = batch.run_batch(client, source, out, processor, [recorder],
                                      run_id="day%d" % day)
            statuses.append(summary["status"])
        except ConnectionError:
            statuses.append("crashed")
        if day == 5:  # a second run the same day finds nothing new
            statuses.append(batch.run_batch(s3, source, out, processor, [recorder],
                                            run_id="day5-again")["status"])

    assert statuses == ["ok", "ok", "failed", "ok", "crashed", "ok", "idle", "ok"]
    # processed once each, the failed day on the next run, the lost manifest recovered
    assert processor.done == Counter({date: 1 for date in WEEK})
    summaries = [summary for summary, _ in recorder.calls]
    assert summaries[2]["processed"] == [] and WEEK[2] in summaries[2]["error"]
    assert summaries[3]["processed"] == [WEEK[2], WEEK[3]]
    assert summaries[4]["recovered"] == [WEEK[4]] and summaries[4]["processed"] == [WEEK[5]]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key="daily/" + batch.MANIFEST_KEY)
                          ["Body"].read())
    assert sorted(manifest["partitions"]) == WEEK

    # the driver read the manifest and the flagged lists, never a partition's mail:
    # the parse job read it where it lies (the tasks' own reads are not the driver's)
    driver_reads = batch_gets.keys + processor.engine.storage.files_read
    assert any("flagged" in key for key in driver_reads)
    assert not [key for key in driver_reads if "/mail/" in "/" + key]

    # the same objects as one run over the whole week
    whole = "s3://%s/whole/" % bucket
    once = batch.run_batch(s3, source, whole, CountingProcessor(bundle), run_id="once")
    assert once["processed"] == WEEK
    assert outputs(s3, bucket, "daily/") == outputs(s3, bucket, "whole/")

    # flagged mail: the meeting requests, in the run output and the notification
    flagged_ids = {row["message_id"] for _, flagged in recorder.calls for row in flagged}
    expected = {"%s-%d@week.example.com" % (date, number)
                for index, date in enumerate(WEEK) for number in (0, 2)[: 1 + (index % 3) // 2]}
    # the crashed run notified nobody: its successor notifies the recovered day's flagged mail
    assert flagged_ids == expected
    for date in WEEK:
        assert all(row["label"] == 1 for row in batch.read_flagged(s3, out, date))
    assert {row["message_id"] for date in WEEK for row in batch.read_flagged(s3, out, date)} \
        == expected


def test_a_partial_output_is_replaced_and_never_trusted(s3):
    bucket = "partial-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/dt=2026-01-01/a.eml", Body=email("x", 1, OTHER))
    # a failed attempt left an object but no _SUCCESS
    s3.put_object(Bucket=bucket, Key="out/dt=2026-01-01/part-stale", Body=b"half")
    assert batch.read_flagged(s3, "s3://%s/out/" % bucket, "2026-01-01") == []

    def process(input_uri, output_uri, date):
        assert input_uri == "s3://%s/in/dt=2026-01-01/" % bucket
        assert output_uri == "s3://%s/out/dt=2026-01-01/" % bucket
        s3.put_object(Bucket=bucket, Key="out/dt=2026-01-01/predictions/flagged/part-00000",
                      Body=b'{"label": 1, "message_id": "m1", "score": 0.9}\n')
        return {"scored": 1, "flagged": 1}, [{"message_id": "m1", "score": 0.9, "label": 1}]

    summary = batch.run_batch(s3, "s3://%s/in/" % bucket, "s3://%s/out/" % bucket, process)
    assert summary["processed"] == ["2026-01-01"]
    keys = sorted(batch._keys(s3, bucket, "out/dt=2026-01-01/"))
    # the stale object is gone; the summary and the marker were written after the outputs
    assert keys == ["out/dt=2026-01-01/" + name for name in (
        batch.SUCCESS, "predictions/flagged/part-00000", batch.SUMMARY)]
    assert batch.read_flagged(s3, "s3://%s/out/" % bucket, "2026-01-01") == [
        {"message_id": "m1", "score": 0.9, "label": 1}]


def test_a_concurrent_manifest_change_is_refused(s3):
    bucket = "race-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    first = batch.Manifest.load(s3, bucket, "m.json")
    second = batch.Manifest.load(s3, bucket, "m.json")
    first.partitions["2026-01-01"] = {"output": "a"}
    first.save(s3, bucket, "m.json")
    second.partitions["2026-01-02"] = {"output": "b"}
    with pytest.raises(s3.exceptions.ClientError):
        second.save(s3, bucket, "m.json")


def test_split_s3_uri_rejects_other_schemes():
    assert batch.split_s3_uri("s3://b/x/y") == ("b", "x/y/")
    with pytest.raises(ValueError):
        batch.split_s3_uri("/local/path")
