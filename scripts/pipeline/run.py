"""The whole pipeline: parse, labels, features, graph, train, score.

``run_pipeline(config, engine, report)`` runs every stage where the data
lies (docs/pipeline.md) and returns the summary; ``write_summary`` writes
OUTPUT/summary.json once, last. ``report(stage, records, seconds, detail)``
is called once per finished or kept stage (the CLI prints it); the library
itself never prints. A run into an OUTPUT where an earlier run left stages
complete keeps those whose inputs and options are unchanged
(scripts/pipeline/fingerprint.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional, Tuple

from jeeves.errors import UserError
from jeeves.pipeline.features import VectorizerConfig, features_stage
from jeeves.pipeline.fingerprint import Resume
from jeeves.pipeline.graph import GraphConfig, graph_stage
from jeeves.pipeline.heldout import heldout_stage
from jeeves.pipeline.parse import parse_stage
from jeeves.pipeline.score import score_stage
from jeeves.pipeline.storage import (  # noqa: F401 (the summary helpers' old home)
    check_output_location,
    merge_stage_summary,
    write_summary,
)
from jeeves.pipeline.train import (
    CHECKPOINTS,
    TrainingConfig,
    check_label_spec,
    label_stage,
    train_stage,
)
from jeeves.storage import join


@dataclass(frozen=True)
class RunConfig:
    """What `jeeves run` does; each part validates itself."""

    inputs: Tuple[str, ...]
    output: str
    labels: Optional[str] = None
    dedupe_by: str = "message_id"
    analyzer: dict = field(default_factory=dict)
    vectorizer: VectorizerConfig = field(default_factory=VectorizerConfig)
    graph: Optional[GraphConfig] = field(default_factory=GraphConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    score: bool = False
    # a held-out test set (scripts/pipeline/heldout.py) and its label SPEC
    test_inputs: Tuple[str, ...] = ()
    test_labels: Optional[str] = None
    # recompute every stage, whatever an earlier run into OUTPUT left
    force: bool = False

    def __post_init__(self):
        if self.labels is not None:
            check_label_spec(self.labels)
            if self.vectorizer.hash_features:
                raise UserError("--hash-features builds vectors without a vocabulary; "
                                "training needs the vocabulary (drop --hash-features)")
        if self.score and self.labels is None:
            raise UserError("--score scores with the model the run trains: it needs --labels")
        if self.test_inputs and self.labels is None:
            raise UserError("--test-input is scored by the model the run trains: "
                            "it needs --labels")
        if self.test_labels is not None:
            if not self.test_inputs:
                raise UserError("--test-labels labels the --test-input messages: "
                                "it needs --test-input")
            check_label_spec(self.test_labels)


def _quiet(*_):
    pass


def task_totals(tasks):
    """{"map": n, "reduce": n} summed over a stage's jobs ({job: tasks} or one job's)."""
    if "map" in tasks:
        return {"map": tasks["map"], "reduce": tasks["reduce"]}
    return {kind: sum(job[kind] for job in tasks.values()) for kind in ("map", "reduce")}


def _tasks(stage):
    """The progress line's task counts (jobs count them with jeeves.jobs.count_task)."""
    counted = task_totals(stage.get("tasks") or {"map": 0, "reduce": 0})
    if not any(counted.values()):
        return ""
    return "  [%d map, %d reduce tasks]" % (counted["map"], counted["reduce"])


