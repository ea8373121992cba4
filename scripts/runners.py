"""The runner names and the project's mrjob.conf: cheap to import (no mrjob),
for the argument parsers of every subcommand.

The default mrjob.conf is package data (``jeeves/mrjob.conf``; the
repository's top-level mrjob.conf). ``$JEEVES_HOME/mrjob.conf`` overrides it
when that file exists, and ``--mrjob-conf FILE`` overrides both.
"""

import os

PACKAGED_MRJOB_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mrjob.conf")


def default_mrjob_conf(environ=None):
    """$JEEVES_HOME/mrjob.conf when JEEVES_HOME is set and holds one, else the package's."""
    home = (os.environ if environ is None else environ).get("JEEVES_HOME")
    if home and os.path.isfile(os.path.join(home, "mrjob.conf")):
        return os.path.join(home, "mrjob.conf")
    return PACKAGED_MRJOB_CONF


MRJOB_CONF = default_mrjob_conf()
RUNNERS = ("inline", "local", "hadoop", "spark", "emr")
