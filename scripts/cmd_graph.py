"""`jeeves graph`: parsed messages -> the contact graph under OUT/graph/.

    jeeves graph --input OUT/messages --output OUT [--runner R] [options]

Runs jobs/mr_contact_lists.py and jobs/mr_common_contacts.py
(scripts/pipeline/graph.py). With a local OUT it writes, sorted by address
(or message id), into OUT/graph/: ``contacts.jsonl`` / ``contacts.tsv``
(sender -> recipients), ``followers.jsonl`` / ``followers.tsv`` (recipient ->
senders), ``totals.jsonl``, ``message_features.jsonl``,
``suggestions.jsonl`` / ``suggestions.tsv`` (people you may know) and
``hubs.jsonl``; the TSV views are ``A<TAB>[B, C, ...]``. With an hdfs:// or
s3:// OUT the two jobs' outputs stay where they lie. ``_SUCCESS`` is last;
the summary goes to OUT/summary.json, ``stages.graph``. docs/graph.md describes the
formats and the choices.
"""

from jeeves import options
from jeeves.pipeline.graph import graph_stage
from jeeves.pipeline.parse import check_inputs
from jeeves.pipeline.storage import merge_stage_summary
from jeeves.storage import join


def add_arguments(parser):
    parser.add_argument("--input", required=True, nargs="+", metavar="MESSAGES",
                        help="parsed message records (a messages/ directory, files or URIs)")
    parser.add_argument("--output", required=True, metavar="OUT",
                        help="output root; writes OUT/graph/")
    options.add_engine_arguments(parser)
    options.add_graph_arguments(parser)


def run(args):
    check_inputs(args.input)
    config = options.graph_config(args)
    engine = options.engine_from(args)
    engine.check()
    summary = graph_stage(engine, args.input, args.output, config)
    merge_stage_summary(engine.storage, args.output, "graph", summary)
    skipped = ", ".join("%d %s" % (count, name) for name, count in sorted(
        summary["skipped"].items())) or "none"
    print("graph: %d messages (skipped: %s), %s addresses, %d edges"
          % (summary["messages"], skipped, summary["addresses"], summary["edges"]))
    print("graph: %s lists truncated at --max-list %d; %d hubs over --max-degree %d "
          "left out of the common-contact counts; %d candidate pairs"
          % (summary["truncated_lists"], summary["max_list"], summary["hubs_skipped"],
             summary["max_degree"], summary["candidate_pairs"]))
    print("graph: wrote %s (%s)" % (join(args.output, "graph"), ", ".join(
        "%s %d" % (name, lines) for name, lines in sorted(summary["files"].items()))))
    return 0
