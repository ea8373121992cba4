"""`jeeves run`: the whole pipeline, on any runner, then training and the report.

    jeeves run --input PATH... --output OUT [--runner R] [--labels SPEC] [options]

Stages, each a job (or jobs) run through its ``make_runner()`` with the
mrjob.conf profile of the runner, and a progress line each:

1. parse     raw mail -> OUT/messages/, OUT/quarantine/ (jobs/mr_parse_emails.py)
2. labels    SPEC applied to the parsed records (driver side, models/labels.py)
3. features  n-gram counts, vocabulary, tf-idf -> OUT/features/ (jobs/mr_count_ngrams.py,
             jobs/mr_tfidf_vectors.py, with --min-llr jobs/mr_score_collocations.py)
4. graph     contact lists and suggestions -> OUT/graph/ (jobs/mr_contact_lists.py,
             jobs/mr_common_contacts.py); --no-graph skips it
5. train     models compared on shared folds -> OUT/report/, OUT/model/ (models/)

OUT/summary.json gathers the runner, per-stage counts and timings, the
per-model CV metrics, the chosen model and its threshold. Without --labels
the pipeline stops after the graph stage.
"""

import functools
import json
import os
import time

from scripts.pipeline.cluster_cv import compare_on_cluster
from models.labels import label_records, labeller_from_spec
from models.registry import select_models
from models.report import format_table
from models.run import train_from_features
from models.training import compare_models
from scripts.cli import UserError
from scripts.cmd_features import add_feature_arguments, build_features, feature_settings
from scripts.cmd_graph import build_graph
from scripts.cmd_parse import merge_summary, parse_mail
from scripts.runjob import RUNNERS, read_json_values

SELECT_BY = ("pr_auc", "roc_auc")


