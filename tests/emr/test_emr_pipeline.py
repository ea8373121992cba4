"""`jeeves run --runner emr` end to end against the moto server: every stage
where the data lies on S3, and the driver's S3 bytes bounded by the reduced data.

About 300 real SpamAssassin messages go into a moto bucket under
``s3://BUCKET/mail/``: the first files of ``spam-1`` and ``easy-ham-1``
(labelled by folder) and of ``hard-ham-1`` (no label pattern matches:
unlabelled). `jeeves run --runner emr --mrjob-conf TESTCONF --output
s3://BUCKET/out/ --score` goes through ``scripts.cli.main``; TESTCONF
``include:``s the project's mrjob.conf and points the emr profile at moto.
mrjob submits every job itself (uploads, pooled cluster, steps); the steps
are run by tests/emr/emr_fake.py, inline in this process, reading and writing
S3 through a boto3 Session of their own, as the cluster's nodes would.

The driver's bytes are counted by a botocore event hook on boto3's default
session (which mrjob's S3Filesystem and the driver's Storage use): the
bodies of its PutObject and UploadPart requests and of its GetObject
responses. mrjob's own uploads of each job's code (the shipped package
archives, mrjob.zip, the job script, the setup and bootstrap scripts under
the cloud tmp dir's ``files/``) are the same bytes whatever the corpus, one
set per job: they are measured apart and left out of the data-path figure,
which is held to the bound of tests/engines/test_cluster_native.py (the
vocabulary three times, the labelled vectors, the model, the report, the
flagged list, 64 KB of markers and summaries), itself well under the corpus.
What mrjob ships for the data (the parse job's work list) stays in the
figure; the vocabulary is not shipped from the driver at all (the tf-idf
job fetches it from OUTPUT/features/). The results are the inline run's:
the same vocabulary.

mrjob waits 10 s after tagging a pooled cluster with its lock, against
another driver racing for it; with one driver the wait is cut to 0.2 s.

Skips when the corpus is missing. Slow: nine EMR submissions (1.5 to 3
minutes on a loaded machine).
"""

import json
import os
import uuid

import mrjob.pool
import pytest

from scripts import cli
from scripts.pipeline import storage as storage_module
from tests.emr.emr_fake import DriverS3Bytes, FakeCluster
from tests.emr.test_emr_submission import moto_keeps_application_names  # noqa: F401
from tests.helpers import MRJOB_CONF, REPO

pytestmark = pytest.mark.slow

SPAMASSASSIN = os.path.join(os.path.dirname(REPO), "shared", "data", "spamassassin")
LABELLED = {"spam-1": 90, "easy-ham-1": 130}
UNLABELLED = {"hard-ham-1": 80}
LABELS = "spam*=1,easy-ham*=0"
SMALL_FILES_ALLOWANCE = 64 * 1024
# mrjob's code uploads: the upload_dirs archives, its own zip, the job
# script, the setup wrapper and the cluster's bootstrap scripts
CODE_SUFFIXES = (".tar.gz", ".zip", ".py", ".sh")
STAGE_DIRS = ("messages", "quarantine", "features", "model", "report", "predictions")


def corpus_files():
    """[(folder, name, path)] of the chosen messages."""
    chosen = []
    for folder, count in list(LABELLED.items()) + list(UNLABELLED.items()):
        source = os.path.join(SPAMASSASSIN, folder)
        if not os.path.isdir(source):
            pytest.skip("SpamAssassin corpus not found: %s" % source)
        chosen += [(folder, name, os.path.join(source, name))
                   for name in sorted(os.listdir(source))[:count]]
    return chosen


def write_conf(path, endpoint, tmp_bucket):
    """An mrjob.conf that includes the project's and points the emr profile at moto."""
    options = {
        "emr_endpoint": endpoint, "s3_endpoint": endpoint, "iam_endpoint": endpoint,
        "cloud_tmp_dir": "s3://%s/tmp/" % tmp_bucket,
        "check_cluster_every": 0.1,
        # moto's S3 is consistent at once: no wait after the uploads
        "cloud_fs_sync_secs": 0,
        # the roles `aws emr create-default-roles` makes; without them
        # mrjob creates its own through IAM
        "iam_instance_profile": "EMR_EC2_DefaultRole",
        "iam_service_role": "EMR_DefaultRole",
        "pool_name": "pool-" + tmp_bucket,
    }
    with open(path, "w") as handle:
        handle.write("include: %s\nrunners:\n  emr:\n" % json.dumps(MRJOB_CONF))
        for name, value in options.items():
            handle.write("    %s: %s\n" % (name, json.dumps(value)))
    return path


@pytest.fixture
def driver_bytes(monkeypatch):
    """The hook on boto3's default session; the Storage's current stage names its counts."""
    counted = DriverS3Bytes()
    counted.install()
    import jobs.ranged_reads as ranged_reads

    # the driver's own client for input listing, made on the hooked session
    ranged_reads.s3_client.cache_clear()
    original = storage_module.Storage.counting

    def counting(storage, stage):
        counted.stage = stage
        return original(storage, stage)

    monkeypatch.setattr(storage_module.Storage, "counting", counting)
    yield counted
    counted.uninstall()
    ranged_reads.s3_client.cache_clear()


