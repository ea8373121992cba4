"""The whole pipeline: parse, labels, features, graph, train, score.

``run_pipeline(config, engine, report)`` runs every stage where the data
lies (docs/pipeline.md) and returns the summary; ``write_summary`` writes
OUTPUT/summary.json once, last. ``report(stage, records, seconds, detail)``
is called once per finished stage (the CLI prints it); the library itself
never prints.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Optional, Tuple

from jeeves.errors import UserError
from jeeves.models.report import format_table
from jeeves.pipeline.features import VectorizerConfig, features_stage
from jeeves.pipeline.graph import GraphConfig, graph_stage
from jeeves.pipeline.heldout import WRITTEN as HELD_OUT_WRITTEN
from jeeves.pipeline.heldout import heldout_stage
from jeeves.pipeline.parse import parse_stage
from jeeves.pipeline.score import score_stage
from jeeves.pipeline.storage import check_output_location
from jeeves.pipeline.train import TrainingConfig, check_label_spec, label_stage, train_stage
from jeeves.storage import SUCCESS, join


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


def written_directories(config):
    """The stage directories under OUTPUT that a run of ``config`` rewrites."""
    directories = ["messages", "quarantine", "features", "features/labelled"]
    if config.graph is not None:
        directories.append("graph")
    if config.labels is not None:
        directories += ["report", "model"] + (["predictions"] if config.score else [])
        if config.training.email_model and "lsa" in config.training.groups:
            directories.append("features/sample")
        if config.test_inputs:
            directories += list(HELD_OUT_WRITTEN)
    return directories


def run_pipeline(config, engine, report=_quiet):
    """Run every stage for ``config`` on ``engine``; return the summary dict."""
    engine.check()
    storage = engine.storage
    check_output_location(storage, config.output)
    storage.clear(join(config.output, "summary.json"))
    # an earlier run's later stages must not look finished while this one runs
    for directory in written_directories(config):
        storage.clear(join(config.output, directory, SUCCESS))
    summary = {"runner": engine.runner, "stages": {}}
    stages = summary["stages"]
    output = config.output

    with storage.counting("parse"):
        parse = parse_stage(engine, list(config.inputs), output, dedupe_by=config.dedupe_by)
    stages["parse"] = parse
    report("parse", parse["parsed"], parse["seconds"],
           "(%d quarantined, %d duplicates)" % (parse["quarantined"], parse["duplicates"])
           + _tasks(parse))
    if not parse["reconciled"]:
        raise UserError("parse counts do not reconcile; see OUT/quarantine/")
    messages = [join(output, "messages", "part-*")]

    started = time.time()
    with storage.counting("features"):
        features = features_stage(engine, messages, output, config.analyzer, config.vectorizer)
    features["seconds_total"] = round(time.time() - started, 3)
    stages["features"] = features
    report("features", features["documents"], features["seconds_total"],
           "(vocabulary %d of %d terms)" % (features["vocabulary"], features["distinct_terms"])
           + _tasks(features))

    if config.graph is not None:
        with storage.counting("graph"):
            graph = graph_stage(engine, messages, output, config.graph)
        stages["graph"] = graph
        report("graph", graph["messages"], graph["seconds"],
               "(%s addresses, %d hubs skipped)" % (
                   "?" if graph["addresses"] is None else graph["addresses"],
                   graph["hubs_skipped"]) + _tasks(graph))

    if config.labels is not None:
        with storage.counting("labels"):
            labelled, counts = label_stage(engine, config.labels, join(output, "messages"),
                                           join(output, "features", "tfidf"),
                                           list(config.inputs), output,
                                           records=config.training.record_fields)
        stages["labels"] = counts
        report("labels", counts["labelled"], counts["seconds"],
               "(%d positive, %d negative, %d unlabelled)"
               % (counts["positive"], counts["negative"], counts["unlabelled"]) + _tasks(counts))
        test_labelled = None
        if config.test_inputs:
            with storage.counting("test"):
                test_labelled, held_out = heldout_stage(
                    engine, config.test_inputs, config.test_labels or config.labels, output,
                    config.analyzer, config.vectorizer, config.dedupe_by,
                    records=config.training.record_fields)
            stages["test"] = held_out
            report("test", held_out["labels"]["labelled"], held_out["seconds"],
                   "(%d positive, %d unlabelled; %d quarantined)"
                   % (held_out["labels"]["positive"], held_out["labels"]["unlabelled"],
                      held_out["parse"]["quarantined"]))
        with storage.counting("train"):
            training = train_stage(
                engine, labelled, output, features_config(config), config.vectorizer.vectors,
                config.training,
                report_notes=["Input: %s. Labels: %s. Runner: %s."
                              % (", ".join(config.inputs), config.labels, engine.runner)],
                progress=lambda result: report(
                    "model", len(result.oof_scores), result.seconds,
                    "%s %s" % (result.name, _cv(result))),
                test_labelled=test_labelled,
                corpus={"counts": dict(parse, quarantined=parse.get("quarantine_reasons")
                                       or parse["quarantined"]),
                        "labels": counts, "vocabulary_size": features["vocabulary"]},
                documents=features["documents"])
        stages["train"] = {"labelled": training["samples"], "positives": training["positives"],
                           "featurized": features["documents"],
                           "unlabelled_featurized": counts["unlabelled"],
                           "seconds": training["seconds"]}
        for key in ("models", "chosen_model", "threshold", "select_by", "target_recall",
                    "report", "bundle"):
            summary[key] = training[key]
        summary["table"] = format_table(training)
        for key in ("test", "ablation"):
            if key in training:
                summary[key] = training[key]
        report("train", training["samples"], training["seconds"],
               "(chosen: %s, threshold %.4f)" % (training["chosen_model"],
                                                  training["threshold"]))
        if config.score:
            with storage.counting("score"):
                scored = score_stage(engine, training["bundle"], messages,
                                     join(output, "predictions"))
            stages["score"] = scored
            report("score", scored["scored"], scored["seconds"],
                   "(%d flagged)" % scored["flagged"] + _tasks(scored))
    summary["driver_bytes"] = {stage: dict(counted) for stage, counted in
                               storage.by_stage.items()}
    return summary


def features_config(config):
    """The analyzer configuration the bundle stores (defaults filled in)."""
    from jeeves.features.text import config_with_defaults

    return config_with_defaults(config.analyzer)


def _cv(result):
    return " ".join("%s %.3f" % (name, result.cv[name]["mean"])
                    for name in ("roc_auc", "pr_auc") if name in result.cv)


def write_summary(storage, output, summary):
    """OUTPUT/summary.json, once, after every stage's marker -> its location."""
    uri = join(output, "summary.json")
    storage.write_bytes(uri, (json.dumps(summary, indent=2, sort_keys=True) + "\n")
                        .encode("utf-8"))
    return uri


def merge_stage_summary(storage, output, stage, values):
    """Set ``stages[stage]`` in OUTPUT/summary.json, keeping the rest: what a
    single-stage command (`jeeves parse`, `jeeves graph`) leaves."""
    uri = join(output, "summary.json")
    summary = json.loads(storage.read_bytes(uri)) if storage.exists(uri) else {}
    summary.setdefault("stages", {})[stage] = values
    return write_summary(storage, output, summary)
