"""Submitting a job with the emr profile, against a moto server instead of AWS.

mrjob is pointed at the loopback moto server with its endpoint options
(``--emr-endpoint``, ``--s3-endpoint``, ``--iam-endpoint``) and dummy
credentials from the environment. moto accepts RunJobFlow and
AddJobFlowSteps but never runs a step, so the test runs ``runner.run()``
with the runner's ``_finish_run`` (mrjob's wait for the steps to finish,
the only part after submission) replaced by a no-op: archives, uploads,
the pooled cluster lookup or creation and the steps are all mrjob's own.
Every EMR request mrjob makes is recorded with a botocore event handler;
the S3 uploads are read from the temp bucket. To reuse a pooled cluster,
the test ends the first job's step in moto's state, as EMR would.
"""

import os
import uuid

import boto3
import numpy as np
import pytest
import tomllib

from jeeves.jobs.mr_cross_validate import MRCrossValidate
from jeeves.jobs.mr_parse_emails import MRParseEmails
from jeeves.models import cluster
from jeeves.models.training import shared_folds
from jeeves.taskcode import kernel_zip
from tests.emr.conftest import REGION, client
from tests.engines.runners import code_args
from tests.helpers import MRJOB_CONF, REPO

MAIL = os.path.join(REPO, "tests", "fixtures", "mail", "sample.mbox")
TASK_SIDE_PACKAGES = {"mrjob", "ujson", "nltk", "scikit-learn", "numpy", "scipy", "skops"}


@pytest.fixture(autouse=True)
def moto_keeps_application_names(monkeypatch):
    """moto 5.2.5 reads RunJobFlow's Applications with lowercase keys and so
    answers DescribeCluster with nameless applications, which mrjob needs
    (it picks the streaming jar from them): hand it lowercase keys."""
    from moto.emr.models import Cluster

    original = Cluster.add_applications

    def add_applications(self, applications):
        original(self, [{key.lower(): value for key, value in app.items()}
                        for app in applications])

    monkeypatch.setattr(Cluster, "add_applications", add_applications)


@pytest.fixture
def recorded_requests():
    """[(operation, params)] of every EMR request made through boto3's default session."""
    calls = []

    def record(params, model, **_):
        calls.append((model.name, params))

    boto3.setup_default_session(region_name=REGION)
    events = boto3.DEFAULT_SESSION.events
    events.register("provide-client-params.emr", record)
    yield calls
    events.unregister("provide-client-params.emr", record)
    boto3.DEFAULT_SESSION = None


def submit(endpoint, tmp_bucket, extra=(), job_class=MRParseEmails, inputs=(MAIL,)):
    """Submit a job with the emr profile -> (cluster id, step ids, {S3 key: body})."""
    args = ["-r", "emr", "-c", MRJOB_CONF, "--emr-endpoint", endpoint, "--s3-endpoint", endpoint,
            "--iam-endpoint", endpoint, "--cloud-tmp-dir", "s3://%s/tmp/" % tmp_bucket,
            "--check-cluster-every", "0.1",
            # the roles `aws emr create-default-roles` makes; without them
            # mrjob creates its own through IAM
            "--iam-instance-profile", "EMR_EC2_DefaultRole",
            "--iam-service-role", "EMR_DefaultRole", *code_args("emr"), *extra, *inputs]
    job = job_class(args=args)
    with job.make_runner() as runner:
        # run() up to submission: waiting for steps moto never runs is skipped
        runner._finish_run = lambda: None
        runner.run()
        # read before the runner's cleanup removes its temp files
        s3 = client("s3", endpoint)
        uploads = {obj["Key"]: s3.get_object(Bucket=tmp_bucket, Key=obj["Key"])["Body"].read()
                   for obj in s3.list_objects_v2(Bucket=tmp_bucket, Prefix="tmp/")
                   .get("Contents", [])}
        return runner.get_cluster_id(), list(runner._step_ids), uploads


