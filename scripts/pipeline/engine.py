"""Where a pipeline runs: the runner, its mrjob.conf, and the counted storage.

An :class:`Engine` is what every stage takes besides its own settings: it
runs jobs (scripts/runjob.run_job) with the runner's profile, shows their
live progress on stderr (scripts/pipeline/progress.py) and gives the stage
the :class:`~jeeves.storage.Storage` through which the driver
reads and writes.

On Hadoop the driver's fixed cost per job was mostly JVM start-ups: one
``hadoop fs`` client JVM for every file-system call of mrjob's runner and
of the storage (``-ls``, ``-mkdir``, ``-put``, ``-rm``, ``-cat``) and a
``hadoop version``, plus the upload of the tasks' code. So an Engine whose
Hadoop client configuration names the NameNode's WebHDFS address
(``dfs.namenode.http-address``, jeeves.storage.webhdfs_url_from_conf):

- gives its Storage, and every Hadoop runner (scripts/runjob.run_job), a
  file system that answers ``hdfs://`` over WebHDFS (jeeves.storage.WebHdfsFilesystem);
  ``hadoop version`` runs once per Engine; the one JVM left per step is
  ``hadoop jar``;
- puts the tasks' code zip, mrjob's zip and the native kernel's
  (jeeves.taskcode.kernel_zip; kept between runs, jeeves.codecache) on HDFS once
  (:meth:`Engine.code_args`), content-addressed under the profile's
  ``hadoop_tmp_dir``, and gives each job their URIs, which mrjob does not
  upload again.

Without that address, or when WebHDFS refuses (Kerberos), everything goes
through ``hadoop fs`` as mrjob does it, and each job ships the local zip.
"""

from __future__ import annotations

import glob
import os
import posixpath
import sys
from dataclasses import dataclass, field
from typing import Optional

from mrjob.conf import load_opts_from_mrjob_conf

from jeeves.codecache import process_zips
from jeeves.driver_imports import prepare_driver
from jeeves.jobs import PROGRESS_GROUP
from jeeves.pipeline import progress
from jeeves.runjob import MRJOB_CONF, RUNNERS, RunnerUnavailable, check_runner, run_job
from jeeves.storage import Storage, WebHdfsUnavailable, is_remote, webhdfs_url_from_conf
from jeeves.taskcode import shipped_code_args, task_code_args, task_start_options

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
        self._options = options
        self._code_args = None
        prepare_driver(self.runner)  # no pyspark but for Spark, no pytest (jeeves.driver_imports)
        if self.storage is None:
            self.storage = Storage({name: options.get(name) for name in STORAGE_OPTIONS},
                                   webhdfs_url=webhdfs_url_from_conf())

    def check(self):
        """Raise RunnerUnavailable (one line) when the runner cannot start here."""
        check_runner(self.runner)

    @property
    def on_cluster(self):
        return self.runner not in ("inline", "local")

    def code_args(self):
        """The job switches that give the tasks their code (jeeves.taskcode):
        on Hadoop with WebHDFS, the URIs of the code zip and of mrjob's zip,
        put on HDFS on first use (module docstring); otherwise the local
        code zip, which mrjob uploads with each job (none inline)."""
        if self._code_args is None:
            # tasks started through jeeves.jobs.task_start by the Python mrjob
            # would start them with; a profile's own command for them stays
            start = task_start_options(self.runner, self._options)
            self._code_args = self._code_on_hdfs(start) or task_code_args(self.runner, **start)
        return list(self._code_args)

    def _code_on_hdfs(self, start):
        """[switches] with the zips' HDFS URIs, or None when WebHDFS is not there."""
        if self.runner != "hadoop" or self.storage.webhdfs is None:
            return None
        from mrjob.hadoop import fully_qualify_hdfs_path

        base = fully_qualify_hdfs_path(posixpath.join(
            self._options.get("hadoop_tmp_dir") or "tmp/mrjob", "jeeves-code"))
        uris = []
        try:
            # kept between runs by their sources' fingerprint (jeeves.codecache)
            for zipped in process_zips():
                if zipped is None:  # no native kernel to ship
                    uris.append(None)
                    continue
                path, digest = zipped
                uris.append(self.storage.put_once(
                    path, "%s/%s/%s" % (base, digest[:32], os.path.basename(path))))
        except WebHdfsUnavailable:
            return None
        return shipped_code_args(uris[:2], kernel_uri=uris[2], **start)

    def run(self, job_class, inputs, output, args=(), runner=None):
        """Run one job; see scripts/runjob.run_job. Local globs (``part-*``)
        are expanded here: mrjob's Spark runner would quote the ``*`` in the
        file:// URI it makes of them. ``runner``: another than the engine's,
        for a job the driver runs itself (``inline`` beside ``local``)."""
        runner = runner or self.runner
        if runner != self.runner and (runner, self.runner) != ("inline", "local"):
            raise ValueError("a %s engine runs jobs on it or inline, not on %s"
                             % (self.runner, runner))
        expanded = []
        for path in inputs:
            if not is_remote(path) and glob.has_magic(path) and glob.glob(path):
                expanded += sorted(glob.glob(path))
            else:
                expanded.append(path)
        with progress.watch(runner, job_class, expanded, sys.stderr,
                            self.progress) as watcher:
            result = run_job(job_class, expanded, output, list(args) + list(watcher.job_args),
                             runner=runner, conf=self.conf, storage=self.storage,
                             code_args=self.code_args() if runner == self.runner else None)
            watcher.finish(result.counters)
        # the tasks' progress reports are for the live view, not a result of the job
        result.counters.pop(PROGRESS_GROUP, None)
        return result
