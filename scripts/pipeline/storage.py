"""The driver's one door to files: local paths, ``hdfs://`` and ``s3://`` URIs.

Every byte the driver reads or writes through a stage goes through a
:class:`Storage`, which counts them (``bytes_read``, ``bytes_written``, also
per stage), so a test or `make bench` can check that the driver handles
only reduced data. The file systems are mrjob's own (``mrjob.fs``): the same
objects its runners use, set from the runner's mrjob.conf profile (the
``hadoop_bin``, ``s3_endpoint`` and ``region`` options).

A stage's output directory is complete when its ``_SUCCESS`` marker exists,
written last (Hadoop's convention): :meth:`Storage.mark_complete` and
:meth:`Storage.is_complete`. :meth:`Storage.clear` removes what an earlier,
failed attempt left before a stage writes again.
"""

import contextlib
import os
import posixpath
import shutil
import tempfile
from collections import defaultdict
from urllib.parse import urlparse

from jeeves.errors import StorageError
from jeeves.features.parts import part_files
from jeeves.files import write_atomically

SUCCESS = "_SUCCESS"
REMOTE_SCHEMES = ("hdfs", "s3", "s3a", "s3n")



def is_uri(path):
    """``scheme://...`` (mrjob.parse.is_uri's rule, without importing mrjob)."""
    return "://" in path and bool(urlparse(path).scheme)


def is_remote(uri):
    """True for ``hdfs://`` and ``s3://`` URIs (not local paths or file://)."""
    return is_uri(uri) and urlparse(uri).scheme in REMOTE_SCHEMES


def join(base, *names):
    """Join names onto a local path or a URI."""
    if is_uri(base):
        parsed = urlparse(base)
        return "%s://%s%s" % (parsed.scheme, parsed.netloc,
                              posixpath.join(parsed.path or "/", *names))
    return os.path.join(base, *names)


def basename(uri):
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _filesystem(options):
    # mrjob's file systems are imported when first used: `jeeves predict` on one
    # message never needs them
    from mrjob.fs.composite import CompositeFilesystem
    from mrjob.fs.hadoop import HadoopFilesystem
    from mrjob.fs.local import LocalFilesystem
    from mrjob.fs.s3 import S3Filesystem

    fs = CompositeFilesystem()
    fs.add_fs("s3", S3Filesystem(s3_endpoint=options.get("s3_endpoint"),
                                 s3_region=options.get("region")))
    hadoop_bin = options.get("hadoop_bin") or None
    fs.add_fs("hadoop", HadoopFilesystem(hadoop_bin))
    fs.add_fs("local", LocalFilesystem())
    return fs


