"""The parse job's input plan: raw mail inputs -> work lists, one map task per item.

``plan_inputs(inputs, scratch_dir, runner, split_size, container_bytes)``
expands the inputs (local files and directories, ``hdfs://`` and ``s3://``
files and prefixes, listed and read through jeeves.storage's ranged reads:
WebHDFS and boto3) and writes the job's
input: one work list file per work item, so that every runner (inline,
local, Hadoop's TextInputFormat, Spark's textFile) gives each item its own
map task. The job runs with the plan's ``job_args`` (``--work-list`` and
what the items need). An item is one line of JSON ``{"pieces": [...]}``
(jobs/mr_parse_emails.py says what a piece holds):

- small local files, on the inline and local runners, are grouped into
  items that name the files themselves (the tasks read them where they
  lie): of about ``container_bytes`` on the inline runner; on the local
  runner into a multiple of the cores, of about equal work, so that every
  core has work to the end: one item a core when the files are small
  enough to cut the work evenly, else two;
- small local files, on a cluster runner, are packed into tar containers of
  about ``container_bytes`` (one piece each), shipped with the job, as
  mrjob would otherwise start one task per file;
- small remote files are grouped, several pieces to an item of about
  ``container_bytes``, each read by the task where it lies;
- an uncompressed mbox larger than ``split_size`` (local or remote) is cut
  into byte ranges of ``split_size``, one item each
  (features/mbox_ranges.py); gzip and bz2 files cannot be split and go
  whole, with a hint when one is larger than the split size.

On a cluster runner (hadoop, spark, emr) the local files the items name
(containers, local files to split) are shipped with the job as
``--shipped-file`` arguments: mrjob uploads them (HDFS, S3, Spark's
``--files``) and puts them in each task's working directory, where the items
name them by file name. A large local file is so copied to every node: on a
real cluster, put it on HDFS or S3 first and only the ranges travel.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import posixpath
from urllib.parse import unquote, urlparse

from jeeves.features.mailformats import expand_inputs, pack_files, relpath_of_uri
from jeeves.features.mbox_ranges import holds_several_messages, ranges_of
from jeeves.storage import Storage, scheme_of, webhdfs_url_from_conf

DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024
DEFAULT_CONTAINER_BYTES = 32 * 1024 * 1024
# the local runner's items hold at most this much work each, unless the
# caller names its container_bytes (a parse task streams its item: the cap
# bounds how long a task runs, not its memory)
LOCAL_ITEM_BYTES = 128 * 1024 * 1024
# the local runner makes one item a core (one wave of tasks) when no file
# holds more than 1/ONE_WAVE_SHARE of a core's work: the cut between whole
# files then leaves the cores within that share of each other, and a second
# wave would cost a task start a core (about 0.12 CPU s: Python, mrjob, the
# email package) for nothing. Else two items a core, whose tasks the runner
# hands to whichever core is free.
ONE_WAVE_SHARE = 8
SHIPPING_RUNNERS = ("hadoop", "spark", "emr")
# Spark executors untar shipped files named *.tar into their working
# directory, where the members' paths could overwrite shipped code
SHIPPED_CONTAINER_SUFFIX = ".pack"
HEAD_BYTES = 512
REMOTE_SCHEMES = ("hdfs", "s3", "s3a", "s3n")


@dataclasses.dataclass(frozen=True)
class InputPlan:
    """The parse job's input: ``work_list_paths`` (its input files, one work
    item each), ``job_args`` to add to its arguments, ``hints`` for the
    summary (lines of text), and how many items and byte ranges there are."""

    work_list_paths: list
    job_args: list
    hints: list
    items: int
    ranges: int


def _splittable(head):
    """An uncompressed mbox (what iter_found would split at From lines)."""
    return head.startswith(b"From ") and head[257:262] != b"ustar"


def _compression_of(head):
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bz2"
    return None


class _Planner:
    def __init__(self, runner, split_size, container_bytes, webhdfs_url):
        for name, value in (("split size", split_size), ("container bytes", container_bytes)):
            if value is not None and value < 1:
                raise ValueError("%s must be 1 or more, not %r" % (name, value))
        self.local_item_bytes = container_bytes or LOCAL_ITEM_BYTES
        container_bytes = container_bytes or DEFAULT_CONTAINER_BYTES
        self.ship = runner in SHIPPING_RUNNERS
        # the local runner runs a task per core at once (mrjob's num_cores)
        self.cores = (os.cpu_count() or 1) if runner == "local" else 1
        self.split_size = split_size
        self.container_bytes = container_bytes
        self.webhdfs_url = webhdfs_url
        self.storage = Storage(webhdfs_url=webhdfs_url)
        self.items, self.hints, self.shipped = [], [], []
        self.ranges = 0

    def _shipped_name(self, path):
        """What a piece reads: the local path, or the name it is shipped under."""
        if not self.ship:
            return path
        self.shipped.append(path)
        return os.path.basename(path)

    def _split(self, location, uri, size):
        """(whether the file holds several messages) for an mbox over the
        split size, to cut into ranges; None for any other file (a hint
        when it is compressed)."""
        def read(offset, length):
            return self.storage.read_range(location, offset, length)

        head = read(0, HEAD_BYTES)
        compression = _compression_of(head)
        if compression:
            self.hints.append(
                "%s: %s files cannot be split: one map task parses all %d bytes "
                "(over the split size of %d)" % (uri, compression, size, self.split_size))
        if not _splittable(head):
            return None
        return holds_several_messages(read, size)

    def _add_ranges(self, read, uri, relpath, size, several):
        for start, end in ranges_of(size, self.split_size):
            self.items.append([{"read": read, "uri": uri, "relpath": relpath, "start": start,
                                "end": end, "size": size, "several": several}])
            self.ranges += 1

    def add_local(self, paths, scratch_dir):
        small = []
        for number, (path, uri, relpath) in enumerate(expand_inputs(paths)):
            try:
                size = os.path.getsize(path)
            except OSError:
                size = 0  # unreadable: packing lists it, the task quarantines it
            several = self._split(path, uri, size) if size > self.split_size else None
            if several is None:
                small.append((path, uri, relpath))
                continue
            if self.ship:
                # shipped under a name of its own (a link), as inputs' names may repeat
                link = os.path.join(scratch_dir, "split-%05d-%s" % (number,
                                                                    os.path.basename(path)))
                os.symlink(path, link)
                path = link
            self._add_ranges(self._shipped_name(path), uri, relpath, size, several)
        if not self.ship:
            self._group_local(small)
            return
        containers, unreadable = pack_files(small, scratch_dir, self.container_bytes)
        for container in containers:
            if self.ship:
                renamed = container[:-len(".tar")] + SHIPPED_CONTAINER_SUFFIX
                os.rename(container, renamed)
                container = renamed
            self.items.append([{"read": self._shipped_name(container), "uri": container,
                                "relpath": relpath_of_uri(container)}])
        for path in unreadable:
            self.items.append([{"read": path, "uri": pathlib.Path(path).as_uri(),
                                "relpath": relpath_of_uri(path)}])

    def _group_local(self, files):
        """Small local files the tasks read where they lie: grouped into
        items of about ``container_bytes``, or for a runner of several cores
        into a multiple of its cores (``_balance_local``), so every core has
        work (no copy: the pieces name the files themselves)."""
        sizes = []
        for path, _, _ in files:
            try:
                sizes.append(os.path.getsize(path))
            except OSError:
                sizes.append(0)  # unreadable: the task quarantines it
        if self.cores > 1 and sum(sizes):
            self._balance_local(files, [_work_of(path, size) for (path, _, _), size
                                        in zip(files, sizes)])
            return
        item_bytes = self.container_bytes
        group, group_bytes = [], 0
        for (path, uri, relpath), size in zip(files, sizes):
            if group and group_bytes + size > item_bytes:
                self.items.append(group)
                group, group_bytes = [], 0
            group.append({"read": path, "uri": uri, "relpath": relpath})
            group_bytes += size
        if group:
            self.items.append(group)

    def _balance_local(self, files, work):
        """The local runner's items: a multiple of its cores (one each when
        no file holds more than 1/ONE_WAVE_SHARE of a core's work, else
        two; more when the files exceed ``local_item_bytes`` a task), each
        a run of consecutive files of about the same work, so that the last
        wave of tasks keeps every core busy too (a greedy cut at a size
        leaves a small last item: five tasks on two cores). A file goes to
        the item its middle byte of work falls in."""
        total = sum(work)
        per_core = 1 if max(work) * ONE_WAVE_SHARE * self.cores <= total else 2
        count = max(per_core * self.cores, -(-total // self.local_item_bytes))
        count = -(-count // self.cores) * self.cores
        groups = [[] for _ in range(count)]
        done = 0
        for (path, uri, relpath), amount in zip(files, work):
            index = min(count - 1, (2 * done + amount) * count // (2 * total))
            groups[index].append({"read": path, "uri": uri, "relpath": relpath})
            done += amount
        self.items.extend(group for group in groups if group)

    def add_remote(self, root):
        if scheme_of(root) == "hdfs" and not self.webhdfs_url:
            raise ValueError(
                "%s: reading hdfs:// input needs the NameNode's WebHDFS address, and the "
                "Hadoop configuration ($HADOOP_CONF_DIR or $HADOOP_HOME/etc/hadoop) has "
                "no dfs.namenode.http-address" % root)
        try:
            files = self.storage.list_files(root)
        # HTTP errors (WebHDFS answers 404 for a missing path) and boto3's
        # own: either way the input cannot be listed
        except Exception as error:  # noqa: BLE001
            raise ValueError("cannot list %s: %s" % (root, error)) from None
        # completion markers (_SUCCESS) below the root are not input, as for
        # local directories and Hadoop's input formats
        files = [(uri, size) for uri, size in files
                 if uri.rstrip("/") == root.rstrip("/")
                 or not posixpath.basename(urlparse(uri).path).startswith("_")]
        if not files:
            raise ValueError("input not found: %s (no files there)" % root)
        group, group_bytes = [], 0
        for uri, size in files:
            relpath = _remote_relpath(uri, root)
            several = self._split(uri, uri, size) if size > self.split_size else None
            if several is not None:
                self._add_ranges(uri, uri, relpath, size, several)
                continue
            if group and group_bytes + size > self.container_bytes:
                self.items.append(group)
                group, group_bytes = [], 0
            group.append({"read": uri, "uri": uri, "relpath": relpath})
            group_bytes += size
        if group:
            self.items.append(group)


def _work_of(path, size):
    """About how many bytes a task parses in a local file: a gzip file's
    uncompressed size (its trailer's ISIZE, the size modulo 2**32 of its
    last member; good enough to balance tasks), else its size."""
    if size < 18:
        return size
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != b"\x1f\x8b":
                return size
            handle.seek(-4, os.SEEK_END)
            return max(size, int.from_bytes(handle.read(4), "little"))
    except OSError:
        return size


def _remote_relpath(uri, root):
    """As for local input: a file given itself has its parent's name and its
    own; a file under a directory given has the directory's name, then its
    path below it."""
    root_path = urlparse(root).path.rstrip("/")
    path = urlparse(uri).path
    if path == root_path:
        return relpath_of_uri(uri)
    below = path[len(root_path):].lstrip("/")
    return unquote(posixpath.join(posixpath.basename(root_path), below))


def plan_inputs(inputs, scratch_dir, runner="inline", split_size=DEFAULT_SPLIT_BYTES,
                container_bytes=None, webhdfs_url=None):
    """Plan the parse job's input; write its work lists into ``scratch_dir``.

    ``inputs``: local paths and ``hdfs://``/``s3://`` URIs; ``runner``: the
    mrjob runner's name (cluster runners get local files shipped);
    ``container_bytes``: the size of a container or an item of small files
    (DEFAULT_CONTAINER_BYTES; the local runner's items LOCAL_ITEM_BYTES);
    ``webhdfs_url``: ``http://host:port`` of the NameNode for ``hdfs://``
    input, by default from the Hadoop client configuration. The work lists
    and containers live in ``scratch_dir`` until the job has run. Raises
    ValueError naming a missing input or an impossible one.
    """
    remote = [path for path in inputs if scheme_of(path) in REMOTE_SCHEMES]
    local = [path for path in inputs if path not in remote]
    missing = [path for path in local if not os.path.exists(path)]
    if missing:
        raise ValueError("input not found: %s" % ", ".join(missing))
    if webhdfs_url is None and any(scheme_of(path) == "hdfs" for path in remote):
        webhdfs_url = webhdfs_url_from_conf(next(p for p in remote if scheme_of(p) == "hdfs"))
    planner = _Planner(runner, split_size, container_bytes, webhdfs_url)
    if local:
        planner.add_local(local, scratch_dir)
    for root in remote:
        planner.add_remote(root)
    paths = []
    for number, pieces in enumerate(planner.items or [[]]):
        path = os.path.join(scratch_dir, "work-%05d.json" % number)
        with open(path, "w", encoding="utf-8") as handle:
            if pieces:  # an empty input still gets one (empty) work list
                handle.write(json.dumps({"pieces": pieces}, sort_keys=True) + "\n")
        paths.append(path)
    job_args = ["--work-list"]
    if webhdfs_url:
        job_args += ["--webhdfs-url", webhdfs_url]
    for path in planner.shipped:
        job_args += ["--shipped-file", path]
    return InputPlan(paths, job_args, planner.hints, len(planner.items), planner.ranges)
