"""`jeeves run --runner emr` end to end against the moto server: every stage
where the data lies on S3, and the driver's S3 bytes bounded by the reduced data.

About 300 real SpamAssassin messages go into a moto bucket under
``s3://BUCKET/mail/``: the first files of ``spam-1`` and ``easy-ham-1``
(labelled by folder) and of ``hard-ham-1`` (no label pattern matches:
unlabelled). `jeeves run --runner emr --mrjob-conf TESTCONF --output
s3://BUCKET/out/ --score` goes through ``jeeves.cli.main``; TESTCONF
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
What mrjob ships for the data (the parse job's work list: a line per input
file, names, not mail) stays in the figure; the vocabulary is not shipped
from the driver at all (the tf-idf job fetches it from OUTPUT/features/).
The results are the inline run's: the same vocabulary. A second run with
four times the unlabelled mail moves no more than the first plus the growth
of the bound (the vocabulary, the labelled vectors' kept terms, the model,
the flagged list) and of the work list.

mrjob waits 10 s after tagging a pooled cluster with its lock, against
another driver racing for it; with one driver the wait is cut to 0.2 s.

Skips when the corpus is missing. Slow: two runs of nine EMR submissions.
"""

import json
import os
import uuid

import mrjob.pool
import pytest

from jeeves import cli
from jeeves import storage as storage_module
from tests.emr.emr_fake import DriverS3Bytes, FakeCluster
from tests.emr.test_emr_submission import moto_keeps_application_names  # noqa: F401
from tests.helpers import MRJOB_CONF, REPO

pytestmark = pytest.mark.slow

SPAMASSASSIN = os.path.join(os.path.dirname(REPO), "shared", "data", "spamassassin")
LABELLED = {"spam-1": 90, "easy-ham-1": 130}
UNLABELLED = {"hard-ham-1": 40}
# the second run: four times the unlabelled mail, the same labelled mail
MORE_UNLABELLED = {"hard-ham-1": 160}
LABELS = "spam-1=1,easy-ham-1=0"
SMALL_FILES_ALLOWANCE = 64 * 1024
# mrjob's code uploads: the code zip (jeeves.taskcode), mrjob's own zip, the job
# script, the setup wrapper and the cluster's bootstrap scripts
CODE_SUFFIXES = (".tar.gz", ".zip", ".py", ".sh")
STAGE_DIRS = ("messages", "quarantine", "features", "model", "report", "predictions")


def corpus_files(unlabelled=UNLABELLED):
    """[(folder, name, path)] of the chosen messages."""
    chosen = []
    for folder, count in list(LABELLED.items()) + list(unlabelled.items()):
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
    # the driver's own client for input listing, made on the hooked session
    storage_module.s3_client.cache_clear()
    original = storage_module.Storage.counting

    def counting(storage, stage):
        counted.stage = stage
        return original(storage, stage)

    monkeypatch.setattr(storage_module.Storage, "counting", counting)
    yield counted
    counted.uninstall()
    storage_module.s3_client.cache_clear()


def emr_run(cluster, driver_bytes, files, tmp_path, name, aws_env):
    """Put ``files`` in a new bucket and `jeeves run --runner emr` on them ->
    (bucket, out URI, summary, corpus bytes, figures of the driver's S3 bytes)."""
    driver_bytes.reset()
    bucket = "jeeves-emr-%s-%s" % (name, uuid.uuid4().hex[:8])
    cluster.s3.create_bucket(Bucket=bucket)
    corpus_bytes = 0
    for folder, file_name, path in files:
        cluster.s3.upload_file(path, bucket, "mail/%s/%s" % (folder, file_name))
        corpus_bytes += os.path.getsize(path)
    conf = write_conf(str(tmp_path / ("mrjob-%s.conf" % name)), aws_env, bucket)
    out = "s3://%s/out" % bucket
    jobs_before = len(cluster.jobs)
    status = cli.main(["run", "--runner", "emr", "--mrjob-conf", conf,
                       "--input", "s3://%s/mail/" % bucket, "--output", out + "/",
                       "--labels", LABELS, "--models", "logistic_regression", "--folds", "3",
                       "--min-df", "2", "--no-graph", "--score"])
    assert status == 0
    driver_bytes.stage = None
    jobs = cluster.jobs[jobs_before:]
    # the jobs ran on the (fake) cluster: parse, count, vocabulary, tf-idf,
    # labels, score, flagged; nothing is quarantined, so the parse job's
    # output became messages/ by a server-side copy, with no job to split it
    assert jobs[:2] == ["MRParseEmails", "MRCountNgrams"] and "MRScoreMessages" in jobs
    assert len(jobs) >= 7, jobs
    # mrjob's code uploads apart (module docstring); the parse job's work list
    # (a line per input file: names, not mail) is the data mrjob ships
    code = {key: size for key, size in driver_bytes.written.items()
            if key[0] == bucket and key[1].startswith("tmp/") and "/files/" in key[1]
            and key[1].endswith(CODE_SUFFIXES)}
    assert code, "no mrjob code upload was seen: is the hook on mrjob's session?"
    shipped = {key: size for key, size in driver_bytes.written.items()
               if "/files/" in key[1] and key not in code}
    assert not [key for key in shipped if key[1].endswith("vocabulary.tsv")], shipped
    figures = {"read": sum(driver_bytes.read.values()),
               "written": sum(driver_bytes.written.values()) - sum(code.values()),
               "work_list": sum(shipped.values()), "code": sum(code.values()),
               "jobs": len(jobs), "by_stage": {stage: dict(counted) for stage, counted
                                               in driver_bytes.by_stage.items()}}
    summary = json.loads(cluster.read(out + "/summary.json"))
    return bucket, out, summary, corpus_bytes, figures


