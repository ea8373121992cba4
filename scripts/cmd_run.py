"""`jeeves run`: the whole pipeline, on any runner, then training and the report.

    jeeves run --input PATH_OR_URI... --output OUT [--runner R] [--labels SPEC] [options]

OUT is a local directory, ``hdfs://...`` or ``s3://...``; on hadoop, spark
and emr every stage reads the previous one's output where it lies
(scripts/pipeline/, docs/pipeline.md):

1. parse     raw mail -> OUT/messages/, OUT/quarantine/
2. features  n-gram counts, vocabulary (a job), tf-idf -> OUT/features/
3. graph     contact lists and suggestions -> OUT/graph/ (--no-graph skips it)
4. labels    SPEC applied by a job -> OUT/features/labelled/ (the labelled vectors)
5. train     models compared on shared folds -> OUT/report/, OUT/model/
6. score     with --score, every message scored by the chosen model -> OUT/predictions/

With --test-input, a held-out test set is parsed, vectorized with the
training vocabulary and labelled (--test-labels, default --labels) under
OUT/test/ before training; the chosen model scores it (scripts/pipeline/heldout.py).

Each stage's directory gets ``_SUCCESS`` last, with the stage's fingerprint:
a run into an OUT an earlier run left keeps the stages whose inputs and
options are unchanged (--force: none); OUT/summary.json (the runner,
per-stage counts, tasks, timings and driver bytes, the per-model CV metrics,
the chosen model and threshold) is written once, at the end. Without
--labels the pipeline stops after the graph stage.
"""

import time

from jeeves import options
from jeeves.features.parsing import DEDUPE_BY
from jeeves.models.registry import EMAIL_MODEL
from jeeves.pipeline.run import RunConfig, run_pipeline, write_summary

# `jeeves run`'s own analyzer and vocabulary defaults: the best text
# representation by cross-validation on the shared data (docs/models.md,
# "Defaults of jeeves run"); `jeeves features` keeps scikit-learn's. The
# labels of the Berkeley set describe whole threads, so the quoted history
# is analyzed; stop words and placeholders cost ranking quality there.
RUN_DEFAULTS = {"fields": ["subject", "body", "quoted"], "stop_words": "none",
                "placeholders": False, "min_df": 2, "max_df": 0.5, "sublinear_tf": True}


def add_arguments(parser):
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="mail files, directories or hdfs:// / s3:// URIs (mbox, maildir, "
                             ".eml, .gz/.bz2, JSON lines of parsed records)")
    parser.add_argument("--output", required=True, metavar="OUT",
                        help="output directory, hdfs:// or s3:// URI")
    options.add_engine_arguments(parser)
    parser.add_argument("--labels", metavar="SPEC",
                        help="folder patterns (spam*=1,*ham*=0), folder:NAME, label:NAME, a "
                             "CSV/TSV of message_id,label, or Berkeley categories (cats:1,4); "
                             "without it, no training")
    DEDUPE_BY.add_to(parser.add_argument)
    options.add_training_arguments(parser)
    parser.add_argument("--test-input", nargs="+", default=(), metavar="PATH",
                        help="a held-out test set (as --input): parsed, vectorized with the "
                             "training vocabulary, scored by the chosen model -> OUT/test/, "
                             "its figures beside the CV ones in the report and summary.json")
    parser.add_argument("--test-labels", metavar="SPEC",
                        help="label SPEC of the --test-input messages (default: --labels)")
    parser.add_argument("--no-graph", dest="graph", action="store_false",
                        help="skip the contact-graph stage")
    parser.add_argument("--force", action="store_true",
                        help="recompute every stage; by default a run into an OUT where an "
                             "earlier run left stages complete keeps those whose inputs and "
                             "options are unchanged (docs/pipeline.md)")
    parser.add_argument("--score", action="store_true",
                        help="score every message with the chosen model, on the runner "
                             "(jobs/mr_score_messages.py) -> OUT/predictions/")
    options.add_feature_arguments(parser)
    parser.add_argument("--placeholders", dest="placeholders", action="store_true",
                        help="replace URLs, email addresses and numbers by placeholder tokens")
    parser.add_argument("--no-sublinear-tf", dest="sublinear_tf", action="store_false",
                        help="raw term counts as tf")
    options.add_graph_arguments(parser)
    parser.set_defaults(**RUN_DEFAULTS)
    parser.epilog = ("jeeves run's defaults differ from jeeves features': %s (the best by "
                     "cross-validation on the shared data, docs/models.md)" % run_defaults_text())


