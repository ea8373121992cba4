"""A stand-in for the EMR cluster's step execution, and a count of the driver's S3 bytes.

moto accepts RunJobFlow and AddJobFlowSteps but never runs a step. With
:meth:`FakeCluster.install`, ``EMRJobRunner._finish_run`` (mrjob's wait for
the steps, the only part after submission: archives, uploads, the pooled
cluster lookup or creation and AddJobFlowSteps stay mrjob's own) runs the
submitted job as the cluster would, on the inline runner in this process:

- the job class is the MRJob subclass of the submitted script
  (``runner._script_path``, jobs/mr_*.py, imported as ``jeeves.jobs.mr_*``);
- its arguments are ``runner._extra_args``; file arguments that lie on S3
  (the scoring job's ``--bundle-file s3://...#name``) are downloaded first
  and passed as local paths keeping their ``#name``;
- its input is ``runner._step_input_uris(0)`` (S3 URIs, globs included),
  downloaded to a temporary directory; its output part files and Hadoop's
  ``_SUCCESS`` are uploaded to ``runner._output_dir``;
- ``runner.counters()`` returns the inline job's counters;
- moto's cluster ends its steps (COMPLETED) and waits (WAITING), and the
  pool lock is released, so the next job reuses the pooled cluster.

All the fake cluster's S3 traffic goes through its own boto3 Session,
including the parse tasks' ranged reads (``jeeves.storage.s3_client`` is
pointed at it while a job runs). :class:`DriverS3Bytes` hooks the default
session, which mrjob's S3Filesystem and the driver's Storage use, so it
counts only what the driver moves.
"""

import fnmatch
import importlib
import inspect
import os
import tempfile
from collections import defaultdict
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from mrjob.emr import EMRJobRunner
from mrjob.job import MRJob

from tests.emr.conftest import REGION
from tests.helpers import MRJOB_CONF


def split_uri(uri):
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def job_class_of(script_path):
    """The MRJob subclass defined in a jobs/mr_*.py script."""
    name = os.path.splitext(os.path.basename(script_path))[0]
    module = importlib.import_module("jobs." + name)
    [job_class] = [value for value in vars(module).values()
                   if inspect.isclass(value) and issubclass(value, MRJob)
                   and value.__module__ == module.__name__]
    return job_class


