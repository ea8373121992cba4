"""Checks of what a user hands the driver, and the one line an error of the
machine (a full disk, a permission) becomes, so that neither ends in a
traceback (scripts/cli.py prints the line)."""

import errno
import os

from jeeves.errors import UserError

# errno -> what the user is told, in their words
_ENVIRONMENT_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "is a directory",
    errno.EEXIST: "already exists",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error",
}


def environment_error_line(error):
    """One line for an OSError: what happened and to which path, e.g.
    ``no space left on the device while writing out/messages/part-00000``."""
    what = _ENVIRONMENT_ERRORS.get(error.errno) or error.strerror or type(error).__name__
    if error.filename is None:
        return what
    where = os.fspath(error.filename)
    if error.filename2 is not None:
        where += " -> " + os.fspath(error.filename2)
    return "%s: %s" % (what, where)


def check_local_inputs(paths):
    """Raise UserError for the first local input that is missing or that
    this user cannot read (remote URIs are the runner's to check)."""
    for path in paths:
        if "://" in path:
            continue
        if not os.path.exists(path):
            raise UserError("input not found: %s" % path)
        wanted = os.R_OK | os.X_OK if os.path.isdir(path) else os.R_OK
        if not os.access(path, wanted):
            raise UserError("input not readable: %s (permission denied)" % path)


def check_local_output(path):
    """Raise UserError when a local output directory cannot be created or
    written: a file in its place or on its path, or no permission."""
    if "://" in path:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError("output %s is a file, not a directory" % path)
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UserError("cannot create output %s: %s is a file" % (path, existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError("cannot write output %s: permission denied on %s" % (path, existing))


# the subcommands whose --output is a directory they create (predict's is a file)
DIRECTORY_OUTPUTS = frozenset(("parse", "features", "graph", "run", "demo"))
# the subcommands that check their own input with a better message (`jeeves
# demo` says how to fetch its corpus)
OWN_INPUT_CHECKS = frozenset(("demo",))


def check_paths(args):
    """The checks above for the ``input`` and ``output`` options of a
    subcommand's arguments, where it has them."""
    inputs = getattr(args, "input", None)
    if inputs and args.command not in OWN_INPUT_CHECKS:
        check_local_inputs([inputs] if isinstance(inputs, str) else list(inputs))
    output = getattr(args, "output", None)
    if args.command in DIRECTORY_OUTPUTS and output:
        check_local_output(output)