def run_defaults_text():
    """RUN_DEFAULTS as the options that spell them."""
    return " ".join(["--fields " + ",".join(RUN_DEFAULTS["fields"]), "--stop-words none",
                     "--no-placeholders", "--min-df %d" % RUN_DEFAULTS["min_df"],
                     "--max-df %g" % RUN_DEFAULTS["max_df"], "--sublinear-tf"])


class Progress:
    """One line per stage: name, records, elapsed seconds."""

    def __init__(self):
        self.started = time.time()

    def line(self, stage, records, seconds, detail=""):
        print("[%7.1fs] %-8s %8d records  %7.1fs%s"
              % (time.time() - self.started, stage, records, seconds,
                 "  " + detail if detail else ""), flush=True)


def config_from(args):
    return RunConfig(
        inputs=tuple(args.input), output=args.output, labels=args.labels,
        dedupe_by=args.dedupe_by, analyzer=options.analyzer_config(args),
        vectorizer=options.vectorizer_config(args),
        graph=options.graph_config(args) if args.graph else None,
        training=options.training_config(args), score=args.score,
        test_inputs=tuple(args.test_input), test_labels=args.test_labels, force=args.force)


def counter_lines(summary):
    """The job counters of every stage, one line per group: ``stage group: name=n, ...``."""
    stages = summary["stages"]
    groups = []
    parse = stages["parse"]
    groups.append(("parse", "quarantine", parse.get("quarantine_reasons", {})))
    groups.append(("parse", "warnings", parse.get("warnings", {})))
    for job_counters in stages.get("features", {}).get("counters", {}).values():
        for group, values in job_counters.items():
            if group != "tasks":
                groups.append(("features", group, values))
    if "graph" in stages:
        groups.append(("graph", "skipped", stages["graph"].get("skipped", {})))
    return ["%-8s %s: %s" % (stage, group, ", ".join(
                "%s=%d" % (name, value) for name, value in sorted(values.items())))
            for stage, group, values in groups if values]


def ablation_text(ablation):
    """The feature-group ablation (summary.json's ``ablation``) as terminal lines."""
    from jeeves.models.report import ablation_rows

    header, rows = ablation_rows(ablation["rows"])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["feature groups of %s, C %g, same folds:" % (EMAIL_MODEL, ablation["C"])]
    for row in [header] + rows:
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths))
        lines.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def run(args):
    config = config_from(args)
    engine = options.engine_from(args)
    summary = run_pipeline(config, engine, Progress().line)
    path = write_summary(engine.storage, args.output, summary)
    parse = summary["stages"]["parse"]
    print("counters:")
    for line in counter_lines(summary):
        print("  " + line)
    print("counts: read %d = parsed %d + quarantined %d + duplicates %d"
          % (parse["read"], parse["parsed"], parse["quarantined"], parse["duplicates"]))
    if "models" in summary:
        print()
        print(summary["table"])
        if "ablation" in summary:
            print()
            print(ablation_text(summary["ablation"]))
        if "test" in summary:
            test = summary["test"]
            print("held-out test: %d messages (%d positive): ROC AUC %.4f, PR AUC %.4f, "
                  "recall %.3f, precision %.3f at the CV threshold"
                  % (test["messages"], test["positives"], test["roc_auc"], test["pr_auc"],
                     test["recall"], test["precision"]))
        print()
        print("report: %s" % summary["report"])
        print("model:  %s" % summary["bundle"])
    resumed = summary["resumed"]
    if resumed["kept"]:
        print("resumed: kept %s; recomputed %s" % (", ".join(resumed["kept"]),
                                                   ", ".join(resumed["recomputed"]) or "none"))
    print("driver: read %d bytes, wrote %d bytes" % (engine.storage.bytes_read,
                                                     engine.storage.bytes_written))
    print("summary: %s" % path)
    return 0