def reduced_size(cluster, out):
    """Bytes of what the driver may move (tests/engines/test_cluster_native.py)."""
    return {"vocabulary": cluster.size(out + "/features/vocabulary.tsv"),
            "labelled": cluster.size(out + "/features/labelled/"),
            "model": cluster.size(out + "/model/"), "report": cluster.size(out + "/report/"),
            "flagged": cluster.size(out + "/predictions/flagged/")}


def test_emr_run_keeps_every_stage_on_s3_and_the_corpus_off_the_driver(
        aws_env, monkeypatch, tmp_path, driver_bytes, capsys):
    files = corpus_files()
    # the parse tasks and the driver's input listing (jeeves.storage's ranged reads)
    # find S3 from the environment, as on EMR nodes
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env)
    cluster = FakeCluster(aws_env)
    cluster.install(monkeypatch)
    # mrjob's wait after locking a pooled cluster (module docstring)
    monkeypatch.setattr(mrjob.pool, "_WAIT_AFTER_ADD_TAG", 0.2)
    bucket, out, summary, corpus_bytes, moved = emr_run(cluster, driver_bytes, files, tmp_path,
                                                        "base", aws_env)

    # every stage's output under s3://, complete
    for directory in STAGE_DIRS:
        assert cluster.exists("%s/%s/_SUCCESS" % (out, directory)), directory
    assert summary["runner"] == "emr"
    labelled, unlabelled = sum(LABELLED.values()), sum(UNLABELLED.values())
    parse = summary["stages"]["parse"]
    assert parse["reconciled"] and parse["read"] == len(files)
    assert summary["stages"]["labels"]["labelled"] + summary["stages"]["labels"]["unlabelled"] \
        == parse["parsed"]
    assert summary["stages"]["score"]["scored"] == parse["parsed"]
    assert 0 < summary["stages"]["labels"]["unlabelled"] <= unlabelled
    assert 0 < summary["stages"]["labels"]["labelled"] <= labelled

    # the driver's bytes, within the bound of the reduced data
    reduced = reduced_size(cluster, out)
    bound = 2 * reduced["vocabulary"] + sum(reduced.values()) + SMALL_FILES_ALLOWANCE
    # the driver did read and write data (the hook counts), within the bound
    assert moved["read"] > reduced["labelled"] > 0
    assert moved["read"] + moved["written"] <= bound, (moved, bound)
    # and that bound is under the corpus, even this small one: the bundle holds
    # the vocabulary twice (vocabulary.tsv and the numpy scorer's term table,
    # models/fastscore.py), so here it is about 0.6 of the 2 MB of mail; the
    # four-times check below is what shows it does not follow the corpus
    assert bound < corpus_bytes, (bound, corpus_bytes)

    # four times the unlabelled mail: what the driver moves grows no more than
    # the reduced data (the vocabulary, and with it the labelled vectors' kept
    # terms, the model's coefficients and the report; the flagged list) and
    # the work list (a line per input file)
    more_files = corpus_files(MORE_UNLABELLED)
    _, more_out, more, more_bytes, more_moved = emr_run(cluster, driver_bytes, more_files,
                                                        tmp_path, "more", aws_env)
    assert more["stages"]["labels"]["unlabelled"] == 4 * summary["stages"]["labels"][
        "unlabelled"]
    assert more_bytes > 1.2 * corpus_bytes
    more_reduced = reduced_size(cluster, more_out)
    more_bound = (2 * more_reduced["vocabulary"] + sum(more_reduced.values())
                  + SMALL_FILES_ALLOWANCE)
    growth = more_bound - bound + more_moved["work_list"] - moved["work_list"]
    assert (more_moved["read"] + more_moved["written"]
            <= moved["read"] + moved["written"] + max(growth, 0) + 4096), (
        more_moved, moved, growth)

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

        for label, figures, size, count in (("base", moved, corpus_bytes, len(files)),
                                            ("4x unlabelled", more_moved, more_bytes,
                                             len(more_files))):
            print("\nemr against moto, %s: corpus %d bytes (%d messages); driver data path: "
                  "read %d, wrote %d bytes (of which the work list %d); mrjob code uploads "
                  "%d bytes over %d jobs" % (label, size, count, figures["read"],
                                             figures["written"], figures["work_list"],
                                             figures["code"], figures["jobs"]))
            for stage, counted in figures["by_stage"].items():
                print("  %-8s read %8d  wrote %8d (code uploads included)"
                      % (stage, counted["read"], counted["written"]))
        print("bound of the base run: %d bytes" % bound)
