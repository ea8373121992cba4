"""Stage fingerprints: what `jeeves run` keeps of an earlier run into the same OUT.

Every stage of `jeeves run` ends with a ``_SUCCESS`` marker in each of its
directories (docs/pipeline.md). The stage functions write it empty; the
run then writes there the stage's record, one line of JSON::

    {"format": 1, "stage": "features", "fingerprint": "<sha256 hex>",
     "outputs": {"counts/part-00000": 5120, ...}, "summary": {...}}

- ``fingerprint``: the sha256 of what the stage's output follows from: its
  own inputs (the raw mail listed with sizes and versions, see
  jeeves.storage.Storage.list_status; a labels file's sha256, the intent
  file's when the run's email model has the intent group, the one use of it),
  the fingerprints of the stages it reads (UPSTREAM), the values of exactly
  the options that change its output (OPTION_STAGES) and Jeeves' version;
- ``outputs``: the directory's files with their sizes (a stage directory
  nested in it left out): the output is complete while they are all there,
  as large;
- ``summary``: what the stage put in summary.json, so a kept stage is
  reported as it was computed.

A run keeps a stage when every one of its directories carries a record of
this format with the fingerprint the run computes, its outputs are all
there and every stage it reads is kept too; it recomputes the others
(:class:`Resume`). An empty marker (a stage command's, or a run killed
between the stage's end and its record), one of another format, or one
that does not parse is never trusted. ``--force`` recomputes everything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import posixpath
from urllib.parse import urlparse

from jeeves.features.text import config_with_defaults
from jeeves.storage import SUCCESS, is_remote, join, local_path

FORMAT = 1
STAGES = ("parse", "features", "graph", "labels", "test", "train", "score")
# the stages whose output each stage reads
UPSTREAM = {
    "parse": (),
    "features": ("parse",),
    "graph": ("parse",),
    "labels": ("parse", "features"),
    "test": ("features",),  # the training vocabulary and analyzer
    "train": ("features", "labels", "test"),
    "score": ("parse", "train"),
}
ANALYZER_OPTIONS = ("fields", "ngram_min", "ngram_max", "stop_words", "stop_words_file",
                    "strip_accents", "unicode_form", "token_pattern", "lowercase",
                    "placeholders", "lemmatize")
VECTORIZER_OPTIONS = ("min_df", "max_df", "max_features", "smooth_idf", "use_idf",
                      "sublinear_tf", "norm", "hash_features", "min_llr")
GRAPH_OPTIONS = ("max_list", "top_k", "max_degree", "reciprocal_only", "pseudonymize")
TRAINING_OPTIONS = ("models", "select_by", "target_recall", "folds", "seed",
                    "train_on_cluster", "feature_groups", "ablation", "intent_data")

# Every option of `jeeves run` (its argparse dest) -> the stages whose output
# it changes: their fingerprints hold its value, and every stage that reads
# them (UPSTREAM) follows. tests/scripts/test_resume_options.py fails when an
# option of `jeeves run` is missing here.
OPTION_STAGES = {
    # where the run reads, runs and writes, not what it computes: the outputs
    # are the same on every runner (tests/scripts/test_determinism.py)
    "output": (),
    "runner": (),
    "mrjob_conf": (),
    "force": (),
    # how many processes search the grid, and how often the counting tasks
    # flush their totals: the same results
    "n_jobs": (),
    "flush_size": (),
    # the raw mail: listed with sizes and versions
    "input": ("parse",),
    "dedupe_by": ("parse", "test"),
    **{name: ("features",) for name in ANALYZER_OPTIONS + VECTORIZER_OPTIONS},
    "graph": ("graph",),  # --no-graph: no graph stage
    **{name: ("graph",) for name in GRAPH_OPTIONS},
    "labels": ("labels", "test"),  # the test labels default to --labels
    "test_input": ("test",),
    "test_labels": ("test",),
    **{name: ("train",) for name in TRAINING_OPTIONS},
    "score": ("score",),
}
# Values the stages get from several options: the label jobs keep the whole
# records for the email model, else a few fields (TrainingConfig.record_fields,
# from --models, --feature-groups and --train-on-cluster)
DERIVED_STAGES = {"record_fields": ("labels", "test")}


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jeeves")
    except PackageNotFoundError:
        return "unknown"


def _file_digest(path):
    """sha256 of a local file (a labels CSV, the intent sentences), or None
    when ``path`` is no file (a label SPEC, a missing intent file)."""
    if not isinstance(path, str) or is_remote(path) or not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _uses_intent(config):
    """Whether a run of ``config`` trains the intent group's sentence model
    (jeeves.pipeline.train.email_input): the email model, with ``intent``."""
    training = config.training
    return config.labels is not None and training.email_model and "intent" in training.groups


def _relative(location, directory):
    """``location``'s path below ``directory`` ("/"-separated), or None."""
    if is_remote(directory):
        base, path = urlparse(directory).path, urlparse(location).path
    else:
        base = os.path.abspath(local_path(directory)).replace(os.sep, "/")
        path = os.path.abspath(local_path(location)).replace(os.sep, "/")
    base = base.rstrip("/") + "/"
    return path[len(base):] if path.startswith(base) else None


