"""The runner names and the project's mrjob.conf: cheap to import (no mrjob),
for the argument parsers of every subcommand."""

import os

from jobs import JEEVES_HOME

MRJOB_CONF = os.path.join(JEEVES_HOME, "mrjob.conf")
RUNNERS = ("inline", "local", "hadoop", "spark", "emr")
