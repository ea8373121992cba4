"""`jeeves predict`: score new mail with a trained model bundle.

    jeeves predict --model OUT/model INPUT... [--output FILE]
    jeeves predict --model OUT/model --add-header [--exit-code] - < message > message

The bundle is loaded with jeeves.models.bundle.load_predictor: its linear models
score with numpy alone (models/fastscore.py), without importing
scikit-learn or skops, which would be most of a fresh process's start.
``--model DIR`` may be a versioned model directory: its newest deployed
version is loaded (jeeves.models.versions).

``--scorer online`` scores with the version's online model (the newest copy
`jeeves learn` published for it between retrainings), ``batch`` (the
default, chosen by measurement: docs/models.md, "Batch or online") with its
batch model; a bundle without an online model is scored by its batch model,
said in one line on stderr (jeeves.scoring).

With ``--server URL`` (or $JEEVES_SERVER) each input goes to the scoring
daemon of `jeeves serve` (http://127.0.0.1:PORT or unix:PATH) instead,
through jeeves.serve_client, with the same output (the daemon scores with
``--scorer``); when the daemon does not
answer, one line on stderr says so and the bundle is loaded as above.

Each INPUT is a file (one email, an mbox, compressed or not), a directory of
them, JSON lines of parsed records, or ``-`` for standard input. Every
email is one document: it goes through the same parsing (jeeves.features.parsing)
and the same analyzer and vectorizer settings as the training run (read from
the bundle), so a single email is scored whole, never split into words.
Output: one JSON line per email, ``{"message_id", "score", "label",
"source"}``, in input order; input that is not an email is named on stderr
and counted. A bad bundle or
unreadable input ends with one error line and exit status 2.

On a runner (``--runner local|hadoop|spark|emr``, or ``inline``), INPUT is
parsed records (an OUT/messages/ directory, files, or an ``hdfs://`` /
``s3://`` URI) and OUTPUT a directory or URI: the scoring job
(jobs/mr_score_messages.py, scripts/pipeline/score.py) scores them where
they lie into OUTPUT/predictions/scores/ and OUTPUT/predictions/flagged/,
and only the counts come back.

    jeeves predict --model OUT/model --runner hadoop --output hdfs:///out OUT_URI/messages

As a mail filter (procmail, maildrop, a Sieve pipe): ``--add-header`` reads
one message or an mbox from standard input and writes it back with
``X-Jeeves-Score:`` and ``X-Jeeves-Flag: YES|NO`` added to each message
(scripts/mailbox/filter.py); input it cannot score is written back
unchanged. The exit status is 0 whatever the scores, unless
``--exit-code``: then 1 when a message is flagged.
"""

import json
import os
import sys

from jeeves import scoring
from jeeves.errors import UserError
from jeeves.runners import MRJOB_CONF, RUNNERS
from jeeves.serve_client import ENVIRONMENT as SERVER_VARIABLE

# Everything else this module needs is imported where it is used: with a
# daemon answering (--server, $JEEVES_SERVER) a run imports the standard
# library, jeeves.serve_client and jeeves.mailbox.filter only, never numpy,
# scikit-learn or skops (tests/scripts/test_serve.py).

STDIN = "-"
STDIN_URI = "stdin:"


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="a model directory: its newest deployed version "
                        "(jeeves.models.versions), or a bundle written by `jeeves run` "
                        "(OUT/model)")
    parser.add_argument("--server", default=None, metavar="URL",
                        help="score with the daemon of `jeeves serve` at http://127.0.0.1:PORT "
                        "or unix:PATH when it answers, else load the bundle (default: $%s)"
                        % SERVER_VARIABLE)
    scoring.add_scorer_argument(parser)
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="email files, mboxes, directories, or JSON lines of records")
    parser.add_argument("--output", default=None, metavar="FILE",
                        help="where to write the JSON lines (default: stdout; none with "
                        "--add-header)")
    parser.add_argument("--add-header", action="store_true",
                        help="mail filter: write the message (or mbox) from stdin back with "
                        "X-Jeeves-Score and X-Jeeves-Flag headers")
    parser.add_argument("--exit-code", action="store_true",
                        help="exit 1 when a message is flagged (default: 0 whatever the score)")
    parser.add_argument("--runner", choices=RUNNERS, default=None,
                        help="score parsed records with the scoring job on this runner; "
                             "--output is then the directory or URI for predictions/")
    parser.add_argument("--mrjob-conf", default=MRJOB_CONF, metavar="FILE",
                        help="mrjob.conf with the runner profiles (default: the project's)")


