"""`jeeves fetch`: copy IMAP folders to mbox files or S3 partitions, incrementally.

    jeeves fetch --imap imaps://USER@HOST[:PORT] [--folder NAME ...] --output DIR_OR_S3_URI

The password comes from $JEEVES_IMAP_PASSWORD or ~/.netrc. A second run
fetches only new mail (docs/mailbox.md). Prints one line per folder.
"""

import sys

from jeeves.errors import UserError
from jeeves.mailbox.connection import PASSWORD_VARIABLE, MailboxError, MailboxURL, TLSSettings
from jeeves.mailbox.fetch import DEFAULT_BATCH_SIZE, fetch


def add_tls_arguments(parser):
    """--cafile and --insecure, shared with `jeeves watch`."""
    parser.add_argument("--cafile", metavar="PEM",
                        help="CA certificates to verify the server with (a private CA)")
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify the server's certificate (prints a warning)")


def tls_settings(args, command):
    if args.insecure:
        print("jeeves %s: warning: --insecure: the server's certificate is not verified"
              % command, file=sys.stderr)
    return TLSSettings(cafile=args.cafile, insecure=args.insecure)


def add_arguments(parser):
    parser.add_argument("--imap", required=True, metavar="URL",
                        help="imaps://USER@HOST[:PORT]; password from $%s or ~/.netrc"
                        % PASSWORD_VARIABLE)
    parser.add_argument("--folder", action="append", default=[], metavar="NAME",
                        help="a folder to fetch (repeat it; default: every folder)")
    parser.add_argument("--output", required=True, metavar="DIR_OR_S3_URI",
                        help="a local directory (one mbox per folder) or s3://BUCKET/PREFIX/ "
                        "(dt=YYYY-MM-DD/ partitions for `jeeves schedule`)")
    parser.add_argument("--state", metavar="FILE",
                        help="state file of a local output (default: DIR.fetch-state.json)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help="messages per batch; each batch is committed before the next "
                        "(default %(default)s)")
    add_tls_arguments(parser)


def run(args):
    try:
        url = MailboxURL.parse(args.imap)
        written = fetch(url, args.output, args.folder, tls_settings(args, "fetch"),
                        args.batch_size, args.state)
    except MailboxError as error:
        raise UserError(str(error)) from None
    for folder, count in written.items():
        print("fetch: %s: %d new message%s" % (folder, count, "" if count == 1 else "s"))
    return 0