class Storage:
    """Counted reads and writes on local paths and remote URIs (module docstring)."""

    def __init__(self, options=None):
        self.options = dict(options or {})
        self._fs = None
        self.bytes_read = 0
        self.bytes_written = 0
        # every file the driver read, in order (tests check what it touched)
        self.files_read = []
        self.by_stage = defaultdict(lambda: {"bytes_read": 0, "bytes_written": 0})
        self.stage = None

    @property
    def fs(self):
        if self._fs is None:
            self._fs = _filesystem(self.options)
        return self._fs

    @contextlib.contextmanager
    def counting(self, stage):
        """Count the bytes of the block under ``stage`` (by_stage)."""
        saved, self.stage = self.stage, stage
        try:
            yield self.by_stage[stage]
        finally:
            self.stage = saved

    def count(self, kind, size):
        """Add ``size`` bytes to ``kind`` ("bytes_read" or "bytes_written")."""
        setattr(self, kind, getattr(self, kind) + size)
        if self.stage is not None:
            self.by_stage[self.stage][kind] += size

    # reading

    def exists(self, uri):
        if not is_remote(uri):
            return os.path.exists(_local(uri))
        return self.fs.exists(uri)

    def part_files(self, directory):
        """The ``part-*`` files of a job output directory, in name order."""
        if not is_remote(directory):
            return part_files(_local(directory))
        return sorted(uri for uri in self.fs.ls(join(directory, "part-*"))
                      if basename(uri).startswith("part-"))

    def read_bytes(self, uri):
        self.files_read.append(uri)
        if not is_remote(uri):
            with open(_local(uri), "rb") as handle:
                data = handle.read()
        else:
            data = b"".join(self.fs.cat(uri))
        self.count("bytes_read", len(data))
        return data

    def iter_lines(self, directory):
        """Yield every line (bytes, newline kept) of a job output directory's part files."""
        for uri in self.part_files(directory):
            yield from self.iter_file_lines(uri)

    def iter_file_lines(self, uri):
        """Yield every line (bytes, newline kept) of one file, streamed."""
        self.files_read.append(uri)
        if not is_remote(uri):
            with open(_local(uri), "rb") as handle:
                for line in handle:
                    self.count("bytes_read", len(line))
                    yield line
            return
        pending = b""
        for chunk in self.fs.cat(uri):
            self.count("bytes_read", len(chunk))
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending

    # writing

    def write_bytes(self, uri, data):
        """Write ``data`` at ``uri``: local files atomically (temp + rename)."""
        if not is_remote(uri):
            write_atomically(_local(uri), data)
        else:
            with tempfile.NamedTemporaryFile(prefix="jeeves-put-") as handle:
                handle.write(data)
                handle.flush()
                if self.fs.exists(uri):
                    self.fs.rm(uri)
                self._make_parent(uri)
                self.fs.put(handle.name, uri)
        self.count("bytes_written", len(data))

    def _make_parent(self, uri):
        """HDFS refuses a file whose directory is missing; S3 has no directories."""
        if urlparse(uri).scheme == "hdfs":
            self.fs.mkdir(uri.rstrip("/").rsplit("/", 1)[0])

    def put_tree(self, local_directory, uri):
        """Copy a local directory's files under ``uri`` (same relative paths)."""
        if not is_remote(uri):
            destination = _local(uri)
            if os.path.abspath(destination) == os.path.abspath(local_directory):
                return
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(local_directory, destination)
            return
        for root, _, names in os.walk(local_directory):
            for name in sorted(names):
                path = os.path.join(root, name)
                relative = os.path.relpath(path, local_directory).replace(os.sep, "/")
                self._make_parent(join(uri, relative))
                self.fs.put(path, join(uri, relative))
                self.count("bytes_written", os.path.getsize(path))

    def get_tree(self, uri, local_directory):
        """Copy the files under ``uri`` into a local directory (a model bundle)."""
        if not is_remote(uri):
            shutil.copytree(_local(uri), local_directory, dirs_exist_ok=True)
            return local_directory
        prefix = uri.rstrip("/") + "/"
        for file_uri in sorted(self.fs.ls(uri)):
            relative = file_uri[len(prefix):] if file_uri.startswith(prefix) else basename(file_uri)
            path = os.path.join(local_directory, *relative.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(self.read_bytes(file_uri))
        return local_directory

    def mkdir(self, uri):
        if not is_remote(uri):
            os.makedirs(_local(uri), exist_ok=True)
        else:
            self.fs.mkdir(uri)

    def clear(self, uri):
        """Remove a file or directory tree, if it exists."""
        if not is_remote(uri):
            path = _local(uri)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
            return
        if self.fs.exists(uri):
            self.fs.rm(uri)

    # completion markers

    def mark_complete(self, directory):
        """Write ``directory/_SUCCESS``: last, after everything else in it."""
        self.write_bytes(join(directory, SUCCESS), b"")

    def is_complete(self, directory):
        return self.exists(join(directory, SUCCESS))


def _local(path):
    """A local path from a path or a file:// URI."""
    if path.startswith("file://"):
        return urlparse(path).path
    return path


def check_output_location(storage, output):
    """Raise StorageError in one line when ``output`` cannot be written:
    a local path that is a file, or a remote location refused."""
    if not is_remote(output):
        path = _local(output)
        if os.path.exists(path) and not os.path.isdir(path):
            raise StorageError("output %s is a file, not a directory" % output)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as error:
            raise StorageError("cannot create output %s: %s"
                               % (output, error.strerror or error)) from None
        return
    probe = join(output, "_jeeves_write_probe")
    try:
        storage.write_bytes(probe, b"")
        storage.clear(probe)
    except Exception as error:  # botocore, IOError from `hadoop fs`: one line either way
        raise StorageError("cannot write to %s: %s" % (
            output, str(error).strip().splitlines()[0] if str(error).strip() else
            type(error).__name__)) from None