def _input_data(paths, stdin):
    """(data, uri, relpath) of every input file, ``-`` being ``stdin`` (bytes)."""
    from jeeves.features.mailformats import expand_inputs

    for path in paths:
        if path == STDIN:
            yield stdin, STDIN_URI, "stdin"
            continue
        for file_path, uri, relpath in expand_inputs([path]):
            try:
                with open(file_path, "rb") as handle:
                    yield handle.read(), uri, relpath
            except OSError as error:
                raise UserError("cannot read %s: %s" % (file_path, error.strerror or error)
                                ) from None


def check_inputs_exist(paths):
    missing = [path for path in paths if path != STDIN and not os.path.exists(path)]
    if missing:
        raise UserError("input not found: %s" % ", ".join(missing))


def read_records(paths, max_message_bytes=None, stdin=None):
    """(messages, quarantined) parsed from local ``paths`` (``-``: the bytes ``stdin``),
    in input order; ``max_message_bytes`` None is jeeves.features.parsing's default."""
    from jeeves.features.mailformats import iter_found
    from jeeves.features.parsing import DEFAULT_MAX_MESSAGE_BYTES as PARSING_DEFAULT
    from jeeves.features.parsing import outcome_of

    if max_message_bytes is None:
        max_message_bytes = PARSING_DEFAULT
    check_inputs_exist(paths)
    messages, quarantined = [], []
    for data, uri, relpath in _input_data(paths, stdin):
        for found in iter_found(data, uri, relpath):
            kind, record, _ = outcome_of(found, max_message_bytes)
            (messages if kind == "message" else quarantined).append(record)
    return messages, quarantined


def predict_paths(bundle_dir, paths, stdin=None, scorer=scoring.DEFAULT_SCORER):
    """Load a bundle and score every email in ``paths`` (``-``: the bytes ``stdin``)
    -> (predictions, quarantined). ``bundle_dir`` may be a versioned model directory:
    its newest deployed version is loaded (jeeves.models.versions.resolve). With
    ``scorer`` online, its online model scores, where it has one."""
    from jeeves.models.bundle import BundleError, load_predictor
    from jeeves.models.versions import resolve, version_label

    def say(line):
        print("jeeves predict: " + line, file=sys.stderr)

    try:
        path = resolve(bundle_dir)
        online = None
        if scorer == "online":
            online = scoring.OnlineCopy(bundle_dir, version_label(bundle_dir, path), path,
                                        say).model
        if scoring.resolve_scorer(scorer, online, say, path) == "online":
            messages, quarantined = read_records(paths, stdin=stdin)
            return scoring.online_predictions(online, messages)[0], quarantined
        predictor = load_predictor(path)
    except BundleError as error:
        raise UserError(str(error)) from None
    messages, quarantined = read_records(paths, stdin=stdin)
    return predictor.predict(messages), quarantined


def filtered(stdin, predictions):
    """stdin written back with the scores as headers (unchanged when it is no
    plain message or mbox: compressed or JSON input keeps no byte offsets)."""
    from jeeves.features.mailformats import looks_like_headers
    from jeeves.mailbox.filter import add_headers

    if not (stdin.startswith(b"From ") or looks_like_headers(stdin)):
        return stdin
    return add_headers(stdin, {prediction["source"]["offset"]: (prediction["score"],
                                                                 prediction["label"] == 1)
                               for prediction in predictions})