def listing(storage, roots):
    """[[location, size, version]] of the files under each raw input root, as
    the parse job reads them: names starting with "_" below a root (completion
    markers) are left out."""
    found = []
    for root in roots:
        if not is_remote(root):
            root = os.path.abspath(local_path(root))  # as the records name their source
        for location, size, version in storage.list_status(root):
            below = _relative(location, root)
            if below and any(part.startswith("_") for part in below.split("/")):
                continue
            found.append([str(location), size, str(version)])
    return found


def option_values(config, storage):
    """{option dest: the value the run uses} for every option of OPTION_STAGES
    (its raw inputs listed, files named by options digested) and DERIVED_STAGES."""
    analyzer = config_with_defaults(config.analyzer)
    training = config.training
    values = {
        "output": config.output, "runner": None, "mrjob_conf": None, "force": config.force,
        "n_jobs": training.n_jobs, "flush_size": config.vectorizer.flush_size,
        "input": listing(storage, config.inputs),
        "dedupe_by": config.dedupe_by,
        "stop_words_file": analyzer["stop_words"],
        "graph": config.graph is not None,
        "labels": [config.labels, _file_digest(config.labels)],
        "test_input": listing(storage, config.test_inputs),
        "test_labels": [config.test_labels, _file_digest(config.test_labels)],
        "models": training.models, "select_by": training.select_by,
        "target_recall": training.target_recall, "folds": training.folds,
        "seed": training.seed, "train_on_cluster": training.on_cluster,
        "feature_groups": list(training.groups), "ablation": training.ablation,
        # the sentences are read only by the email model's intent group
        "intent_data": [training.intent_data, _file_digest(training.intent_data)
                        if _uses_intent(config) else None],
        "score": config.score,
        "record_fields": training.record_fields if config.labels is not None else None,
    }
    values.update({name: analyzer[name] for name in ANALYZER_OPTIONS if name in analyzer})
    vectorizer = dataclasses.asdict(config.vectorizer)
    values.update({name: vectorizer[name] for name in VECTORIZER_OPTIONS})
    graph = dataclasses.asdict(config.graph) if config.graph is not None else {}
    values.update({name: graph.get(name) for name in GRAPH_OPTIONS})
    if graph.get("pseudonymize"):
        from jeeves.features.graph import pseudonym_key

        # the key changes the pseudonyms; a keyed digest of it tells keys apart
        # without writing the key, or a plain hash of it, into OUT
        values["pseudonymize"] = hmac.new(pseudonym_key(), b"jeeves stage fingerprint",
                                          hashlib.sha256).hexdigest()
    return values


def stages_of(config):
    """The stages a run of ``config`` goes through, in order."""
    present = {"parse", "features"}
    if config.graph is not None:
        present.add("graph")
    if config.labels is not None:
        present |= {"labels", "train"} | ({"test"} if config.test_inputs else set())
        if config.score:
            present.add("score")
    return [stage for stage in STAGES if stage in present]


def stage_directories(config):
    """{stage: the directories under OUTPUT that carry its marker} for ``config``."""
    from jeeves.pipeline.heldout import WRITTEN as HELD_OUT_WRITTEN

    directories = {"parse": ("messages", "quarantine"), "features": ("features",),
                   "graph": ("graph",), "labels": ("features/labelled",),
                   "test": tuple(HELD_OUT_WRITTEN), "train": ("report", "model"),
                   "score": ("predictions",)}
    if config.labels is not None and config.training.email_model \
            and "lsa" in config.training.groups:
        directories["train"] += ("features/sample",)
    return {stage: directories[stage] for stage in stages_of(config)}


