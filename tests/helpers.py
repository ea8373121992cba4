"""Run an MRJob the way the pipeline does, for tests.

``run_job(MRSomething, inputs, runner="inline")`` writes ``inputs`` (bytes,
str, or lists of lines) to temporary files, runs the job with the named
runner and returns its parsed output as a list of (key, value) pairs in
output order. The inline runner is sandboxed with ``--no-conf``; the local
runner uses the project's mrjob.conf, so the code is shipped to its tasks as
on a cluster. ``run_both`` runs inline and local and asserts they agree
whatever the order of the output.
"""

import json
import os
import tempfile

from jeeves.taskcode import task_code_args

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MRJOB_CONF = os.path.join(REPO, "mrjob.conf")


def _write_inputs(inputs, directory):
    """Write each input to a file; paths (os.PathLike) pass through."""
    paths = []
    for number, data in enumerate(inputs):
        if isinstance(data, os.PathLike):
            paths.append(os.fspath(data))
            continue
        if isinstance(data, (list, tuple)):
            data = "".join(line if line.endswith("\n") else line + "\n" for line in data)
        if isinstance(data, str):
            data = data.encode("utf-8")
        path = os.path.join(directory, "input-%03d" % number)
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    return paths


def run_job(job_class, inputs, args=(), runner="inline", output_dir=None):
    """Run ``job_class`` on ``inputs`` and return [(key, value), ...]."""
    with tempfile.TemporaryDirectory(prefix="jeeves-test-") as tmp:
        paths = _write_inputs(inputs, tmp)
        switches = ["-r", runner]
        switches += (["--no-conf"] if runner == "inline"
                     else ["-c", MRJOB_CONF] + task_code_args(runner))
        if output_dir is not None:
            switches += ["--output-dir", os.fspath(output_dir)]
        job = job_class(args=switches + list(args) + paths)
        job.sandbox()
        with job.make_runner() as job_runner:
            job_runner.run()
            return list(job.parse_output(job_runner.cat_output()))


def canonical(pairs):
    """Output pairs as a sorted list of JSON strings, to compare runs."""
    return sorted(json.dumps([key, value], sort_keys=True) for key, value in pairs)


def run_both(job_class, inputs, args=()):
    """Run inline and local; assert equal output (as a multiset) and return it."""
    inline = run_job(job_class, inputs, args, runner="inline")
    local = run_job(job_class, inputs, args, runner="local")
    assert canonical(inline) == canonical(local), "inline and local runners disagree"
    return inline


def read_totals(counts_dir):
    """(term_stats {term: [count, df]}, n_docs) from mr_count_ngrams output, all
    of it in memory: for tests that check the totals themselves."""
    import glob

    import ujson

    term_stats, n_docs = {}, 0
    for path in sorted(glob.glob(os.path.join(counts_dir, "part-*"))):
        with open(path, "rb") as handle:
            for line in handle:
                if line.startswith(b'["message"') or not line.strip():
                    continue
                key, value = line.split(b"\t", 1)
                kind, _ = ujson.loads(key)
                if kind == "terms":
                    term_stats.update(ujson.loads(value))
                elif kind == "documents":
                    n_docs += ujson.loads(value)
    return term_stats, n_docs


def s3_in_moto(monkeypatch, *buckets):
    """A generator for a pytest fixture: moto's S3 in this process (fake
    credentials, no endpoint from the environment, jeeves' cached client
    dropped before and after), with ``buckets`` made; yields a boto3 client."""
    import moto

    from jeeves import storage

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    storage.s3_client.cache_clear()
    with moto.mock_aws():
        import boto3

        client = boto3.client("s3")
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield client
    storage.s3_client.cache_clear()


def record_jobs(monkeypatch):
    """The names of the job classes the pipeline's Engine runs from now on,
    in order (a list that grows as they run)."""
    from jeeves.pipeline.engine import Engine

    ran = []
    run = Engine.run

    def recorded(self, job_class, *args, **kwargs):
        ran.append(job_class.__name__)
        return run(self, job_class, *args, **kwargs)

    monkeypatch.setattr(Engine, "run", recorded)
    return ran