def run_pipeline(config, engine, report=_quiet):
    """Run every stage for ``config`` on ``engine``; return the summary dict.

    A stage whose output an earlier run into the same OUTPUT left complete,
    with the fingerprint of this run's inputs and options, is kept
    (scripts/pipeline/fingerprint.py; ``config.force``: none is);
    summary.json's ``resumed`` lists the stages kept and recomputed."""
    engine.check()
    storage = engine.storage
    check_output_location(storage, config.output)
    storage.clear(join(config.output, "summary.json"))
    resume = Resume(storage, config.output, config, force=config.force)
    resume.clear_markers()
    if config.force:
        storage.clear(join(config.output, CHECKPOINTS))
    summary = {"runner": engine.runner, "stages": {}, "resumed": resume.as_summary()}
    stages = summary["stages"]
    output = config.output

    def kept(stage, records_key, detail):
        """A kept stage's summary (reported as kept), or None to compute it."""
        if not resume.is_kept(stage):
            return None
        values = resume.summary_of(stage)
        report(stage, _dig(values, records_key), 0.0,
               "kept " + detail(values))
        return values

    parse = kept("parse", "parsed", _parse_detail)
    if parse is None:
        with storage.counting("parse"):
            parse = parse_stage(engine, list(config.inputs), output,
                                dedupe_by=config.dedupe_by)
        report("parse", parse["parsed"], parse["seconds"], _parse_detail(parse) + _tasks(parse))
        if not parse["reconciled"]:
            raise UserError("parse counts do not reconcile; see OUT/quarantine/")
        resume.seal("parse", parse)
    stages["parse"] = parse
    messages = [join(output, "messages", "part-*")]

    features = kept("features", "documents", _features_detail)
    if features is None:
        started = time.time()
        with storage.counting("features"):
            features = features_stage(engine, messages, output, config.analyzer,
                                      config.vectorizer)
        features["seconds_total"] = round(time.time() - started, 3)
        resume.seal("features", features)
        report("features", features["documents"], features["seconds_total"],
               _features_detail(features) + _tasks(features))
    stages["features"] = features

    if config.graph is not None:
        graph = kept("graph", "messages", _graph_detail)
        if graph is None:
            with storage.counting("graph"):
                graph = graph_stage(engine, messages, output, config.graph)
            resume.seal("graph", graph)
            report("graph", graph["messages"], graph["seconds"],
                   _graph_detail(graph) + _tasks(graph))
        stages["graph"] = graph

    if config.labels is not None:
        labelled = join(output, "features", "labelled")
        counts = kept("labels", "labelled", _labels_detail)
        if counts is None:
            with storage.counting("labels"):
                labelled, counts = label_stage(engine, config.labels, join(output, "messages"),
                                               join(output, "features", "tfidf"),
                                               list(config.inputs), output,
                                               records=config.training.record_fields)
            resume.seal("labels", counts)
            report("labels", counts["labelled"], counts["seconds"],
                   _labels_detail(counts) + _tasks(counts))
        stages["labels"] = counts
        test_labelled = None
        if config.test_inputs:
            test_labelled = join(output, "test", "features", "labelled")
            held_out = kept("test", ("labels", "labelled"), _test_detail)
            if held_out is None:
                with storage.counting("test"):
                    test_labelled, held_out = heldout_stage(
                        engine, config.test_inputs, config.test_labels or config.labels,
                        output, config.analyzer, config.vectorizer, config.dedupe_by,
                        records=config.training.record_fields)
                resume.seal("test", held_out)
                report("test", held_out["labels"]["labelled"], held_out["seconds"],
                       _test_detail(held_out))
            stages["test"] = held_out
        trained = kept("train", ("stage", "labelled"), _train_detail)
        if trained is None:
            with storage.counting("train"):
                training = train_stage(
                    engine, labelled, output, features_config(config),
                    config.vectorizer.vectors, config.training,
                    report_notes=["Input: %s. Labels: %s. Runner: %s."
                                  % (", ".join(config.inputs), config.labels, engine.runner)],
                    progress=lambda result: report(
                        "model", len(result.oof_scores), result.seconds,
                        "%s %s" % (result.name, _cv(result))),
                    test_labelled=test_labelled,
                    corpus={"counts": dict(parse, quarantined=parse.get("quarantine_reasons")
                                           or parse["quarantined"]),
                            "labels": counts, "vocabulary_size": features["vocabulary"]},
                    documents=features["documents"],
                    fingerprint=resume.fingerprints["train"])
            trained = {"stage": {"labelled": training["samples"],
                                 "positives": training["positives"],
                                 "featurized": features["documents"],
                                 "unlabelled_featurized": counts["unlabelled"],
                                 "seconds": training["seconds"]},
                       "summary": {key: training[key] for key in TRAINING_KEYS
                                   if key in training}}
            from jeeves.models.report import format_table

            trained["summary"]["table"] = format_table(training)
            resume.seal("train", trained)
            if training.get("folds_resumed"):
                summary["resumed"]["train_folds_kept"] = training["folds_resumed"]
            report("train", training["samples"], training["seconds"],
                   _train_detail(trained, training.get("folds_resumed", 0)))
        # the folds a killed run evaluated served their purpose
        storage.clear(join(output, CHECKPOINTS))
        stages["train"] = trained["stage"]
        summary.update(trained["summary"])
        if config.score:
            scored = kept("score", "scored", _score_detail)
            if scored is None:
                with storage.counting("score"):
                    scored = score_stage(engine, join(output, "model"), messages,
                                         join(output, "predictions"))
                resume.seal("score", scored)
                report("score", scored["scored"], scored["seconds"],
                       _score_detail(scored) + _tasks(scored))
            stages["score"] = scored
    summary["driver_bytes"] = {stage: dict(counted) for stage, counted in
                               storage.by_stage.items()}
    return summary


# what the train stage puts at the top of summary.json (with its "table")
TRAINING_KEYS = ("models", "chosen_model", "threshold", "select_by", "target_recall",
                 "report", "bundle", "test", "ablation")


def _dig(values, key):
    """values[key], or values[k1][k2] for a key path."""
    for name in (key if isinstance(key, tuple) else (key,)):
        values = values[name]
    return values


def _parse_detail(parse):
    return "(%d quarantined, %d duplicates)" % (parse["quarantined"], parse["duplicates"])


def _features_detail(features):
    return "(vocabulary %d of %d terms)" % (features["vocabulary"], features["distinct_terms"])


def _graph_detail(graph):
    return "(%s addresses, %d hubs skipped)" % (
        "?" if graph["addresses"] is None else graph["addresses"], graph["hubs_skipped"])


def _labels_detail(counts):
    return "(%d positive, %d negative, %d unlabelled)" % (
        counts["positive"], counts["negative"], counts["unlabelled"])


def _test_detail(held_out):
    return "(%d positive, %d unlabelled; %d quarantined)" % (
        held_out["labels"]["positive"], held_out["labels"]["unlabelled"],
        held_out["parse"]["quarantined"])


def _train_detail(trained, folds_kept=0):
    return "(chosen: %s, threshold %.4f%s)" % (
        trained["summary"]["chosen_model"], trained["summary"]["threshold"],
        "; %d folds kept from an interrupted run" % folds_kept if folds_kept else "")


def _score_detail(scored):
    return "(%d flagged)" % scored["flagged"]


def features_config(config):
    """The analyzer configuration the bundle stores (defaults filled in)."""
    from jeeves.features.text import config_with_defaults

    return config_with_defaults(config.analyzer)


def _cv(result):
    return " ".join("%s %.3f" % (name, result.cv[name]["mean"])
                    for name in ("roc_auc", "pr_auc") if name in result.cv)
