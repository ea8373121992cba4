"""`jeeves replay`: the TREC spam-track replay of labelled mail (jeeves.models.replay).

    jeeves replay --input MAIL... --labels SPEC [--feedback immediate|delayed:N|partial:F]
                  [--model online|batch:EVERY] [--seed N] [--output OUT]

Reads the mail as `jeeves predict` does (files, mboxes, directories, JSON
lines of records; local paths), labels it with the `--labels` SPEC of
`jeeves run` (messages it leaves unlabelled are counted and left out),
sorts it by delivery date, then scores each message and feeds the labels
back as ``--feedback`` says. ``--input`` given more than once makes
periods: each is sorted by date on its own, and the periods are replayed
one after the other in the order given (the SpamAssassin corpora's
``spam-1 easy-ham-1``, then ``spam-2 easy-ham-2``). Prints (1-ROCA)% with its 95% interval; with
``--output OUT`` writes OUT/summary.json, OUT/report/ and
OUT/trec-results.txt (docs/models.md, "Replay").
"""

import time

from jeeves.checks import check_local_inputs, check_local_output
from jeeves.cmd_run import RUN_DEFAULTS
from jeeves.errors import UserError
from jeeves.models import replay
from jeeves.models.labels import labeller_from_spec


def add_arguments(parser):
    parser.add_argument("--input", nargs="+", required=True, metavar="MAIL", action="append",
                        dest="periods",
                        help="mail files, mboxes, directories or JSON lines of records (local); "
                             "repeated: periods, each in date order, replayed in turn")
    parser.add_argument("--labels", required=True, metavar="SPEC",
                        help="as in jeeves run: folder patterns (spam*=1,*ham*=0), folder:NAME, "
                             "label:NAME, a CSV/TSV of message_id,label, or cats:TOP,SUB")
    parser.add_argument("--feedback", default="immediate", metavar="MODE",
                        help="immediate (default), delayed:N (each label fed N messages "
                             "later) or partial:FRACTION (only that share of labels, seeded)")
    parser.add_argument("--model", default="online", metavar="MODEL",
                        help="online (default: jeeves.models.online) or batch:EVERY (the email "
                             "model refitted every EVERY messages on the labels fed so far)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of partial feedback's subset (default: %(default)s)")
    parser.add_argument("--output", default=None, metavar="OUT",
                        help="write OUT/summary.json, OUT/report/ and OUT/trec-results.txt")


def batch_analyzer_config():
    """The analyzer settings `jeeves run` trains with (its RUN_DEFAULTS; stop words
    ``none`` is the analyzer's None)."""
    return {"fields": RUN_DEFAULTS["fields"], "placeholders": RUN_DEFAULTS["placeholders"],
            "stop_words": None if RUN_DEFAULTS["stop_words"] == "none"
            else RUN_DEFAULTS["stop_words"]}


def run(args):
    try:
        labeller = labeller_from_spec(args.labels)
        feedback = replay.parse_feedback(args.feedback)
        model = replay.parse_model(args.model)
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.output:
        check_local_output(args.output)
    started = time.time()
    check_local_inputs([path for period in args.periods for path in period])
    ordered, counts = replay.read_periods(args.periods, labeller)
    if not ordered:
        raise UserError("no labelled message in the input (read %d, %d quarantined, "
                        "%d unlabelled)" % (counts["read"], counts["quarantined"],
                                            counts["unlabelled"]))
    result = replay.replay(ordered, feedback, model, seed=args.seed,
                           analyzer_config=batch_analyzer_config())
    summary = replay.summary_of(result, counts, time.time() - started)
    measure = summary["one_minus_roca_percent"]
    if measure["value"] is None:
        line = "(1-ROCA)%: undefined (one class only)"
    else:
        line = "(1-ROCA)%% = %.4f [%.4f, %.4f]" % (measure["value"], measure["low"],
                                                   measure["high"])
    print("replay: %d messages (%d spam, %d ham, %d undated), feedback %s, model %s: %s, "
          "%d errors" % (summary["messages"], summary["positive"], summary["negative"],
                         summary["undated"], args.feedback, args.model, line,
                         summary["errors"]))
    if args.output:
        replay.write_outputs(result, summary, args.output)
        print("replay: wrote %s/summary.json, report/, trec-results.txt" % args.output)
    return 0
