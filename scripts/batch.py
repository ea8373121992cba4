"""Incremental batches over date-partitioned mail in S3, for scheduled runs.

Input is laid out by day, ``s3://BUCKET/INPUT/dt=YYYY-MM-DD/...``. Each run
(``run_batch``):

1. reads the manifest ``OUTPUT/_jeeves/manifest.json`` (the partitions done,
   each with its output prefix) and lists the ``dt=`` partitions of the input;
2. takes the partitions not in the manifest, oldest first. A partition whose
   ``OUTPUT/dt=YYYY-MM-DD/_SUCCESS`` exists is done even when the manifest
   does not say so (the run that wrote it died before updating the
   manifest): it is added to the manifest, never processed twice, and its
   flagged mail is notified now;
3. for each new partition: clears what a failed earlier attempt left under
   the partition's output prefix, calls the partition processor with the
   partition's input and output URIs (``parse_and_score``: on the engine's
   runner the parse job reads the partition where it lies and writes
   ``messages/`` and ``quarantine/``, the scoring job vectorizes with the
   bundle's vocabulary and scores them into ``predictions/scores/`` and
   ``predictions/flagged/``; the driver reads back only the flagged list),
   writes ``summary.json``, then ``_SUCCESS`` last, then records the
   partition in the manifest. S3 has no rename, so the marker is the commit:
   readers trust a prefix only when its ``_SUCCESS`` exists (Hadoop's
   convention);
4. writes the run's summary to ``OUTPUT/_jeeves/runs/RUN_ID.json`` and hands
   it, with the newly flagged emails, to the notifiers.

A processor failure stops the run at that partition (later partitions wait
for the next run, so none is skipped) and is reported to the notifiers with
status "failed". Every output object is a function of its partition alone,
so a re-run, or one run over all partitions, writes the same objects.

The manifest is written with S3 conditional writes (If-Match on the ETag
read at the start, If-None-Match for the first one), so two overlapping runs
cannot silently overwrite each other's record: the second one fails.

Every read and write goes through a jeeves.storage.Storage over the S3
client given (``s3``, a boto3 client).
"""

import json
import re
from datetime import datetime, timezone
from urllib.parse import urlparse

from jeeves.storage import Storage, join

PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})/$")
STATE_PREFIX = "_jeeves/"
MANIFEST_KEY = STATE_PREFIX + "manifest.json"
SUCCESS = "_SUCCESS"
SUMMARY = "summary.json"
FLAGGED_PREFIX = "predictions/flagged/"


def split_s3_uri(uri):
    """s3://bucket/some/prefix -> ("bucket", "some/prefix/"); ValueError otherwise."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
        raise ValueError("not an S3 URI (s3://bucket/prefix/): %r" % (uri,))
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


def _storage(s3):
    return Storage(s3=s3)


def _uri(bucket, key):
    return "s3://%s/%s" % (bucket, key)


def _keys(s3, bucket, prefix):
    return _storage(s3).s3_keys(_uri(bucket, prefix))


def list_partitions(s3, input_uri):
    """The dates (YYYY-MM-DD) of the dt= partitions under `input_uri`, oldest first."""
    bucket, prefix = split_s3_uri(input_uri)
    dates = []
    for name in _storage(s3).list_directories(_uri(bucket, prefix)):
        match = PARTITION.match(name + "/")
        if match:
            dates.append(match.group(1))
    return sorted(dates)


class Manifest:
    """The partitions done, as stored in OUTPUT/_jeeves/manifest.json, and its ETag."""

    def __init__(self, partitions=None, etag=None):
        self.partitions = dict(partitions or {})
        self.etag = etag

    @classmethod
    def load(cls, s3, bucket, key):
        try:
            data, etag = _storage(s3).read_tagged(_uri(bucket, key))
        except FileNotFoundError:
            return cls()
        document = json.loads(data)
        return cls(document.get("partitions"), etag)

    def save(self, s3, bucket, key):
        """Write the manifest unless someone else changed it since it was read
        (or, never read, unless it exists): S3 refuses the write with a
        ClientError (PreconditionFailed), so an overlapping run fails."""
        body = json.dumps({"version": 1, "partitions": self.partitions},
                          indent=1, sort_keys=True).encode("utf-8")
        self.etag = _storage(s3).write_if_unchanged(_uri(bucket, key), body, self.etag,
                                                     content_type="application/json")


def clear_prefix(s3, bucket, prefix):
    """Delete every object under ``prefix`` (what a failed attempt left)."""
    _storage(s3).clear(_uri(bucket, prefix))


def finish_partition(s3, bucket, prefix, part_summary):
    """The partition's summary.json, then its _SUCCESS marker, last."""
    storage = _storage(s3)
    storage.write_bytes(_uri(bucket, prefix + SUMMARY),
                        json.dumps(part_summary, indent=1, sort_keys=True).encode("utf-8"))
    storage.write_bytes(_uri(bucket, prefix + SUCCESS), b"")


def _exists(s3, bucket, key):
    return _storage(s3).exists(_uri(bucket, key))