def score_on_runner(args):
    """--runner: the scoring job over parsed records, where they lie."""
    from jeeves.pipeline.engine import Engine
    from jeeves.pipeline.parse import check_inputs
    from jeeves.pipeline.score import score_stage
    from jeeves.pipeline.storage import check_output_location
    from jeeves.storage import join

    if not args.output or args.add_header or STDIN in args.inputs:
        raise UserError("--runner scores parsed records into --output DIR_OR_URI "
                        "(not standard input, not --add-header)")
    check_inputs(args.inputs)
    engine = Engine(args.runner, args.mrjob_conf)
    engine.check()
    check_output_location(engine.storage, args.output)
    model = args.model
    if "://" not in model:  # a local model directory: its newest deployed version
        from jeeves.models.bundle import BundleError
        from jeeves.models.versions import resolve

        try:
            model = resolve(model)
        except BundleError as error:
            raise UserError(str(error)) from None
    summary = score_stage(engine, model, args.inputs, join(args.output, "predictions"))
    print("predict: scored %d messages, %d flagged -> %s"
          % (summary["scored"], summary["flagged"], join(args.output, "predictions")))
    return int(args.exit_code and summary["flagged"] > 0)


def predict_with_server(url, paths, stdin, scorer=scoring.DEFAULT_SCORER):
    """(predictions, quarantined) from the daemon at ``url``, or None when it does not
    answer (the caller loads the bundle). A file the daemon refuses (no email in
    it) is quarantined, as read_records would."""
    from urllib.parse import urlencode

    from jeeves import serve_client

    check_inputs_exist(paths)
    try:
        client = serve_client.Client(url)
    except ValueError as error:
        raise UserError(str(error)) from None
    predictions, quarantined = [], []
    try:
        for data, uri, relpath in _input_data(paths, stdin):
            try:
                query = {"uri": uri, "relpath": relpath, "scorer": scorer}
                answer = client.request("POST", "/score?" + urlencode(
                    {key: value for key, value in query.items() if value}), data,
                    {"Content-Type": "message/rfc822"})
            except serve_client.ServerRefused as error:
                quarantined.append({"source": {"uri": uri}, "reason": str(error)})
                continue
            predictions.extend({key: message[key] for key in
                                ("message_id", "score", "label", "source")}
                               for message in answer["messages"])
    except serve_client.ServerUnavailable as error:
        print("jeeves predict: the daemon is not answering (%s); loading the bundle" % error,
              file=sys.stderr)
        return None
    finally:
        client.close()
    return predictions, quarantined


def run(args):
    if args.runner is not None:
        if args.scorer != "batch":
            raise UserError("--runner scores with the batch model; --scorer online scores "
                            "local mail")
        return score_on_runner(args)
    if args.add_header and args.inputs != [STDIN]:
        raise UserError("--add-header rewrites standard input: give `-` as the only INPUT")
    stdin = sys.stdin.buffer.read() if STDIN in args.inputs else None
    server = args.server or os.environ.get(SERVER_VARIABLE) or None
    found = predict_with_server(server, args.inputs, stdin, args.scorer) if server else None
    predictions, quarantined = found if found is not None \
        else predict_paths(args.model, args.inputs, stdin, args.scorer)
    for record in quarantined:
        source = record.get("source") or {}
        print("jeeves predict: not scored: %s (%s)" % (source.get("uri"), record["reason"]),
              file=sys.stderr)
    if not predictions and not args.add_header:
        raise UserError("no email found in %s" % ", ".join(args.inputs))
    if args.add_header:
        sys.stdout.buffer.write(filtered(stdin, predictions))
        sys.stdout.flush()
    if args.output or not args.add_header:
        output = open(args.output, "w", encoding="utf-8") if args.output not in (None, "-") \
            else sys.stdout
        try:
            for prediction in predictions:
                output.write(json.dumps(prediction, sort_keys=True) + "\n")
        finally:
            if output is not sys.stdout:
                output.close()
    return int(args.exit_code and any(prediction["label"] == 1 for prediction in predictions))