def test_emr_run_keeps_every_stage_on_s3_and_the_corpus_off_the_driver(
        aws_env, monkeypatch, tmp_path, driver_bytes, capsys):
    files = corpus_files()
    # the parse tasks and the driver's input listing (jobs/ranged_reads.py)
    # find S3 from the environment, as on EMR nodes
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env)
    cluster = FakeCluster(aws_env)
    cluster.install(monkeypatch)
    # mrjob's wait after locking a pooled cluster (module docstring)
    monkeypatch.setattr(mrjob.pool, "_WAIT_AFTER_ADD_TAG", 0.2)
    bucket = "jeeves-emr-" + uuid.uuid4().hex[:8]
    cluster.s3.create_bucket(Bucket=bucket)
    corpus_bytes = 0
    for folder, name, path in files:
        cluster.s3.upload_file(path, bucket, "mail/%s/%s" % (folder, name))
        corpus_bytes += os.path.getsize(path)
    conf = write_conf(str(tmp_path / "mrjob.conf"), aws_env, bucket)
    out = "s3://%s/out" % bucket

    status = cli.main(["run", "--runner", "emr", "--mrjob-conf", conf,
                       "--input", "s3://%s/mail/" % bucket, "--output", out + "/",
                       "--labels", LABELS, "--models", "logistic_regression", "--folds", "3",
                       "--min-df", "2", "--no-graph", "--score"])
    assert status == 0
    driver_bytes.stage = None
    # the jobs ran on the (fake) cluster: parse, split, count, vocabulary,
    # tf-idf, labels, score, flagged
    assert cluster.jobs[0] == "MRParseEmails" and "MRScoreMessages" in cluster.jobs
    assert len(cluster.jobs) >= 8, cluster.jobs

    # every stage's output under s3://, complete
    for directory in STAGE_DIRS:
        assert cluster.exists("%s/%s/_SUCCESS" % (out, directory)), directory
    summary = json.loads(cluster.read(out + "/summary.json"))
    assert summary["runner"] == "emr"
    labelled, unlabelled = sum(LABELLED.values()), sum(UNLABELLED.values())
    parse = summary["stages"]["parse"]
    assert parse["reconciled"] and parse["read"] == len(files)
    assert summary["stages"]["labels"]["labelled"] + summary["stages"]["labels"]["unlabelled"] \
        == parse["parsed"]
    assert summary["stages"]["score"]["scored"] == parse["parsed"]
    assert 0 < summary["stages"]["labels"]["unlabelled"] <= unlabelled
    assert 0 < summary["stages"]["labels"]["labelled"] <= labelled

    # the driver's bytes: mrjob's code uploads apart, the rest bounded
    code = {key: size for key, size in driver_bytes.written.items()
            if key[0] == bucket and key[1].startswith("tmp/") and "/files/" in key[1]
            and key[1].endswith(CODE_SUFFIXES)}
    assert code, "no mrjob code upload was seen: is the hook on mrjob's session?"
    shipped_data = [key for key in driver_bytes.written
                    if "/files/" in key[1] and key not in code]
    assert not [key for key in shipped_data if key[1].endswith("vocabulary.tsv")], shipped_data
    data_written = sum(driver_bytes.written.values()) - sum(code.values())
    data_read = sum(driver_bytes.read.values())
    moved = data_written + data_read
    bound = (3 * cluster.size(out + "/features/vocabulary.tsv")
             + cluster.size(out + "/features/labelled/") + cluster.size(out + "/model/")
             + cluster.size(out + "/report/") + cluster.size(out + "/predictions/flagged/")
             + SMALL_FILES_ALLOWANCE)
    # the driver did read and write data (the hook counts), within the bound
    assert data_read > cluster.size(out + "/features/labelled/") > 0
    assert moved <= bound, (moved, bound, dict(driver_bytes.by_stage))
    assert bound * 2 < corpus_bytes, (bound, corpus_bytes)

    # the same vocabulary as inline on local copies of the same files
    corpus = tmp_path / "corpus"
    for folder, name, path in files:
        os.makedirs(corpus / folder, exist_ok=True)
        with open(path, "rb") as source, open(corpus / folder / name, "wb") as target:
            target.write(source.read())
    inline = tmp_path / "inline"
    # without --labels the run stops after the features stage: the vocabulary
    assert cli.main(["run", "--input", str(corpus), "--output", str(inline),
                     "--min-df", "2", "--no-graph"]) == 0
    assert cluster.read(out + "/features/vocabulary.tsv") == \
        (inline / "features" / "vocabulary.tsv").read_bytes()

    with capsys.disabled():

        print("\nemr against moto: corpus %d bytes (%d messages); driver data path: read %d, "
              "wrote %d bytes (bound %d); mrjob code uploads %d bytes over %d jobs"
              % (corpus_bytes, len(files), data_read, data_written, bound,
                 sum(code.values()), len(cluster.jobs)))
        for stage, counted in driver_bytes.by_stage.items():
            print("  %-8s read %8d  wrote %8d (code uploads included)"
                  % (stage, counted["read"], counted["written"]))
        print("  storage layer (summary.json driver_bytes): %s" % summary["driver_bytes"])