def _read_flagged_rows(s3, bucket, prefix):
    """The flagged rows under a partition prefix, by message id."""
    storage = _storage(s3)
    rows = []
    for uri in storage.part_files(_uri(bucket, prefix + FLAGGED_PREFIX)):
        body = storage.read_bytes(uri).decode("utf-8")
        rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return sorted(rows, key=lambda row: (str(row["message_id"]), json.dumps(row, sort_keys=True)))


def run_batch(s3, input_uri, output_uri, process_partition, notifiers=(), run_id=None,
              max_partitions=None):
    """Process the partitions not done yet; return the run summary (also notified).

    ``process_partition(input_uri, output_uri, date)`` reads one partition
    where it lies, writes its outputs under ``output_uri`` and returns
    (partition summary dict, flagged rows); flagged rows are dicts with at
    least "message_id", "score" and "label". Notifiers have
    ``notify(summary, flagged)``. The summary's "status" is "ok", "failed"
    (a partition's processing raised; "error" says why) or "idle".
    """
    in_bucket, in_prefix = split_s3_uri(input_uri)
    out_bucket, out_prefix = split_s3_uri(output_uri)
    run_id = run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    manifest_key = out_prefix + MANIFEST_KEY
    manifest = Manifest.load(s3, out_bucket, manifest_key)
    pending = [date for date in list_partitions(s3, input_uri) if date not in manifest.partitions]
    if max_partitions is not None:
        pending = pending[:max_partitions]
    summary = {"run_id": run_id, "input": input_uri, "output": output_uri, "status": "ok",
               "processed": [], "recovered": [], "partitions": {}, "flagged": 0}
    flagged_all = []
    for date in pending:
        prefix = "%sdt=%s/" % (out_prefix, date)
        if _exists(s3, out_bucket, prefix + SUCCESS):
            # done by a run that died before recording it
            summary["recovered"].append(date)
            manifest.partitions[date] = {"output": "s3://%s/%s" % (out_bucket, prefix),
                                         "run_id": None}
            manifest.save(s3, out_bucket, manifest_key)
            # that run died before notifying: its flagged mail is news
            recovered = _read_flagged_rows(s3, out_bucket, prefix)
            summary["flagged"] += len(recovered)
            flagged_all.extend(dict(row, partition=date) for row in recovered)
            continue
        output = "s3://%s/%s" % (out_bucket, prefix)
        try:
            clear_prefix(s3, out_bucket, prefix)
            part_summary, flagged = process_partition(
                "s3://%s/%sdt=%s/" % (in_bucket, in_prefix, date), output, date)
        except Exception as error:  # reported to the notifiers, then the run stops
            summary["status"] = "failed"
            summary["error"] = "partition %s: %s: %s" % (date, type(error).__name__, error)
            break
        part_summary = dict(part_summary, partition=date, output=output)
        flagged = sorted(flagged, key=lambda row: (str(row["message_id"]),
                                                   json.dumps(row, sort_keys=True)))
        finish_partition(s3, out_bucket, prefix, part_summary)
        manifest.partitions[date] = {"output": part_summary["output"], "run_id": run_id}
        manifest.save(s3, out_bucket, manifest_key)
        summary["processed"].append(date)
        summary["partitions"][date] = part_summary
        summary["flagged"] += len(flagged)
        flagged_all.extend(dict(row, partition=date) for row in flagged)
    if summary["status"] == "ok" and not summary["processed"] and not summary["recovered"]:
        summary["status"] = "idle"
    summary["done"] = sorted(manifest.partitions)
    _storage(s3).write_bytes(
        _uri(out_bucket, "%s%sruns/%s.json" % (out_prefix, STATE_PREFIX, run_id)),
        json.dumps(dict(summary, flagged_emails=flagged_all), indent=1,
                   sort_keys=True).encode("utf-8"))
    for notifier in notifiers:
        notifier.notify(summary, flagged_all)
    return summary


def read_flagged(s3, output_uri, date):
    """The flagged emails of one finished partition (an empty list if it is not finished)."""
    bucket, prefix = split_s3_uri(output_uri)
    partition = "%sdt=%s/" % (prefix, date)
    if not _exists(s3, bucket, partition + SUCCESS):
        return []
    return _read_flagged_rows(s3, bucket, partition)


def parse_and_score(bundle, engine):
    """A partition processor: parse, then score with the model bundle, on ``engine``.

    Both jobs run on the engine's runner (EMR in the scheduled setup, on the
    pooled cluster): the parse job reads the partition from S3, the scoring
    job ships the bundle and vectorizes with its vocabulary; the driver reads
    back the flagged list only.
    """
    from jeeves.pipeline.parse import parse_stage
    from jeeves.pipeline.score import score_stage

    def process(input_uri, output_uri, date):
        parsed = parse_stage(engine, [input_uri], output_uri)
        scored = {"scored": 0, "flagged": 0, "flagged_rows": []}
        if parsed["parsed"]:
            scored = score_stage(engine, bundle, [join(output_uri, "messages", "part-*")],
                                 join(output_uri, "predictions"), read_flagged=True)
        part_summary = {"parsed": parsed["parsed"], "quarantined": parsed["quarantined"],
                        "duplicates": parsed["duplicates"], "scored": scored["scored"],
                        "flagged": scored["flagged"]}
        return part_summary, scored["flagged_rows"]

    return process
