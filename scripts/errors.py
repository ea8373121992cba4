"""Jeeves' errors: the bottom of the package, importing nothing of it.

Every layer raises these; the CLI (jeeves.cli) turns each into one line on
stderr and its ``exit_status``, never a traceback.
"""


class JeevesError(Exception):
    """A failure Jeeves explains in one line; exit status 2 unless a kind says otherwise."""

    exit_status = 2


class UserError(JeevesError):
    """A problem the user can fix: a bad option, a missing file, a bad bundle."""


class JobFailed(UserError):
    """A job failed on its runner; the message carries mrjob's log excerpt."""


class RunnerUnavailable(UserError):
    """The runner's engine is not installed or not configured here."""


class StorageError(JeevesError):
    """An output or input location the driver cannot use."""

    exit_status = 1


class ResourceUnavailable(JeevesError):
    """Data Jeeves needs at run time (WordNet) cannot be found or provisioned."""

    exit_status = 1
