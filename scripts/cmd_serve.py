"""`jeeves serve`: the scoring daemon, a model kept loaded behind HTTP with JSON.

    jeeves serve --model DIR [--listen 127.0.0.1:PORT | --socket PATH] [--max-bytes N]
                 [--scorer batch|online]

Serves the newest deployed version of DIR (jeeves.models.versions; a plain
bundle such as OUT/model too) and switches to a new version when one is
deployed, without a restart. It binds 127.0.0.1 only, or a unix socket
created with mode 0600 (scripts/serve.py). Endpoints: ``POST /score``,
``POST /learn``, ``GET /health`` (docs/models.md, "The scoring daemon").
``--scorer`` names the model whose score answers (jeeves.scoring;
docs/models.md, "Batch or online"). One line on stdout when it listens;
refusals, reloads and labels are logged one line each (stdout, or --log
FILE). Ctrl-C or SIGTERM stop it.
"""

import signal
import sys

from jeeves import scoring
from jeeves.errors import UserError
from jeeves.serve import DEFAULT_MAX_BYTES, serve

DEFAULT_LISTEN = "127.0.0.1:8025"


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="a model directory (versions, jeeves learn) or bundle (OUT/model)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--listen", default=None, metavar="127.0.0.1:PORT",
                       help="TCP address, 127.0.0.1 only (default %s; port 0: any free one)"
                       % DEFAULT_LISTEN)
    where.add_argument("--socket", default=None, metavar="PATH",
                       help="a unix socket instead, created with mode 0600")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, metavar="N",
                        help="largest request body, refused from its Content-Length "
                        "(%(default)s)")
    scoring.add_scorer_argument(parser)
    parser.add_argument("--log", default=None, metavar="FILE",
                        help="append the log lines to FILE instead of stdout")


def _stop(signum, frame):
    raise KeyboardInterrupt


def run(args):
    if args.max_bytes < 1:
        raise UserError("--max-bytes must be at least 1, not %d" % args.max_bytes)
    output = open(args.log, "a", encoding="utf-8") if args.log else sys.stdout

    def log(line):
        output.write(line + "\n")
        output.flush()

    signal.signal(signal.SIGTERM, _stop)
    try:
        return serve(args.model, listen=None if args.socket else (args.listen or DEFAULT_LISTEN),
                     socket_path=args.socket, max_bytes=args.max_bytes, log=log,
                     scorer=args.scorer)
    except KeyboardInterrupt:
        return 0
    finally:
        if output is not sys.stdout:
            output.close()
