"""Where a pipeline runs: the runner, its mrjob.conf, and the counted storage.

An :class:`Engine` is what every stage takes besides its own settings: it
runs jobs (scripts/runjob.run_job) with the runner's profile, shows their
live progress on stderr (scripts/pipeline/progress.py) and gives the stage
the :class:`~jeeves.storage.Storage` through which the driver
reads and writes.
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

from mrjob.conf import load_opts_from_mrjob_conf

from jeeves.jobs import PROGRESS_GROUP
from jeeves.pipeline import progress
from jeeves.runjob import MRJOB_CONF, RUNNERS, RunnerUnavailable, check_runner, run_job
from jeeves.storage import Storage, is_remote

# mrjob options of a profile that the driver's own file systems need
STORAGE_OPTIONS = ("s3_endpoint", "region", "hadoop_bin")


def profile_options(runner, conf):
    """The options of ``runner``'s profile in mrjob.conf ``conf`` (includes followed)."""
    options = {}
    for _, values in load_opts_from_mrjob_conf(runner, conf):
        for name, value in (values or {}).items():
            options.setdefault(name, value)
    return options


@dataclass
class Engine:
    """A runner and its mrjob.conf; ``storage`` counts the driver's bytes;
    ``progress``: show each job's live progress (None: on a terminal, and as
    plain lines from a cluster runner; see scripts/pipeline/progress.watch)."""

    runner: str = "inline"
    conf: str = MRJOB_CONF
    storage: Storage = field(default=None)
    progress: Optional[bool] = None

    def __post_init__(self):
        if self.runner not in RUNNERS:
            raise RunnerUnavailable("unknown runner %r (choose from %s)"
                                    % (self.runner, ", ".join(RUNNERS)))
        if not os.path.exists(self.conf):
            raise RunnerUnavailable("mrjob.conf not found: %s" % self.conf)
        options = profile_options(self.runner, self.conf)
        if self.runner != "inline" and not options and self.conf != MRJOB_CONF:
            raise RunnerUnavailable("%s has no %r runner profile" % (self.conf, self.runner))
        if self.storage is None:
            self.storage = Storage({name: options.get(name) for name in STORAGE_OPTIONS})

    def check(self):
        """Raise RunnerUnavailable (one line) when the runner cannot start here."""
        check_runner(self.runner)

    @property
    def on_cluster(self):
        return self.runner not in ("inline", "local")

    def run(self, job_class, inputs, output, args=()):
        """Run one job; see scripts/runjob.run_job. Local globs (``part-*``)
        are expanded here: mrjob's Spark runner would quote the ``*`` in the
        file:// URI it makes of them."""
        expanded = []
        for path in inputs:
            if not is_remote(path) and glob.has_magic(path) and glob.glob(path):
                expanded += sorted(glob.glob(path))
            else:
                expanded.append(path)
        with progress.watch(self.runner, job_class, expanded, sys.stderr,
                            self.progress) as watcher:
            result = run_job(job_class, expanded, output, list(args) + list(watcher.job_args),
                             runner=self.runner, conf=self.conf, storage=self.storage)
            watcher.finish(result.counters)
        # the tasks' progress reports are for the live view, not a result of the job
        result.counters.pop(PROGRESS_GROUP, None)
        return result
