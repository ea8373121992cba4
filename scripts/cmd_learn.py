"""`jeeves learn`: labels from the mailbox as the user files mail; retrain and deploy.

    jeeves learn --imap imaps://USER@HOST[:PORT] --labels folder:NAME|label:NAME --model DIR
                 [--folder INBOX] [--settle 1d] [--min-new 20] [--min-labels 20]
                 [--once | --interval SECONDS] [jeeves run's training options]

Reads the label as it stands in the mailbox, logs each change in
DIR/learn/labels.jsonl (with the labels posted to `jeeves serve`), and when
--min-new labels have come in retrains with
`jeeves run`'s pipeline and defaults, deploying a new version in DIR only
when it is no worse on the newest fifth of the labels
(scripts/mailbox/learn.py, docs/mailbox.md).
"""

import argparse

from jeeves import cmd_run, options
from jeeves.cmd_fetch import add_tls_arguments, tls_settings
from jeeves.errors import UserError
from jeeves.features.parsing import DEDUPE_BY
from jeeves.mailbox.connection import PASSWORD_VARIABLE, MailboxError, MailboxURL
from jeeves.mailbox.learn import (
    LabelSpec,
    Learner,
    LearnSettings,
    Trainer,
    config_with,
    parse_duration,
)


def add_arguments(parser):
    parser.add_argument("--imap", required=True, metavar="URL",
                        help="imaps://USER@HOST[:PORT]; password from $%s or ~/.netrc"
                        % PASSWORD_VARIABLE)
    parser.add_argument("--labels", required=True, metavar="SPEC",
                        help="folder:NAME (messages in that folder are positive) or label:NAME "
                        "(an IMAP keyword or Gmail label)")
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="the versioned model directory: labels, mail and versions go here")
    parser.add_argument("--folder", default="INBOX",
                        help="the watched folder: its unlabelled mail is negative (%(default)s)")
    parser.add_argument("--settle", default="1d", metavar="DURATION",
                        help="mail must have arrived this long ago to count as negative "
                        "(1d, 12h, 30m, 45s, 0; default %(default)s)")
    parser.add_argument("--min-new", type=int, default=20, metavar="N",
                        help="retrain once N labels changed since the deployed version "
                        "(%(default)s)")
    parser.add_argument("--min-labels", type=int, default=20, metavar="N",
                        help="the first model waits for N labels of each class (%(default)s)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    when.add_argument("--interval", type=float, default=3600.0, metavar="SECONDS",
                      help="seconds between passes (%(default)s)")
    parser.add_argument("--online", action="store_true",
                        help="each new version also gets an online model (online/); between "
                        "retrainings a copy learns every new label and is published for "
                        "serve, watch and predict --scorer online")
    add_tls_arguments(parser)
    options.add_engine_arguments(parser)
    DEDUPE_BY.add_to(parser.add_argument)
    options.add_training_arguments(parser)
    options.add_feature_arguments(parser)
    parser.set_defaults(**cmd_run.RUN_DEFAULTS)


def run_template(args):
    """`jeeves run`'s configuration for these options: run's own parser gives every
    default, learn's values of the options both declare replace them (inputs,
    output and labels are set per fit)."""
    parser = argparse.ArgumentParser(add_help=False)
    cmd_run.add_arguments(parser)
    values = vars(parser.parse_args(["--input", "-", "--output", "-"]))
    values.update((name, value) for name, value in vars(args).items()
                  if name in values and name not in ("input", "output", "labels"))
    values.update(graph=False, score=False)
    return cmd_run.config_from(argparse.Namespace(**values))


def run(args):
    template = run_template(args)
    engine = options.engine_from(args)

    def trainer(work_dir, store):
        return Trainer(lambda inputs, output, labels: config_with(template, inputs, output,
                                                                   labels),
                       engine, work_dir, store)

    try:
        url = MailboxURL.parse(args.imap)
        settings = LearnSettings(labels=LabelSpec.parse(args.labels), folder=args.folder,
                                 settle=parse_duration(args.settle), min_new=args.min_new,
                                 min_labels=args.min_labels, once=args.once,
                                 interval=args.interval, online=args.online)
        learner = Learner(url, args.model, settings, trainer, tls_settings(args, "learn"),
                          log=lambda line: print(line, flush=True))
        learner.run()
    except MailboxError as error:
        raise UserError(str(error)) from None
    except KeyboardInterrupt:
        return 130
    return 0