def task_side_pins():
    """pyproject.toml's ``pkg==X.Y.Z`` pins of the packages the tasks import."""
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    pins = {pin for pin in dependencies if pin.split("==")[0] in TASK_SIDE_PACKAGES}
    assert len(pins) == len(TASK_SIDE_PACKAGES), pins
    return pins


def requests_named(calls, name):
    return [params for operation, params in calls if operation == name]


def test_submission_uses_the_emr_profile(aws_env, recorded_requests):
    tmp_bucket = "jeeves-tmp-" + uuid.uuid4().hex[:8]
    client("s3", aws_env).create_bucket(Bucket=tmp_bucket)
    cluster_id, step_ids, uploads = submit(aws_env, tmp_bucket)

    [run_job_flow] = requests_named(recorded_requests, "RunJobFlow")
    assert run_job_flow["ReleaseLabel"] == "emr-7.5.0"
    assert run_job_flow["JobFlowRole"] == "EMR_EC2_DefaultRole"
    assert run_job_flow["LogUri"] == "s3://%s/tmp/logs/" % tmp_bucket
    groups = {group["InstanceRole"]: group for group in
              run_job_flow["Instances"]["InstanceGroups"]}
    assert groups["MASTER"]["Market"] == "ON_DEMAND"
    assert groups["CORE"]["Market"] == "ON_DEMAND" and groups["CORE"]["InstanceCount"] == 2
    assert groups["TASK"]["Market"] == "SPOT" and groups["TASK"]["BidPrice"] == "0.192"
    # a pooled cluster waits for more jobs, and ends itself after 10 idle minutes
    assert run_job_flow["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    actions = {action["Name"]: action["ScriptBootstrapAction"]
               for action in run_job_flow["BootstrapActions"]}
    assert actions["idle timeout"]["Args"] == ["600"]
    master_script = actions["master"]["Path"]

    # mrjob tags the new cluster for pooling, with the profile's own tags
    [add_tags] = requests_named(recorded_requests, "AddTags")
    assert add_tags["ResourceId"] == cluster_id
    tags = {tag["Key"]: tag["Value"] for tag in add_tags["Tags"]}
    assert tags["project"] == "jeeves"
    assert tags["__mrjob_pool_name"] == "jeeves"
    assert tags["__mrjob_pool_hash"]

    [add_steps] = requests_named(recorded_requests, "AddJobFlowSteps")
    assert add_steps["JobFlowId"] == cluster_id
    [step] = add_steps["Steps"]
    step_args = step["HadoopJarStep"]["Args"]
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert step_args[0] == "hadoop-streaming"
    options = dict(zip(step_args[1::2], step_args[2::2]))
    assert options["-cmdenv"] == "PYTHONHASHSEED=0"
    assert options["-output"].startswith("s3://%s/tmp/" % tmp_bucket)
    # the profile's Python, through jeeves.jobs.task_start (jeeves.taskcode)
    start = "python3.11 -m jeeves.jobs.task_start mr_parse_emails.py --step-num=0"
    assert start + " --mapper" in options["-mapper"]
    assert start + " --reducer" in options["-reducer"]
    # the code: the jeeves package as one zip on the tasks' PYTHONPATH (jeeves.taskcode);
    # the one archive is the native kernel's, when it is built (no WordNet)
    archives = options["-archives"].split(",") if "-archives" in options else []
    assert [uri.rsplit("#", 1)[1] for uri in archives] == (
        ["jeeves-kernel"] if kernel_zip() else []), archives
    assert any(uri.endswith("#jeeves.zip") for uri in options["-files"].split(","))
    assert len(step_ids) == 1

    # the uploads: bootstrap script, job script, input, shipped package
    names = {key.rsplit("/", 1)[-1] for key in uploads}
    assert {"mr_parse_emails.py", "jeeves.zip", "mrjob.zip", "input-manifest.txt"} <= names
    [wrapper] = [body.decode() for key, body in uploads.items() if key.endswith("setup-wrapper.sh")]
    assert "export PYTHONPATH=$__mrjob_PWD/jeeves.zip:$PYTHONPATH" in wrapper
    if kernel_zip():
        assert "export PYTHONPATH=$__mrjob_PWD/jeeves-kernel/:$PYTHONPATH" in wrapper
    bucket, key = master_script[len("s3://"):].split("/", 1)
    assert bucket == tmp_bucket and key in uploads
    text = uploads[key].decode()
    assert "sudo dnf install -y python3.11 python3.11-pip" in text
    # the nodes get the driver's own pins, so the bundle it trains loads there
    [install] = [line for line in text.splitlines() if "python3.11 -m pip install" in line]
    assert task_side_pins() <= set(install.split())
    # the lemma tables travel in the zip: the nodes need no WordNet
    assert "nltk.downloader" not in text

    # moto's own view of the cluster agrees
    emr = client("emr", aws_env)
    cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert cluster["ReleaseLabel"] == "emr-7.5.0"
    assert [s["Id"] for s in emr.list_steps(ClusterId=cluster_id)["Steps"]] == step_ids


