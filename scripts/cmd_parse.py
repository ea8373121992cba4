"""`jeeves parse`: raw mail to DIR/messages/ and DIR/quarantine/.

    jeeves parse --input PATH_OR_URI... --output DIR_OR_URI [--runner R] [options]

Runs the parse stage of the driver library (scripts/pipeline/parse.py:
jobs/mr_parse_emails.py on the input plan of scripts/pipeline/parse_inputs.py)
and prints the reconciliation line

    parse: found N = R records + Q quarantined + D duplicates

With a local DIR the records are sorted by ``message_id`` and the quarantine
by source. The counts go to DIR/summary.json (``stages.parse``). Exits 1 when
the counts do not reconcile.
"""

import sys

from jeeves import options
from jeeves.features.parsing import DEDUPE_BY, MAX_MESSAGE_BYTES
from jeeves.pipeline.parse import parse_stage
from jeeves.pipeline.parse_inputs import DEFAULT_SPLIT_BYTES
from jeeves.pipeline.storage import check_output_location, merge_stage_summary
from jeeves.settings import add_settings


def add_arguments(parser):
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="mail files, directories or hdfs:// / s3:// URIs (mbox, maildir, "
                             ".eml, .gz/.bz2, JSON lines of parsed records)")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="writes DIR/messages/, DIR/quarantine/ and DIR/summary.json "
                             "(a directory or an hdfs:// / s3:// URI)")
    options.add_engine_arguments(parser)
    add_settings(parser.add_argument, (DEDUPE_BY, MAX_MESSAGE_BYTES))
    parser.add_argument("--split-size", type=int, default=DEFAULT_SPLIT_BYTES, metavar="BYTES",
                        help="cut uncompressed mbox files larger than this into byte ranges, "
                             "one map task each (default: %(default)s)")


def run(args):
    engine = options.engine_from(args)
    engine.check()
    check_output_location(engine.storage, args.output)
    stage = parse_stage(engine, args.input, args.output, dedupe_by=args.dedupe_by,
                        max_message_bytes=args.max_message_bytes, split_size=args.split_size)
    print("parse: found %d = %d records + %d quarantined + %d duplicates"
          % (stage["read"], stage["parsed"], stage["quarantined"], stage["duplicates"]))
    for hint in stage["hints"]:
        print("parse: %s" % hint)
    merge_stage_summary(engine.storage, args.output, "parse", stage)
    if not stage["reconciled"]:
        print("jeeves parse: error: counts do not reconcile (written: %d records, "
              "%d quarantined)" % (stage["written"]["message"], stage["written"]["quarantine"]),
              file=sys.stderr)
        return 1
    return 0
