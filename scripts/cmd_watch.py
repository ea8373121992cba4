"""`jeeves watch`: score new IMAP mail as it arrives and notify on flagged mail.

    jeeves watch --imap imaps://USER@HOST[:PORT] --model OUT/model --notify SPEC
                 [--folder INBOX] [--tag KEYWORD] [--interval S] [--once] [--new-only]
                 [--scorer batch|online]

Waits with IMAP IDLE (or polls every --interval seconds), scores each new
message whole with the bundle, logs one line per message, and notifies each
flagged message once (scripts/mailbox/watch.py). With a versioned model
directory (jeeves.models.versions) it scores with the newest deployed
version and switches to a new one without a restart, logging the switch.
``--scorer online`` scores with the version's online model, kept up to date
by `jeeves learn` between retrainings (jeeves.scoring). The password comes
from $JEEVES_IMAP_PASSWORD or ~/.netrc.
"""

import os

from jeeves import scoring
from jeeves.cmd_fetch import add_tls_arguments, tls_settings
from jeeves.errors import UserError
from jeeves.mailbox.connection import PASSWORD_VARIABLE, MailboxError, MailboxURL
from jeeves.mailbox.watch import Watcher, WatchSettings
from jeeves.notify import notifier_from_spec


def add_arguments(parser):
    parser.add_argument("--imap", required=True, metavar="URL",
                        help="imaps://USER@HOST[:PORT]; password from $%s or ~/.netrc"
                        % PASSWORD_VARIABLE)
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="a model directory: its newest deployed version, switched to "
                        "when a new one is deployed; or a bundle written by `jeeves run` "
                        "(OUT/model)")
    parser.add_argument("--notify", action="append", default=[], metavar="SPEC",
                        help="where flagged mail goes: https://... webhook, smtp://..., "
                        "python:module:factory (repeat it; see `jeeves schedule`)")
    parser.add_argument("--folder", default="INBOX", help="the folder to watch (%(default)s)")
    parser.add_argument("--tag", metavar="KEYWORD",
                        help="set this IMAP keyword on flagged messages")
    parser.add_argument("--interval", type=float, default=60.0, metavar="SECONDS",
                        help="polling interval where the server has no IDLE (%(default)s)")
    parser.add_argument("--once", action="store_true",
                        help="score what is new, then exit (for cron)")
    parser.add_argument("--new-only", action="store_true",
                        help="on the first run, skip the mail already in the folder")
    parser.add_argument("--state", metavar="FILE",
                        help="the last UID scored per folder (default: "
                        "~/.jeeves/watch-USER@HOST.json)")
    scoring.add_scorer_argument(parser)
    add_tls_arguments(parser)


def run(args):
    scoring.bound_memory_for_long_runs()
    try:
        notifiers = [notifier_from_spec(spec) for spec in args.notify]
    except ValueError as error:
        raise UserError(str(error)) from None
    try:
        url = MailboxURL.parse(args.imap)
        state = args.state or os.path.join(os.path.expanduser("~"), ".jeeves",
                                           "watch-%s.json" % url.account)
        settings = WatchSettings(folder=args.folder, interval=args.interval, tag=args.tag,
                                 once=args.once, new_only=args.new_only, scorer=args.scorer)
        watcher = Watcher(url, args.model, notifiers, state, settings,
                          tls_settings(args, "watch"), log=lambda line: print(line, flush=True))
        watcher.run()
    except MailboxError as error:
        raise UserError(str(error)) from None
    except KeyboardInterrupt:
        return 130
    return 0