def test_a_second_job_reuses_the_pooled_cluster(aws_env, recorded_requests):
    tmp_bucket = "jeeves-pool-" + uuid.uuid4().hex[:8]
    client("s3", aws_env).create_bucket(Bucket=tmp_bucket)
    pool = ["--pool-name", "pool-" + uuid.uuid4().hex[:8]]
    first, _, _ = submit(aws_env, tmp_bucket, pool)
    # moto never runs steps: end the first job's step as EMR would, leaving
    # the pooled cluster idle (WAITING)
    _finish_steps(first)
    second, _, _ = submit(aws_env, tmp_bucket, pool)
    assert second == first
    assert len(requests_named(recorded_requests, "RunJobFlow")) == 1
    assert len(requests_named(recorded_requests, "AddJobFlowSteps")) == 2


def _finish_steps(cluster_id):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.emr.models import emr_backends

    cluster = emr_backends[DEFAULT_ACCOUNT_ID][REGION].clusters[cluster_id]
    for step in cluster.steps:
        step.state = "COMPLETED"
    cluster.state = "WAITING"


def test_cluster_training_ships_the_models_package(aws_env, recorded_requests, tmp_path):
    tmp_bucket = "jeeves-cv-" + uuid.uuid4().hex[:8]
    client("s3", aws_env).create_bucket(Bucket=tmp_bucket)
    y = np.array([0, 1] * 6)
    X = np.abs(np.random.RandomState(0).normal(size=(12, 4)))
    folds = shared_folds(y, 2, 0)
    data = tmp_path / "cv_data.npz"
    cluster.write_cv_data(data, X, y, folds, cluster.inner_folds(y, folds, 2, 0))
    inputs = cluster.write_task_files(cluster.task_lines(["multinomial_nb"], 2, 2),
                                      str(tmp_path))
    _, _, uploads = submit(aws_env, tmp_bucket, ["--cv-data", str(data)],
                           job_class=MRCrossValidate, inputs=inputs)
    # two steps (average the inner folds, then choose and refit); on a
    # pooled cluster mrjob adds them one at a time, the second after the first
    [add_steps] = requests_named(recorded_requests, "AddJobFlowSteps")
    [step] = add_steps["Steps"]
    assert step["Name"].endswith("Step 1 of 2")
    first = dict(zip(add_steps["Steps"][0]["HadoopJarStep"]["Args"][1::2],
                     add_steps["Steps"][0]["HadoopJarStep"]["Args"][2::2]))
    files = first["-files"].split(",")
    assert any(uri.endswith("#cv_data.npz") for uri in files)
    assert any(uri.endswith("#jeeves.zip") for uri in files)
    names = {key.rsplit("/", 1)[-1] for key in uploads}
    assert {"jeeves.zip", "cv_data.npz"} <= names
    # one input file per task line: 3 alphas x 2 outer x 2 inner folds
    assert len([name for name in names if name.startswith("tasks-")]) == 12