def add_arguments(parser):
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="mail files or directories (mbox, maildir, .eml, .gz/.bz2, "
                             "JSON lines of parsed records)")
    parser.add_argument("--output", required=True, metavar="OUT", help="output directory")
    parser.add_argument("--runner", choices=RUNNERS, default="inline",
                        help="mrjob runner, with its mrjob.conf profile (default: %(default)s)")
    parser.add_argument("--labels", metavar="SPEC",
                        help="folder patterns (spam*=1,*ham*=0), a CSV/TSV of message_id,label, "
                             "or Berkeley categories (cats:1,4); without it, no training")
    parser.add_argument("--dedupe-by", choices=("message_id", "content"), default="message_id",
                        help="collapse records with equal Message-ID, or equal content "
                             "(default: %(default)s)")
    parser.add_argument("--models", default="fast",
                        help="'fast' (default), 'all', or comma-separated names from the "
                             "registry (models/registry.py)")
    parser.add_argument("--select-by", choices=SELECT_BY, default="pr_auc",
                        help="CV metric that chooses the model (default: %(default)s)")
    parser.add_argument("--target-recall", type=float, default=0.95,
                        help="the threshold is set on out-of-fold scores to reach this recall "
                             "(default: %(default)s)")
    parser.add_argument("--folds", type=int, default=5, help="outer CV folds (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the CV folds (default: 0)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="processes for grid search (default: 1)")
    parser.add_argument("--no-graph", dest="graph", action="store_false",
                        help="skip the contact-graph stage")
    parser.add_argument("--train-on-cluster", action="store_true",
                        help="run the cross-validation grid as an MRJob on --runner "
                             "(jobs/mr_cross_validate.py) instead of in this process")
    add_feature_arguments(parser)


class Progress:
    """One line per stage: name, records, elapsed seconds."""

    def __init__(self):
        self.started = time.time()

    def line(self, stage, records, seconds, detail=""):
        print("[%7.1fs] %-8s %8d records  %7.1fs%s"
              % (time.time() - self.started, stage, records, seconds,
                 "  " + detail if detail else ""), flush=True)


def _check_arguments(args):
    if args.labels:
        try:
            labeller = labeller_from_spec(args.labels)
        except ValueError as error:
            raise UserError("--labels: %s" % error) from None
    else:
        labeller = None
    try:
        select_models(args.models)
    except ValueError as error:
        raise UserError("--models: %s" % error) from None
    if not 0.0 < args.target_recall <= 1.0:
        raise UserError("--target-recall must be in (0, 1], not %r" % args.target_recall)
    if args.folds < 2:
        raise UserError("--folds must be at least 2, not %d" % args.folds)
    if args.hash_features and labeller is not None:
        raise UserError("--hash-features builds vectors without a vocabulary; "
                        "training needs the vocabulary (drop --hash-features)")
    return labeller


def run_pipeline(args):
    """Run every stage for parsed CLI ``args``; return the summary dict."""
    labeller = _check_arguments(args)
    analyzer_config, feature_kwargs = feature_settings(args)
    progress = Progress()
    summary = {"runner": args.runner, "stages": {}}

    parse = parse_mail(args.input, args.output, runner=args.runner, dedupe_by=args.dedupe_by)
    summary["stages"]["parse"] = parse
    progress.line("parse", parse["parsed"], parse["seconds"],
                  "(%d quarantined, %d duplicates)" % (parse["quarantined"], parse["duplicates"]))
    if not parse["reconciled"]:
        raise UserError("parse counts do not reconcile; see OUT/quarantine/")
    messages_dir = os.path.join(args.output, "messages")

    labels = None
    if labeller is not None:
        started = time.time()
        labels, counts = label_records(read_json_values(messages_dir), labeller)
        counts["seconds"] = round(time.time() - started, 3)
        summary["stages"]["labels"] = counts
        progress.line("labels", counts["labelled"], counts["seconds"],
                      "(%d positive, %d negative, %d unlabelled)"
                      % (counts["positive"], counts["negative"], counts["unlabelled"]))

    started = time.time()
    features = build_features([messages_dir], args.output, analyzer_config,
                              runner=args.runner, **feature_kwargs)
    features["seconds_total"] = round(time.time() - started, 3)
    summary["stages"]["features"] = features
    progress.line("features", features["documents"], features["seconds_total"],
                  "(vocabulary %d of %d terms)" % (features["vocabulary"],
                                                   features["distinct_terms"]))

    if args.graph:
        graph = build_graph([messages_dir], args.output, runner=args.runner)
        summary["stages"]["graph"] = graph
        progress.line("graph", graph["messages"], graph["seconds"],
                      "(%d addresses, %d hubs skipped)"
                      % (graph["addresses"], graph["hubs_skipped"]))

    if labels is not None:
        started = time.time()
        compare = compare_models
        if args.train_on_cluster:
            compare = functools.partial(compare_on_cluster, runner=args.runner)
        vectors = {"sublinear_tf": feature_kwargs["sublinear_tf"],
                   "norm": feature_kwargs["norm"], "hash_features": 0}
        try:
            training = train_from_features(
                os.path.join(args.output, "features"), labels, args.output, analyzer_config,
                models=args.models, n_splits=args.folds, seed=args.seed,
                select_by=args.select_by, target_recall=args.target_recall,
                n_jobs=args.n_jobs, vectors=vectors, compare=compare,
                report_notes=["Input: %s. Labels: %s. Runner: %s."
                              % (", ".join(args.input), args.labels, args.runner)],
                progress=lambda result: progress.line(
                    "model", len(result.oof_scores), result.seconds,
                    "%s %s" % (result.name, _cv(result))))
        except ValueError as error:
            raise UserError(str(error)) from None
        seconds = round(time.time() - started, 3)
        summary["stages"]["train"] = {"labelled": training["samples"],
                                      "positives": training["positives"],
                                      "featurized": training["featurized"],
                                      "unlabelled_featurized": training["unlabelled_featurized"],
                                      "seconds": seconds}
        for key in ("models", "chosen_model", "threshold", "select_by", "target_recall",
                    "report", "bundle"):
            summary[key] = training[key]
        summary["table"] = format_table(training)
        progress.line("train", training["samples"], seconds,
                      "(chosen: %s, threshold %.4f)" % (training["chosen_model"],
                                                         training["threshold"]))
    return summary


def _cv(result):
    return " ".join("%s %.3f" % (name, result.cv[name]["mean"])
                    for name in ("roc_auc", "pr_auc") if name in result.cv)


def counter_lines(summary):
    """The job counters of every stage, one line per group: ``stage group: name=n, ...``."""
    stages = summary["stages"]
    groups = []
    parse = stages["parse"]
    groups.append(("parse", "quarantine", parse.get("quarantine_reasons", {})))
    groups.append(("parse", "warnings", parse.get("warnings", {})))
    for job_counters in stages.get("features", {}).get("counters", {}).values():
        for group, values in job_counters.items():
            groups.append(("features", group, values))
    if "graph" in stages:
        groups.append(("graph", "skipped", stages["graph"].get("skipped", {})))
    return ["%-8s %s: %s" % (stage, group, ", ".join(
                "%s=%d" % (name, value) for name, value in sorted(values.items())))
            for stage, group, values in groups if values]


def write_summary(output, summary):
    for stage, values in summary["stages"].items():
        merge_summary(output, stage, values)
    path = os.path.join(output, "summary.json")
    with open(path) as handle:
        merged = json.load(handle)
    merged.update({key: value for key, value in summary.items() if key != "stages"})
    with open(path + ".tmp", "w") as handle:
        json.dump(merged, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(path + ".tmp", path)
    return path


def run(args):
    summary = run_pipeline(args)
    path = write_summary(args.output, summary)
    parse = summary["stages"]["parse"]
    print("counters:")
    for line in counter_lines(summary):
        print("  " + line)
    print("counts: read %d = parsed %d + quarantined %d + duplicates %d"
          % (parse["read"], parse["parsed"], parse["quarantined"], parse["duplicates"]))
    if "models" in summary:
        print()
        print(summary["table"])
        print()
        print("report: %s" % summary["report"])
        print("model:  %s" % summary["bundle"])
    print("summary: %s" % path)
    return 0
