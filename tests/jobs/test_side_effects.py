"""Every job has no effect but its output (issue 27: nothing left behind).

Each job of ``jobs/`` (one MRJob per ``mr_*.py`` file, found by listing
the package, so a new job cannot be forgotten: it fails
``test_every_job_has_a_case`` until it gets a case in ``CASES``) runs on the
local runner, on a tiny hand-written input, with

- the driver's working directory a fresh empty directory,
- ``TMPDIR`` (and Python's ``tempfile.tempdir``) a fresh empty directory,
- the output in a directory of its own.

mrjob runs with ``--cleanup NONE`` so that the task working directories
survive the run: each must hold exactly the files mrjob shipped there (its
``cache``), nothing a task made (the scoring job once left a
``model-bundle-*`` directory in every task's working directory). Then the
runner's own cleanup runs, and the working directory and ``TMPDIR`` must be
empty again, and ``git status`` of the checkout (untracked files included)
must show nothing new written during the run.

One task a step (``--num-cores 1``, one reducer): the local runner starts a
process per task.
"""

import importlib
import json
import os
import pkgutil
import subprocess
import tempfile
import time

import pytest
from mrjob.job import MRJob

import jeeves.jobs
from jeeves.taskcode import task_code_args
from tests.helpers import MRJOB_CONF, REPO
from tests.jobs.text_fixtures import RECORDS

# what people write, not jobs: see checkout_changes
SOURCE_SUFFIXES = (".py", ".md", ".rs", ".toml")
ONE_TASK = ["--num-cores", "1", "--jobconf", "mapreduce.job.reduces=1"]


def job_modules():
    """The ``mr_*`` modules of the jobs package."""
    return sorted(info.name for info in pkgutil.iter_modules(jeeves.jobs.__path__)
                  if info.name.startswith("mr_"))


def job_class(module_name):
    """The one MRJob class defined in a job module."""
    module = importlib.import_module("jeeves.jobs." + module_name)
    classes = [value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, MRJob) and value is not MRJob
               and value.__module__ == module.__name__]
    assert len(classes) == 1, "%s defines %d MRJobs" % (module_name, len(classes))
    return classes[0]


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def record_lines():
    return [json.dumps(record) for record in RECORDS[:4]]


def contact_records():
    return [json.dumps({"schema_version": 1, "message_id": "m%d" % number,
                        "date": "2001-05-14T23:39:00+00:00",
                        "from": {"address": sender, "name": ""}, "to": [recipient],
                        "cc": [], "bcc": [], "subject": "", "body": ""})
            for number, (sender, recipient) in enumerate([("a", "b"), ("c", "a"), ("b", "c")])]


def count_rows():
    """mr_count_ngrams output rows."""
    return ['["terms",0]\t{"gas": [3, 2], "gas price": [2, 2]}', '["terms",5]\t{"price": [2, 2]}',
            '["documents",""]\t3']


def vocabulary_file(directory):
    path = directory / "vocabulary.tsv"
    path.write_text("term\tid\tdf\tidf\nmeeting\t0\t2\t1.5\nbudget\t1\t2\t1.5\ngas\t2\t1\t2.0\n",
                    encoding="utf-8")
    return str(path)


def case_parse_emails(directory):
    mail = directory / "one.eml"
    mail.write_bytes(b"From: a@x.com\r\nTo: b@x.com\r\nSubject: lunch\r\n"
                     b"Message-ID: <1@x.com>\r\n\r\nLunch on Friday?\r\n")
    return [str(mail)], []


def case_count_ngrams(directory):
    return [write_lines(directory / "records", record_lines())], ["--ngram-max", "2"]


def case_build_vocabulary(directory):
    return [write_lines(directory / "counts", count_rows())], ["--documents", "3"]


def case_score_collocations(directory):
    return [write_lines(directory / "counts", count_rows())], ["--total-tokens", "10"]


def case_tfidf_vectors(directory):
    return ([write_lines(directory / "records", record_lines())],
            ["--vocabulary", vocabulary_file(directory), "--no-lemmatize"])


def case_label_messages(directory):
    lines = [json.dumps({"schema_version": 1, "message_id": "m%d@x" % number,
                         "folder": ["inbox", "meetings" if number % 2 else "other"],
                         "subject": "", "body": ""}) for number in range(3)]
    lines += ['0 0:0.5 2:0.25 # "m%d@x"' % number for number in range(3)]
    return [write_lines(directory / "rows", lines)], ["--labels", "folder:meetings"]


def case_select_rows(directory):
    lines = ['"message"\t' + line for line in record_lines()] + ['"quarantine"\t{}']
    return [write_lines(directory / "rows", lines)], ["--key", "message"]


def case_contact_lists(directory):
    return [write_lines(directory / "records", contact_records())], []


def case_common_contacts(directory):
    return [write_lines(directory / "records", contact_records())], []