# every stage directory there may be: a stage's listing leaves out those nested in it
NESTED = ("features/labelled", "features/sample", "test/features/labelled")


def stage_fingerprints(config, storage):
    """{stage: fingerprint} of the stages of ``config`` (module docstring)."""
    values = option_values(config, storage)
    version = _version()
    fingerprints = {}
    for stage in stages_of(config):
        content = {
            "format": FORMAT, "jeeves": version, "stage": stage,
            "upstream": {name: fingerprints[name] for name in UPSTREAM[stage]
                         if name in fingerprints},
            "options": {name: values[name] for name, stages in
                        sorted(list(OPTION_STAGES.items()) + list(DERIVED_STAGES.items()))
                        if stage in stages},
        }
        fingerprints[stage] = hashlib.sha256(
            json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()
    return fingerprints


def outputs(storage, directory, relative_name):
    """{path below ``directory``: size} of its files but its marker and those of
    the stage directories nested in it (``relative_name``: its name under OUT)."""
    nested = [name[len(relative_name) + 1:] + "/" for name in NESTED
              if name.startswith(relative_name + "/")]
    found = {}
    for location, size, _ in storage.list_status(directory):
        below = _relative(location, directory)
        if below is None or below == SUCCESS or below.startswith(tuple(nested)):
            continue
        found[posixpath.normpath(below)] = size
    return found


def read_record(storage, directory):
    """The record in ``directory``'s marker, or None when there is no marker
    or it holds no record of this format."""
    marker = join(directory, SUCCESS)
    if not storage.exists(marker):
        return None
    try:
        record = json.loads(storage.read_bytes(marker))
    except (ValueError, FileNotFoundError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    return record


class Resume:
    """Which stages of a run into OUTPUT are kept, and their markers.

    ``Resume(storage, output, config)`` reads the markers under OUTPUT: a
    stage is kept when every directory of it holds a record with the
    fingerprint ``config`` gives, its outputs are all there, and the stages
    it reads are kept (``force``: none is). Then :meth:`clear_markers`
    before the stages run, :meth:`summary_of` for a kept stage and
    :meth:`seal` after a recomputed stage has written its output."""

    def __init__(self, storage, output, config, force=False):
        self.storage = storage
        self.output = output
        self.fingerprints = stage_fingerprints(config, storage)
        self.directories = stage_directories(config)
        self.records = {}
        for stage in self.directories:
            if force or not all(name in self.records for name in UPSTREAM[stage]
                                if name in self.directories):
                continue
            record = self._kept_record(stage)
            if record is not None:
                self.records[stage] = record
        self.kept = [stage for stage in self.directories if stage in self.records]
        self.recomputed = [stage for stage in self.directories if stage not in self.records]

    def _kept_record(self, stage):
        """The stage's record when every directory of it holds one that
        matches, with its outputs complete; else None."""
        found = None
        for name in self.directories[stage]:
            directory = join(self.output, name)
            record = read_record(self.storage, directory)
            if (record is None or record.get("stage") != stage
                    or record.get("fingerprint") != self.fingerprints[stage]
                    or record.get("outputs") != outputs(self.storage, directory, name)):
                return None
            found = record
        return found

    def is_kept(self, stage):
        return stage in self.records

    def summary_of(self, stage):
        """What a kept stage put in summary.json when it was computed."""
        return self.records[stage]["summary"]

    def clear_markers(self):
        """Remove the markers of the stages to recompute: while they run, an
        earlier run's output of theirs must not look finished."""
        for stage in self.recomputed:
            for name in self.directories[stage]:
                self.storage.clear(join(self.output, name, SUCCESS))

    def seal(self, stage, summary):
        """Write ``stage``'s record into the marker of each of its directories
        (each already complete, with its empty marker, from the stage)."""
        for name in self.directories[stage]:
            directory = join(self.output, name)
            record = {"format": FORMAT, "stage": stage,
                      "fingerprint": self.fingerprints[stage],
                      "outputs": outputs(self.storage, directory, name),
                      "summary": summary}
            self.storage.write_bytes(join(directory, SUCCESS),
                                     (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))

    def as_summary(self):
        """summary.json's ``resumed``: the stages kept and those recomputed, in order."""
        return {"kept": list(self.kept), "recomputed": list(self.recomputed)}