class FakeCluster:
    """Runs submitted EMR jobs inline, with S3 through a session of its own."""

    def __init__(self, endpoint):
        self.session = boto3.session.Session(region_name=REGION)
        self.s3 = self.session.client("s3", endpoint_url=endpoint,
                                      config=Config(s3={"addressing_style": "path"}))
        # the job classes run, in order
        self.jobs = []

    def install(self, monkeypatch):
        fake = self

        def finish_run(runner):
            fake.run_steps(runner)

        monkeypatch.setattr(EMRJobRunner, "_finish_run", finish_run)

    # S3 through the cluster's session

    def keys(self, uri):
        """The keys under an s3:// prefix (or matching a glob)."""
        bucket, pattern = split_uri(uri)
        prefix = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                      Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                if any(c in pattern for c in "*?[") and not fnmatch.fnmatchcase(key, pattern):
                    continue
                if not any(c in pattern for c in "*?[") and not (
                        key == pattern or key.startswith(pattern.rstrip("/") + "/")):
                    continue
                found.append((key, item["Size"]))
        return bucket, sorted(found)

    def size(self, uri):
        """Bytes of the objects under an s3:// prefix."""
        _, found = self.keys(uri)
        return sum(size for _, size in found)

    def read(self, uri):
        bucket, key = split_uri(uri)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def exists(self, uri):
        bucket, key = split_uri(uri)
        return bool(self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))

    def download(self, uri, directory):
        """The objects of ``uri`` (prefix or glob) as files in ``directory`` -> it."""
        os.makedirs(directory, exist_ok=True)
        bucket, found = self.keys(uri)
        for number, (key, _) in enumerate(found):
            name = key.rsplit("/", 1)[-1]
            if name.startswith("_"):
                continue  # markers are not input, as for Hadoop's input formats
            with open(os.path.join(directory, "%05d-%s" % (number, name)), "wb") as handle:
                handle.write(self.read("s3://%s/%s" % (bucket, key)))
        return directory

    # the cluster's work

    def run_steps(self, runner):
        job_class = job_class_of(runner._script_path)
        self.jobs.append(job_class.__name__)
        with tempfile.TemporaryDirectory(prefix="jeeves-fake-emr-") as scratch:
            args = []
            for number, arg in enumerate(runner._extra_args):
                if not isinstance(arg, dict):
                    args.append(arg)
                    continue
                path = arg["path"]
                if path.startswith("s3://"):
                    local = os.path.join(scratch, "files", str(number),
                                         arg.get("name") or path.rsplit("/", 1)[-1])
                    os.makedirs(os.path.dirname(local))
                    with open(local, "wb") as handle:
                        handle.write(self.read(path))
                    path = local
                args.append("%s#%s" % (path, arg["name"]) if arg.get("name") else path)
            inputs = [self.download(uri, os.path.join(scratch, "input", str(number)))
                      if uri.startswith("s3://") else uri
                      for number, uri in enumerate(runner._step_input_uris(0))]
            output = os.path.join(scratch, "output")
            job = job_class(args=["-r", "inline", "-c", MRJOB_CONF, "--output-dir", output,
                                  *args, *inputs])
            import jeeves.storage as storage_module

            saved = storage_module.s3_client
            storage_module.s3_client = lambda: self.s3
            try:
                with job.make_runner() as inline:
                    inline.run()
                    counters = inline.counters()
            finally:
                storage_module.s3_client = saved
            bucket, prefix = split_uri(runner._output_dir)
            prefix = prefix.rstrip("/") + "/"
            for name in sorted(os.listdir(output)):
                if name.startswith("part-"):
                    self.s3.upload_file(os.path.join(output, name), bucket, prefix + name)
            self.s3.put_object(Bucket=bucket, Key=prefix + "_SUCCESS", Body=b"")
        runner.counters = lambda: counters
        self._end_steps(runner.get_cluster_id())
        runner._release_cluster_lock()

    @staticmethod
    def _end_steps(cluster_id):
        """Steps COMPLETED, the cluster WAITING: in moto's state, as EMR would."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.emr.models import emr_backends

        cluster = emr_backends[DEFAULT_ACCOUNT_ID][REGION].clusters[cluster_id]
        for step in cluster.steps:
            step.state = "COMPLETED"
        cluster.state = "WAITING"


class DriverS3Bytes:
    """Body bytes of the S3 requests made through boto3's default session:
    PutObject and UploadPart bodies sent, GetObject bodies received, per
    (bucket, key)."""

    OPERATIONS = ("PutObject", "UploadPart", "GetObject")

    def __init__(self):
        self.reset()

    def reset(self):
        """Start counting again (a second run)."""
        self.written = defaultdict(int)
        self.read = defaultdict(int)
        self.stage = None
        self.by_stage = defaultdict(lambda: {"read": 0, "written": 0})

    def install(self):
        boto3.setup_default_session(region_name=REGION)
        self.events = boto3.DEFAULT_SESSION.events
        for operation in self.OPERATIONS:
            self.events.register("provide-client-params.s3." + operation, self._params)
        self.events.register("after-call.s3.GetObject", self._got)

    def uninstall(self):
        for operation in self.OPERATIONS:
            self.events.unregister("provide-client-params.s3." + operation, self._params)
        self.events.unregister("after-call.s3.GetObject", self._got)
        boto3.DEFAULT_SESSION = None

    def _params(self, params, model, context, **_):
        context["jeeves_key"] = (params["Bucket"], params["Key"])
        if model.name != "GetObject":
            self._add("written", context["jeeves_key"], _body_size(params.get("Body", b"")))

    def _got(self, parsed, context, **_):
        self._add("read", context["jeeves_key"], parsed.get("ContentLength", 0))

    def _add(self, kind, key, size):
        getattr(self, kind)[key] += size
        if self.stage is not None:
            self.by_stage[self.stage][kind] += size


def _body_size(body):
    """Bytes of a request body: bytes, a sized chunk (s3transfer's), or a file."""
    if isinstance(body, (bytes, bytearray)):
        return len(body)
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    if hasattr(body, "__len__"):
        return len(body)
    position = body.tell()
    body.seek(0, os.SEEK_END)
    size = body.tell() - position
    body.seek(position)
    return size