def case_cross_validate(directory):
    import numpy as np
    import scipy.sparse

    from jeeves.models import cluster
    from jeeves.models.training import shared_folds

    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 8)
    X = scipy.sparse.csr_matrix(rng.random((16, 4)) + y[:, None])
    folds = shared_folds(y, 2, 0)
    path = directory / "cv_data.npz"
    cluster.write_cv_data(path, X, y, folds, cluster.inner_folds(y, folds, 2, 0))
    # one candidate's four fits: two outer folds of two inner folds
    lines = [line for line in cluster.task_lines(["multinomial_nb"], 2, 2)
             if json.loads(line)["params_index"] == 0]
    return [write_lines(directory / "tasks", lines)], ["--cv-data", str(path), "--seed", "0"]


def case_score_messages(directory):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from jeeves.features.text import Analyzer
    from jeeves.jobs.mr_score_messages import bundle_file_args
    from jeeves.models.bundle import save_bundle

    analyzer = {"lemmatize": False}
    vectorizer = TfidfVectorizer(analyzer=Analyzer(analyzer))
    X = vectorizer.fit_transform(RECORDS[:4])
    estimator = LogisticRegression().fit(X, [1, 1, 0, 0])
    vocabulary = directory / "vocabulary.tsv"
    vocabulary.write_text("term\tid\tdf\tidf\n" + "".join(
        "%s\t%d\t1\t%r\n" % (term, index, float(idf)) for index, (term, idf) in
        enumerate(zip(vectorizer.get_feature_names_out(), vectorizer.idf_))), encoding="utf-8")
    bundle = save_bundle(directory / "model", estimator, 0.5, analyzer, str(vocabulary),
                         "logistic_regression", X.shape[1])
    return [write_lines(directory / "records", record_lines())], bundle_file_args(bundle)


CASES = {"mr_" + name[len("case_"):]: case for name, case in globals().items()
         if name.startswith("case_")}


def test_every_job_has_a_case():
    assert set(CASES) == set(job_modules()), (
        "every job in jobs/ needs a case here: missing %s"
        % sorted(set(job_modules()) - set(CASES)))


def checkout_status():
    """git status of the checkout: changed tracked files and every untracked
    file that .gitignore does not name (where the model bundles were left)."""
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    return {line[3:].split(" -> ")[-1].strip('"'): line for line in done.stdout.splitlines()}


def checkout_changes(before, since):
    """The paths git status reports that ``before`` did not, written at or
    after ``since`` (a time.time()). The time window keeps other work in the
    same checkout (an editor, another test run) from counting against the job."""
    changed = []
    for name, line in sorted(checkout_status().items()):
        # source files come and go because people edit the checkout while
        # tests run; a job writes data (bundles, outputs, caches, temp files)
        if name in before or name.endswith(SOURCE_SUFFIXES):
            continue
        path = os.path.join(REPO, name)
        try:
            written = os.lstat(path).st_mtime
        except FileNotFoundError:
            written = since  # deleted: changed now, as far as we know
        if written >= since:
            changed.append(line)
    return changed


def tree(directory):
    """Relative paths of everything under a directory (links not followed)."""
    found = []
    for root, folders, files in os.walk(directory):
        found += [os.path.relpath(os.path.join(root, name), directory)
                  for name in folders + files]
    return sorted(found)


def task_working_dirs(run_dir):
    """{task working directory: its entries} of a run kept by --cleanup NONE,
    and {step directory: the shipped files of its cache}."""
    dirs, caches = {}, {}
    for root, folders, _ in os.walk(run_dir):
        if os.path.basename(root) == "wd":
            dirs[root] = sorted(os.listdir(root))
            folders[:] = []
        elif os.path.basename(root) == "cache":
            caches[os.path.dirname(root)] = sorted(os.listdir(root))
            folders[:] = []
    return dirs, caches


@pytest.fixture(scope="module")
def code_args():
    # built once per process before TMPDIR moves: it lives until the process ends
    return task_code_args("local")


@pytest.mark.parametrize("module_name", job_modules())
def test_a_job_leaves_nothing_but_its_output(module_name, code_args, tmp_path, monkeypatch):
    inputs_dir, cwd, tmp, out = (tmp_path / name for name in ("inputs", "cwd", "tmp", "out"))
    for directory in (inputs_dir, cwd, tmp):
        directory.mkdir()
    paths, args = CASES[module_name](inputs_dir)
    before, started = checkout_status(), time.time() - 1  # coarse file system clocks
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))

    job = job_class(module_name)(
        args=["-r", "local", "-c", MRJOB_CONF, "--cleanup", "NONE", "--output-dir", str(out)]
        + ONE_TASK + code_args + args + paths)
    job.sandbox()
    with job.make_runner() as runner:
        runner.run()
        run_dirs = os.listdir(tmp)
        assert len(run_dirs) == 1, run_dirs  # the runner's own, kept by --cleanup NONE
        working_dirs, caches = task_working_dirs(os.path.join(tmp, run_dirs[0]))
        assert working_dirs, "no task ran"
        for wd, entries in working_dirs.items():
            step = os.path.dirname(os.path.dirname(os.path.dirname(wd)))
            assert entries == caches[step], "a task of %s left %s in its working directory" % (
                module_name, sorted(set(entries) - set(caches[step])))
        runner.cleanup(mode="ALL")

    assert any(name.startswith("part-") for name in os.listdir(out))
    assert tree(cwd) == [], "left in the working directory"
    assert tree(tmp) == [], "left in TMPDIR"
    assert checkout_changes(before, started) == [], "the job changed the checkout"
