"""The labels and train stages: labelled vectors -> report/ and model/.

``label_stage`` applies the ``--labels`` SPEC in a job
(jobs/mr_label_messages.py) that joins the parsed records with their tf-idf
vectors and writes only the labelled ones, as svmlight lines with their
label, to OUTPUT/features/labelled/: the unlabelled corpus stays where it
lies. ``train_stage`` reads those lines and the vocabulary (what the driver
may hold), compares the models (in this process, or as an MRJob with
``on_cluster``), writes the report and the bundle locally, then puts them at
OUTPUT/report/ and OUTPUT/model/, each with its ``_SUCCESS`` last.

Importing this module (as `jeeves run` does for its options) imports
neither numpy, scipy, scikit-learn nor matplotlib: the functions that train
import them, so a run without ``--labels`` never loads them (about two
seconds of a one-core start-up).
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import time
from dataclasses import dataclass, field

from jeeves.errors import UserError
from jeeves.models.defaults import DEFAULT_GROUPS, DEFAULT_INTENT_DATA, check_groups
from jeeves.models.labels import labeller_from_spec
from jeeves.models.registry import (
    EMAIL_MODEL,
    ModelSpec,
    SettingError,
    TrainingSettings,
    select_models,
)
from jeeves.storage import is_remote, join

# the `jeeves run` option of each TrainingSettings field it validates
OPTIONS = {"models": "--models", "n_splits": "--folds", "select_by": "--select-by",
           "target_recall": "--target-recall"}


@dataclass(frozen=True)
class TrainingConfig:
    """How models are compared and chosen (docs/models.md): the models' own
    settings (`settings`, a jeeves.models.training.TrainingSettings built from
    the fields) and how the run trains them (on the cluster, the email
    model's feature groups and data)."""

    models: str = "fast"
    folds: int = 5
    seed: int = 0
    select_by: str = "pr_auc"
    target_recall: float = 0.95
    n_jobs: int = 0
    on_cluster: bool = False
    # the email model's feature groups (a comma string or names; "none" or
    # empty: no email model), its ablation table, the intent group's data
    groups: object = DEFAULT_GROUPS
    ablation: bool = True
    intent_data: str = DEFAULT_INTENT_DATA
    # at most this many tf-idf rows (a hash sample) are read for the LSA fit
    lsa_rows: int = 20000
    settings: TrainingSettings = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        groups = self.groups
        if isinstance(groups, str):
            groups = () if groups.strip() in ("", "none") else groups.split(",")
        try:
            object.__setattr__(self, "groups", tuple(check_groups(groups)) if groups else ())
        except ValueError as error:
            raise UserError("--feature-groups: %s" % error) from None
        try:
            names = select_models(self.models, extra=self._extra())
        except ValueError as error:
            raise UserError("--models: %s" % error) from None
        if self.on_cluster and EMAIL_MODEL in names:
            raise UserError("--train-on-cluster compares the tf-idf models only; the email "
                            "model (%s) is compared in the driver: drop one of them"
                            % EMAIL_MODEL)
        try:
            settings = TrainingSettings(models=self.models, n_splits=self.folds,
                                        seed=self.seed, select_by=self.select_by,
                                        target_recall=self.target_recall, n_jobs=self.n_jobs)
        except SettingError as error:
            raise UserError("%s %s" % (OPTIONS[error.setting], error.problem)) from None
        object.__setattr__(self, "settings", settings)

    def _extra(self):
        """The email model's spec for select_models, unless it is off (no groups, or
        training on the cluster, where "fast" and "all" leave it out)."""
        if not self.groups or self.on_cluster and self.models.strip() in ("fast", "all"):
            return {}
        # a stand-in: the real spec needs the trained sentence model and the SVD
        # (select_models reads its flags only, the email model's spec's)
        return {EMAIL_MODEL: ModelSpec(EMAIL_MODEL, None, linear=True, fast=True,
                                       documents=True)}

    @property
    def email_model(self):
        """True when the comparison includes the email model."""
        return EMAIL_MODEL in select_models(self.models, extra=self._extra())

    @property
    def record_fields(self):
        """The label job's --records: whole records for the email model, else the
        fields of the report's example messages."""
        return "all" if self.email_model else "subject,from,date"


def check_label_spec(spec):
    """Raise UserError (one line) for a bad ``--labels`` SPEC."""
    try:
        labeller_from_spec(spec)
    except ValueError as error:
        raise UserError("--labels: %s" % error) from None


def label_stage(engine, spec, messages, vectors, raw_inputs, output, records=None):
    """Run the label job -> (OUTPUT/features/labelled URI, counts dict).

    `records` is the job's ``--records`` ("all", or a comma list of fields):
    the labelled messages' records travel with their vectors."""
    from jeeves.jobs.mr_label_messages import MRLabelMessages

    check_label_spec(spec)
    started = time.time()
    labelled_dir = join(output, "features", "labelled")
    inputs = [join(messages, "part-*"), join(vectors, "part-*")]
    spec = spec.strip()
    if os.path.isfile(spec):
        args = ["--labels-file", spec]
    else:
        args = ["--labels", spec]
    if records:
        args += ["--records", records]
    with tempfile.TemporaryDirectory(prefix="jeeves-labels-") as scratch:
        if spec.startswith("cats:"):
            # the Berkeley .cats files sit beside the raw messages
            found = cats_files(raw_inputs, engine.storage.fs.exists)
            inputs = with_cats_files(engine, inputs, found, scratch)
        result = engine.run(MRLabelMessages, inputs, labelled_dir, args)
    engine.storage.mark_complete(labelled_dir)
    counted = result.counters.get("label_messages", {})
    counts = {name: counted.get(name, 0)
              for name in ("labelled", "positive", "negative", "unlabelled")}
    counts["seconds"] = round(time.time() - started, 3)
    counts["tasks"] = result.tasks
    return labelled_dir, counts


def with_cats_files(engine, inputs, found, scratch):
    """The label job's inputs with the ``.cats`` files ``found`` (paths and
    globs) packed into one input file written in ``scratch``.

    The job joins a ``.cats`` file to its message by the file's path. Given
    the files themselves, a task learns that path from the name of its
    input file (Hadoop's mapreduce.map.input.file); packed, each file's
    lines carry its URI (jeeves.models.labels.packed_cats_line), and one
    map task reads them all. They go packed on every runner, those on HDFS
    or S3 read through the engine's storage (a few bytes each):

    - mrjob makes each input file a map task at least: the Berkeley set's
      1,702 files took 54 s of a 58 s local run, a task process each, and
      would be as many containers on a cluster;
    - a cluster's task reads a local file as the copy mrjob uploads, and
      the inline and local runners a remote one as a local copy, each
      under another path than its message's;
    - mrjob's Spark harness names no input file (with
      ``--emulate-map-input-file``, the first file of each partition only,
      where Spark puts many small files in one).
    """
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from jeeves.models.labels import packed_cats_line

    local = [path for path in found if not is_remote(path)]
    remote = sorted(uri for glob in found if is_remote(glob)
                    for uri in engine.storage.fs.ls(glob))
    if not local and not remote:
        return inputs
    packed = os.path.join(scratch, "cats.jsonl")
    with open(packed, "w", encoding="utf-8") as handle:
        for path in local:
            # read as the job and CatsLabeller read a .cats file
            with open(path, encoding="ascii", errors="replace") as cats:
                handle.write(packed_cats_line(Path(path).as_uri(), cats.read()) + "\n")
        # small files where each read waits on the network: a few at once
        with ThreadPoolExecutor(max_workers=8) as pool:
            for uri, data in zip(remote, pool.map(engine.storage.read_bytes, remote)):
                handle.write(packed_cats_line(uri, data.decode("ascii", "replace")) + "\n")
    return inputs + [packed]


def cats_files(raw_inputs, exists=None):
    """The ``.cats`` files of the run's inputs: listed under local directories,
    as globs one and two levels down remote ones (``<N>/<id>.cats``, the
    Berkeley set's layout; with_cats_files lists them), each glob only if
    ``exists(glob)`` (a storage's ``fs.exists``): a glob that matches
    nothing is not listed."""
    found = []
    for root in raw_inputs:
        if is_remote(root):
            found += [glob for glob in (join(root, "*.cats"), join(root, "*", "*.cats"))
                      if exists is None or exists(glob)]
        elif os.path.isdir(root):
            # normalized as the records' source URIs are (a "../" in the
            # input would keep a .cats file from its message)
            for directory, _, names in sorted(os.walk(os.path.abspath(root))):
                found += [os.path.join(directory, name) for name in sorted(names)
                          if name.endswith(".cats")]
        elif root.endswith(".cats"):
            found.append(os.path.abspath(root))
    return found


def load_labelled(storage, labelled_dir, n_features):
    """svmlight lines with labels -> (X, y, message_ids, records), in line order;
    records (from the label job's ``--records``) is None when the lines carry none."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.datasets import load_svmlight_file

    from jeeves.models.vectors import labelled_line

    lines = [line.rstrip(b"\n") for line in storage.iter_lines(labelled_dir)]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return (sp.csr_matrix((0, n_features), dtype=np.float64), np.zeros(0, dtype=int), [],
                None)
    parsed = [labelled_line(line, labelled_dir, number) for number, line in enumerate(lines, 1)]
    message_ids = [message_id for message_id, _ in parsed]
    records = [record for _, record in parsed]
    if any(record is None for record in records):
        records = None
    X, y = load_svmlight_file(io.BytesIO(b"\n".join(lines) + b"\n"), n_features=n_features,
                              zero_based=True)
    return X.tocsr(), y.astype(int), message_ids, records


def load_test_set(storage, test_labelled, n_features):
    """The held-out test set's labelled vectors -> (X, y, records), refused (UserError)
    unless both classes are present: its ROC AUC and PR AUC need them."""
    X, y, _, records = load_labelled(storage, test_labelled, n_features)
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise UserError("--test-labels labelled %d test messages, %d positive: a held-out "
                        "test set needs both classes" % (len(y), positives))
    return X, y, records


def sample_rows(engine, output, documents, rows):
    """A hash sample of about `rows` of the tf-idf rows (all of them when there are
    fewer), selected on the runner (jobs/mr_select_rows.py ``--sample``) into
    OUTPUT/features/sample/ -> the URI. The driver reads the sample only."""
    from jeeves.jobs.mr_select_rows import MRSelectRows

    sample_dir = join(output, "features", "sample")
    fraction = 1.0 if documents <= rows else rows / float(documents)
    engine.run(MRSelectRows, [join(output, "features", "tfidf", "part-*")], sample_dir,
               ["--sample", repr(fraction)])
    engine.storage.mark_complete(sample_dir)
    return sample_dir


def email_input(engine, output, config, records, n_features, documents, test_records=None):
    """What the email model needs (jeeves.models.run.EmailInput) -> (EmailInput, notes).

    The intent group's sentence model is trained from ``config.intent_data``
    (left out, with a note, when the file is absent); the LSA group's SVD is
    fitted on a hash sample of at most ``config.lsa_rows`` tf-idf rows of all
    parsed messages, labelled or not."""
    from jeeves.models.run import EmailInput

    if not config.email_model:
        return EmailInput(records, (), ablation=False, test_records=test_records), []
    groups, notes = list(config.groups), []
    intent_model = corpus_svd = None
    if "intent" in groups:
        if os.path.isfile(config.intent_data):
            from jeeves.models.intent import load_intent_model

            try:
                intent_model = load_intent_model(config.intent_data, seed=config.seed)
            except ValueError as error:
                raise UserError("--intent-data: %s" % error) from None
        else:
            groups.remove("intent")
            notes.append("The intent feature group is left out: no sentence data at %s "
                         "(--intent-data)." % config.intent_data)
    if "lsa" in groups:
        from jeeves.models.lsa import fit_corpus_svd

        sample = sample_rows(engine, output, documents, config.lsa_rows)
        X_sample, _, sample_ids, _ = load_labelled(engine.storage, sample, n_features)
        # in message-id order: the SVD's floating point must not follow the
        # part files' layout, which depends on the runner
        X_sample = X_sample[sorted(range(len(sample_ids)), key=sample_ids.__getitem__)]
        if X_sample.shape[0] >= 2:
            corpus_svd = fit_corpus_svd(X_sample, random_state=config.seed)
            notes.append("LSA: %d components fitted on %d of the %d messages' tf-idf rows."
                         % (corpus_svd.components.shape[0], X_sample.shape[0], documents))
        else:
            groups.remove("lsa")
            notes.append("The lsa feature group is left out: fewer than 2 messages.")
    return EmailInput(records, tuple(groups), intent_model, corpus_svd, config.ablation,
                      test_records), notes


def send_bundle(storage, uri, *bundle, **keywords):
    """Write a model bundle at `uri` through `storage` (a local path or a URI):
    jeeves.models.bundle.bundle_files' files, made in memory from
    save_bundle's arguments but the directory, each sent once (no local copy
    to write, read back and upload) -> `uri`. The caller clears `uri` before
    and marks it complete after."""
    from jeeves.models.bundle import bundle_files

    for name, data in bundle_files(*bundle, **keywords).items():
        storage.write_bytes(join(uri, name), data)
    return uri


# where a run that is training keeps its evaluated folds (FoldCheckpoints), under OUTPUT
CHECKPOINTS = "checkpoints"


class CheckpointStore:
    """FoldCheckpoints' store: one file a fold under OUTPUT/checkpoints/train/,
    read and written through the run's Storage (local, hdfs:// or s3://).

    Its FINGERPRINT file holds the train stage's fingerprint
    (jeeves.pipeline.fingerprint): a store left by a run of other inputs or
    options is cleared when opened. An entry torn by a kill does not parse
    and is evaluated again. `jeeves run` removes OUTPUT/checkpoints/ once
    the train stage is sealed (and at the start with ``--force``)."""

    def __init__(self, storage, output, fingerprint):
        self.storage = storage
        self.directory = join(output, CHECKPOINTS, "train")
        tag = join(self.directory, "FINGERPRINT")
        found = self.get("FINGERPRINT")
        if found != fingerprint.encode("ascii"):
            storage.clear(self.directory)
            storage.write_bytes(tag, fingerprint.encode("ascii"))

    def get(self, name):
        path = join(self.directory, name)
        try:
            return self.storage.read_bytes(path) if self.storage.exists(path) else None
        except FileNotFoundError:
            return None

    def put(self, name, data):
        self.storage.write_bytes(join(self.directory, name), data)


def train_stage(engine, labelled_dir, output, analyzer_config, vectors, config,
                report_notes=(), progress=None, test_labelled=None, corpus=None,
                documents=0, fingerprint=None):
    """Compare models on the labelled vectors; put report/ and model/ under OUTPUT.

    With ``test_labelled`` (scripts/pipeline/heldout.py's labelled test
    vectors) the chosen model also scores the held-out test set: the
    ``test`` figures of the report and of the returned dict. `corpus` is
    the report's corpus block; `documents` the number of tf-idf rows (for
    the LSA sample). With the train stage's `fingerprint`, each model's
    evaluated folds are kept under OUTPUT/checkpoints/train/ as they finish
    (CheckpointStore), and those an interrupted run of the same fingerprint
    left are read back, not fitted again (not with ``on_cluster``, whose
    folds are one job's tasks)."""
    from jeeves.models.bundle import vocabulary_rows, vocabulary_terms
    from jeeves.models.run import FeatureSpace, LabelledVectors, ReportInputs, train_and_bundle
    from jeeves.models.training import FoldCheckpoints, compare_models

    storage = engine.storage
    started = time.time()
    compare = compare_models
    checkpoints = None
    if fingerprint is not None and not config.on_cluster:
        checkpoints = FoldCheckpoints(CheckpointStore(storage, output, fingerprint))
    if config.on_cluster:
        from jeeves.pipeline.cluster_cv import compare_on_cluster

        compare = functools.partial(compare_on_cluster, engine=engine)
    for name in ("report", "model"):
        storage.clear(join(output, name))
    # the vocabulary is received once and held: its terms name the features,
    # and the bundle stores its bytes (no local copy to write and read back)
    vocabulary = storage.read_bytes(join(output, "features", "vocabulary.tsv"))
    terms = vocabulary_terms(vocabulary_rows(vocabulary))
    with tempfile.TemporaryDirectory(prefix="jeeves-train-") as scratch:
        X, y, message_ids, records = load_labelled(storage, labelled_dir, len(terms))
        test = test_records = None
        if test_labelled is not None:
            X_test, y_test, test_records = load_test_set(storage, test_labelled, len(terms))
            test = (X_test, y_test)
        email, notes = None, []
        if records is not None:
            email, notes = email_input(engine, output, config, records, len(terms), documents,
                                       test_records)
        try:
            training = train_and_bundle(
                LabelledVectors(X, y, message_ids),
                FeatureSpace(terms, vocabulary, analyzer_config, vectors), scratch,
                config.settings, email=email, test=test,
                report=ReportInputs(list(report_notes) + notes, corpus), progress=progress,
                compare=compare, checkpoints=checkpoints,
                save=functools.partial(send_bundle, storage, join(output, "model")))
        except ValueError as error:
            raise UserError(str(error)) from None
        storage.put_tree(os.path.join(scratch, "report"), join(output, "report"))
        for name in ("report", "model"):
            storage.mark_complete(join(output, name))
    training["report"] = join(output, "report", "report.html")
    training["bundle"] = join(output, "model")
    training["seconds"] = round(time.time() - started, 3)
    if checkpoints is not None:
        training["folds_resumed"] = checkpoints.restored
    return training
