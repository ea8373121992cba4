"""`jeeves predict`: score new mail with a trained model bundle.

    jeeves predict --model OUT/model INPUT... [--output FILE]

Each INPUT is a file (one email, an mbox, compressed or not), a directory of
them, or JSON lines of parsed records. Every email is one document: it goes
through the same parsing (features.parsing) and the same analyzer and
vectorizer settings as the training run (read from the bundle), so a single
email is scored whole, never split into words. Output: one JSON line per
email, ``{"message_id", "score", "label", "source"}``, in input order; input
that is not an email is named on stderr and counted. A bad bundle or
unreadable input ends with one error line and exit status 2.
"""

import json
import os
import sys

from features.mailformats import expand_inputs, iter_found
from features.parsing import DEFAULT_MAX_MESSAGE_BYTES, outcome_of
from models.bundle import BundleError, load_bundle
from models.scoring import predict_records
from scripts.cli import UserError


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="a model bundle written by `jeeves run` (OUT/model)")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="email files, mboxes, directories, or JSON lines of records")
    parser.add_argument("--output", default="-", metavar="FILE",
                        help="where to write the JSON lines (default: stdout)")


def read_records(paths, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES):
    """(messages, quarantined) parsed from local ``paths``, in input order."""
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise UserError("input not found: %s" % ", ".join(missing))
    messages, quarantined = [], []
    for path, uri, relpath in expand_inputs(paths):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise UserError("cannot read %s: %s" % (path, error.strerror or error)) from None
        for found in iter_found(data, uri, relpath):
            kind, record, _ = outcome_of(found, max_message_bytes)
            (messages if kind == "message" else quarantined).append(record)
    return messages, quarantined


def predict_paths(bundle_dir, paths):
    """Load a bundle and score every email in ``paths`` -> (predictions, quarantined)."""
    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as error:
        raise UserError(str(error)) from None
    messages, quarantined = read_records(paths)
    return predict_records(bundle, messages), quarantined


def run(args):
    predictions, quarantined = predict_paths(args.model, args.inputs)
    for record in quarantined:
        source = record.get("source") or {}
        print("jeeves predict: not scored: %s (%s)" % (source.get("uri"), record["reason"]),
              file=sys.stderr)
    if not predictions:
        raise UserError("no email found in %s" % ", ".join(args.inputs))
    output = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        for prediction in predictions:
            output.write(json.dumps(prediction, sort_keys=True) + "\n")
    finally:
        if output is not sys.stdout:
            output.close()
    return 0
