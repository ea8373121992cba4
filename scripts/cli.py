"""The `jeeves` driver: one subcommand per stage of the pipeline.

Each subcommand lives in its own module (``jeeves.cmd_*``, scripts/ in the
repository) and exposes
``add_arguments(parser)`` and ``run(args) -> int``. User errors (bad flags,
missing files, a bad model bundle: jeeves.errors) end in one line on stderr
and a non-zero exit, never a traceback.
"""

import argparse
import importlib
import sys

from jeeves.driver_imports import distutils_on_demand, prefer_stdlib_distutils
from jeeves.errors import JeevesError

# subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "demo": ("jeeves.cmd_demo", "run the pipeline on the embedded demo corpus"),
    "parse": ("jeeves.cmd_parse", "raw mail to JSON message records and a quarantine"),
    "graph": ("jeeves.cmd_graph", "contact lists, totals and suggestions under OUT/graph/"),
    "features": ("jeeves.cmd_features", "vocabulary.tsv and tf-idf vectors under OUT/features/"),
    "run": ("jeeves.cmd_run", "the whole pipeline on any runner, then training and the report"),
    "predict": ("jeeves.cmd_predict", "score new mail with a model bundle (JSON lines)"),
    "serve": ("jeeves.cmd_serve", "the scoring daemon: a model kept loaded, HTTP with JSON"),
    "fetch": ("jeeves.cmd_fetch", "copy IMAP folders to mbox files or S3 prefixes, incrementally"),
    "watch": ("jeeves.cmd_watch", "score new IMAP mail as it arrives, notify on flagged mail"),
    "learn": ("jeeves.cmd_learn", "labels from IMAP folders/labels; retrain and deploy versions"),
    "schedule": ("jeeves.cmd_schedule", "scheduled incremental batches over dt= partitions in S3"),
    "replay": ("jeeves.cmd_replay", "the TREC spam-track replay: delivery order, label feedback"),
}


class _OneLineParser(argparse.ArgumentParser):
    """A bad flag or value is one line too: the usage is one --help away."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def build_parser(only=None):
    """The parser of every subcommand, or with ``only`` a name, of that one alone:
    the other modules are not imported (the cold start of `jeeves predict`)."""
    parser = _OneLineParser(
        prog="jeeves",
        description="Email corpora to features and classifiers with MapReduce.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_OneLineParser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if only in (None, name):
            module = importlib.import_module(module_name)
            module.add_arguments(subparser)
            subparser.set_defaults(handler=module.run)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    prefer_stdlib_distutils()
    distutils_on_demand()
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(command if command in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from jeeves.checks import check_paths, environment_error_line

    try:
        check_paths(args)
        return args.handler(args)
    except JeevesError as error:
        print("jeeves %s: error: %s" % (args.command, error), file=sys.stderr)
        return error.exit_status
    except OSError as error:  # the machine's (a full disk...), not a bug: one line too
        print("jeeves %s: error: %s" % (args.command, environment_error_line(error)),
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
