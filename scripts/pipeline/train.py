"""The labels and train stages: labelled vectors -> report/ and model/.

``label_stage`` applies the ``--labels`` SPEC in a job
(jobs/mr_label_messages.py) that joins the parsed records with their tf-idf
vectors and writes only the labelled ones, as svmlight lines with their
label, to OUTPUT/features/labelled/: the unlabelled corpus stays where it
lies. ``train_stage`` reads those lines and the vocabulary (what the driver
may hold), compares the models (in this process, or as an MRJob with
``on_cluster``), writes the report and the bundle locally, then puts them at
OUTPUT/report/ and OUTPUT/model/, each with its ``_SUCCESS`` last.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

from features.vocabulary import read_vocabulary_by_id
from models.labels import labeller_from_spec
from models.metrics import SELECTION_METRICS, check_target_recall
from models.registry import select_models
from models.run import train_and_bundle
from models.training import compare_models
from models.vectors import message_id_of_line
from scripts.cli import UserError
from scripts.pipeline.storage import is_remote, join


@dataclass(frozen=True)
class TrainingConfig:
    """How models are compared and chosen (docs/models.md)."""

    models: str = "fast"
    folds: int = 5
    seed: int = 0
    select_by: str = "pr_auc"
    target_recall: float = 0.95
    n_jobs: int = 1
    on_cluster: bool = False

    def __post_init__(self):
        try:
            select_models(self.models)
        except ValueError as error:
            raise UserError("--models: %s" % error) from None
        if self.select_by not in SELECTION_METRICS:
            raise UserError("--select-by must be one of %s, not %r"
                            % (", ".join(SELECTION_METRICS), self.select_by))
        try:
            check_target_recall(self.target_recall)
        except ValueError:
            raise UserError("--target-recall must be in (0, 1], not %r"
                            % self.target_recall) from None
        if self.folds < 2:
            raise UserError("--folds must be at least 2, not %d" % self.folds)


def check_label_spec(spec):
    """Raise UserError (one line) for a bad ``--labels`` SPEC."""
    try:
        labeller_from_spec(spec)
    except ValueError as error:
        raise UserError("--labels: %s" % error) from None


def label_stage(engine, spec, messages, vectors, raw_inputs, output):
    """Run the label job -> (OUTPUT/features/labelled URI, counts dict)."""
    from jobs.mr_label_messages import MRLabelMessages

    check_label_spec(spec)
    started = time.time()
    labelled_dir = join(output, "features", "labelled")
    inputs = [join(messages, "part-*"), join(vectors, "part-*")]
    spec = spec.strip()
    if os.path.isfile(spec):
        args = ["--labels-file", spec]
    else:
        args = ["--labels", spec]
    if spec.startswith("cats:"):
        # the Berkeley .cats files sit beside the raw messages
        inputs += cats_files(raw_inputs)
    result = engine.run(MRLabelMessages, inputs, labelled_dir, args)
    engine.storage.mark_complete(labelled_dir)
    counted = result.counters.get("label_messages", {})
    counts = {name: counted.get(name, 0)
              for name in ("labelled", "positive", "negative", "unlabelled")}
    counts["seconds"] = round(time.time() - started, 3)
    counts["tasks"] = result.tasks
    return labelled_dir, counts


def cats_files(raw_inputs):
    """The ``.cats`` files of the run's inputs: listed under local directories,
    as globs one and two levels down remote ones (``<N>/<id>.cats``)."""
    found = []
    for root in raw_inputs:
        if is_remote(root):
            found += [join(root, "*.cats"), join(root, "*", "*.cats")]
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
    """svmlight lines with labels -> (X, y, message_ids), in message-id order."""
    lines = [line.rstrip(b"\n") for line in storage.iter_lines(labelled_dir)]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return sp.csr_matrix((0, n_features), dtype=np.float64), np.zeros(0, dtype=int), []
    message_ids = [message_id_of_line(line, labelled_dir, number)
                   for number, line in enumerate(lines, 1)]
    X, y = load_svmlight_file(io.BytesIO(b"\n".join(lines) + b"\n"), n_features=n_features,
                              zero_based=True)
    return X.tocsr(), y.astype(int), message_ids


def load_test_set(storage, test_labelled, n_features):
    """The held-out test set's labelled vectors -> (X, y), refused (UserError) unless
    both classes are present: its ROC AUC and PR AUC need them."""
    X, y, _ = load_labelled(storage, test_labelled, n_features)
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise UserError("--test-labels labelled %d test messages, %d positive: a held-out "
                        "test set needs both classes" % (len(y), positives))
    return X, y


def train_stage(engine, labelled_dir, output, analyzer_config, vectors, config,
                report_notes=(), progress=None, test_labelled=None):
    """Compare models on the labelled vectors; put report/ and model/ under OUTPUT.

    With ``test_labelled`` (scripts/pipeline/heldout.py's labelled test
    vectors) the chosen model also scores the held-out test set: the
    ``test`` figures of the report and of the returned dict."""
    storage = engine.storage
    started = time.time()
    compare = compare_models
    if config.on_cluster:
        from scripts.pipeline.cluster_cv import compare_on_cluster

        compare = functools.partial(compare_on_cluster, runner=engine.runner, conf=engine.conf)
    for name in ("report", "model"):
        storage.clear(join(output, name))
    with tempfile.TemporaryDirectory(prefix="jeeves-train-") as scratch:
        vocabulary_path = os.path.join(scratch, "vocabulary.tsv")
        with open(vocabulary_path, "wb") as handle:
            handle.write(storage.read_bytes(join(output, "features", "vocabulary.tsv")))
        terms, _ = read_vocabulary_by_id(vocabulary_path)
        X, y, message_ids = load_labelled(storage, labelled_dir, len(terms))
        test = (load_test_set(storage, test_labelled, len(terms))
                if test_labelled is not None else None)
        try:
            training = train_and_bundle(
                X, y, message_ids, terms, vocabulary_path, scratch, analyzer_config,
                models=config.models, n_splits=config.folds, seed=config.seed,
                select_by=config.select_by, target_recall=config.target_recall,
                n_jobs=config.n_jobs, vectors=vectors, compare=compare,
                report_notes=list(report_notes), progress=progress, test=test)
        except ValueError as error:
            raise UserError(str(error)) from None
        for name in ("report", "model"):
            storage.put_tree(os.path.join(scratch, name), join(output, name))
            storage.mark_complete(join(output, name))
    training["report"] = join(output, "report", "report.html")
    training["bundle"] = join(output, "model")
    training["seconds"] = round(time.time() - started, 3)
    return training
