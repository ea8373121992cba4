"""The one door to files: local paths, ``hdfs://`` and ``s3://`` URIs.

At the bottom of the package with jeeves.errors and jeeves.files: the
driver's stages, the scheduled batches (jeeves.batch), the mailbox state
(jeeves.mailbox.state) and the parse tasks' ranged reads
(jeeves.jobs.mr_parse_emails) all go through a :class:`Storage`. It imports
the standard library only; mrjob and boto3 are imported when first used, so
it runs in tasks (Python 3.9) as on the driver.

Every byte read or written through a Storage is counted (``bytes_read``,
``bytes_written``, also per stage), so a test or `make bench` can check that
the driver handles only reduced data.

Two ways to remote files:

- whole files and directories (``read_bytes``, ``write_bytes``,
  ``part_files``, ``put_tree``, ``clear``, ...) go through mrjob's own file
  systems (``mrjob.fs``): the objects its runners use, set from the runner's
  mrjob.conf profile (the ``hadoop_bin``, ``s3_endpoint`` and ``region``
  options). With ``webhdfs_url``, ``hdfs://`` URIs of the configured
  cluster go over WebHDFS instead (:class:`WebHdfsFilesystem`, the same
  interface: an HTTP request where ``hadoop fs`` starts a JVM), and so do
  a Hadoop runner's own calls (:meth:`Storage.runner_filesystem`). A
  Storage made with a boto3 client (``Storage(s3=client)``: the
  scheduled batches, the mailbox state) does its ``s3://`` reads and writes
  with that client instead, and can write conditionally
  (:meth:`Storage.write_if_unchanged`);
- byte ranges, sizes and listings of input files (``size``, ``read_range``,
  ``read_all``, ``list_files``) are fetched alone, never the whole file: a
  local path (or ``file://`` URI) by open, seek, read; ``s3://bucket/key`` by
  boto3 ``get_object`` with a ``Range`` header (boto3 takes credentials and
  ``AWS_ENDPOINT_URL`` from the environment, as on EMR nodes and against a
  test server; one client per process, :func:`s3_client`, unless one is
  given); ``hdfs://[host:port]/path`` by WebHDFS, ``op=OPEN&offset=&length=``
  over HTTP to the NameNode, which redirects to a DataNode. The NameNode's
  HTTP address (``dfs.namenode.http-address``) is passed in as
  ``webhdfs_url`` (``http://host:port``): the driver reads it from the
  Hadoop client configuration (:func:`webhdfs_url_from_conf`).

A stage's output directory is complete when its ``_SUCCESS`` marker exists,
written last (Hadoop's convention): :meth:`Storage.mark_complete` and
:meth:`Storage.is_complete`. :meth:`Storage.clear` removes what an earlier,
failed attempt left before a stage writes again. Local files are replaced
whole (jeeves.files.write_atomically).
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import io
import json
import os
import posixpath
import shutil
import tempfile
import threading
from collections import defaultdict
from urllib.parse import quote, unquote, urlencode, urlparse

from jeeves.features.parts import part_files
from jeeves.files import write_atomically

# urllib.request (with http.client and ssl) and ElementTree are imported where
# WebHDFS and the Hadoop client files are read: the parse job's tasks import
# this module to read their pieces, local files on this machine, and the two
# cost about 12 ms of each task's start (docs/perf-results.md, session 16)

SUCCESS = "_SUCCESS"
REMOTE_SCHEMES = ("hdfs", "s3", "s3a", "s3n")
S3_SCHEMES = ("s3", "s3a", "s3n")
HTTP_TIMEOUT_SECONDS = 300


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


def scheme_of(location):
    return location.split("://", 1)[0].lower() if "://" in location else ""


def local_path(location):
    """A local path from a path or a file:// URI (percent-decoded)."""
    if scheme_of(location) == "file":
        return unquote(urlparse(location).path)
    return location


def _is_s3(uri):
    return scheme_of(uri) in S3_SCHEMES


def _bucket_key(uri):
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


@functools.lru_cache(maxsize=None)
def s3_client():
    """One boto3 client per process (making one costs more than a ranged read)."""
    import boto3  # task side only when an input is on S3

    return boto3.client("s3")


def _hadoop_bin(options):
    """The profile's ``hadoop_bin`` as mrjob takes it: a command, as a list (None: find it)."""
    hadoop_bin = options.get("hadoop_bin") or None
    if isinstance(hadoop_bin, str):
        import shlex

        hadoop_bin = shlex.split(hadoop_bin)
    return hadoop_bin


def _webhdfs_unavailable(error):
    """CompositeFilesystem's ``disable_if`` for the WebHDFS file system."""
    if isinstance(error, WebHdfsUnavailable):
        import logging

        logging.getLogger(__name__).warning("%s: using `hadoop fs` instead", error)
        return True
    return False


# ranged reads: one small class per kind of location, each with size(),
# read(offset, length) and read_all()

class LocalFile:
    def __init__(self, path):
        self.path = path

    def size(self):
        return os.path.getsize(self.path)

    def read(self, offset, length):
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def read_all(self):
        with open(self.path, "rb") as handle:
            return handle.read()

    def list_files(self):
        """[(path, size)] of the files under this path (itself if a file), sorted."""
        if not os.path.isdir(self.path):
            return [(self.path, os.path.getsize(self.path))]
        files = []
        for root, directories, names in os.walk(self.path):
            directories.sort()
            files.extend((os.path.join(root, name), os.path.getsize(os.path.join(root, name)))
                         for name in names)
        return sorted(files)


class S3File:
    def __init__(self, uri, client=None):
        self.uri = uri
        self.bucket, self.key = _bucket_key(uri)
        self.client = client or s3_client()

    def size(self):
        return self.client.head_object(Bucket=self.bucket, Key=self.key)["ContentLength"]

    def read(self, offset, length):
        if length <= 0:
            return b""
        response = self.client.get_object(
            Bucket=self.bucket, Key=self.key, Range="bytes=%d-%d" % (offset, offset + length - 1))
        return response["Body"].read()

    def read_all(self):
        return self.client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()

    def list_files(self):
        """[(s3 URI, size)] of the objects under this prefix (or the object itself), sorted."""
        files = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key):
            for item in page.get("Contents", []):
                key = item["Key"]
                is_under = key == self.key or not self.key or self.key.endswith("/") or \
                    key.startswith(self.key + "/")
                if is_under and not key.endswith("/"):
                    files.append(("s3://%s/%s" % (self.bucket, key), item["Size"]))
        return sorted(files)


class WebHdfsFile:
    def __init__(self, uri, webhdfs_url):
        if not webhdfs_url:
            raise ValueError("reading %s needs the NameNode's WebHDFS address "
                             "(--webhdfs-url http://host:port)" % uri)
        self.uri = uri
        self.url = webhdfs_url.rstrip("/") + "/webhdfs/v1" + quote(urlparse(uri).path or "/")

    def _get(self, **params):
        from urllib.request import urlopen

        user = os.environ.get("HADOOP_USER_NAME")
        if user:
            params["user.name"] = user
        with urlopen("%s?%s" % (self.url, urlencode(params)),
                     timeout=HTTP_TIMEOUT_SECONDS) as response:
            return response.read()

    def size(self):
        return json.loads(self._get(op="GETFILESTATUS"))["FileStatus"]["length"]

    def read(self, offset, length):
        if length <= 0:
            return b""
        return self._get(op="OPEN", offset=offset, length=length)

    def read_all(self):
        return self._get(op="OPEN")

    def list_files(self):
        """[(hdfs URI, size)] of the files under this path (itself if a file), sorted."""
        status = json.loads(self._get(op="GETFILESTATUS"))["FileStatus"]
        if status["type"] != "DIRECTORY":
            return [(self.uri, status["length"])]
        files = []
        listing = json.loads(self._get(op="LISTSTATUS"))["FileStatuses"]["FileStatus"]
        base = self.uri.rstrip("/")
        webhdfs_url = self.url[:self.url.index("/webhdfs/v1")]
        for entry in sorted(listing, key=lambda entry: entry["pathSuffix"]):
            child = base + "/" + quote(entry["pathSuffix"])
            if entry["type"] == "DIRECTORY":
                files.extend(WebHdfsFile(child, webhdfs_url).list_files())
            else:
                files.append((child, entry["length"]))
        return files


def hadoop_client_settings(conf_dir=None):
    """{name: value} of the Hadoop client configuration's ``core-site.xml`` and
    ``hdfs-site.xml`` (``conf_dir``, else ``$HADOOP_CONF_DIR``, else
    ``$HADOOP_HOME/etc/hadoop``); {} when there is none. Read again only
    when a file changed (a cluster writes its whole configuration in each)."""
    if conf_dir is None:
        conf_dir = os.environ.get("HADOOP_CONF_DIR") or (
            os.path.join(os.environ["HADOOP_HOME"], "etc", "hadoop")
            if os.environ.get("HADOOP_HOME") else None)
    if not conf_dir:
        return {}
    files = []
    for name in ("core-site.xml", "hdfs-site.xml"):
        path = os.path.join(conf_dir, name)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        files.append((path, stat.st_mtime_ns, stat.st_size))
    return dict(_read_settings(tuple(files)))


@functools.lru_cache(maxsize=8)
def _read_settings(files):
    import xml.etree.ElementTree as ElementTree

    settings = {}
    for path, _, _ in files:
        for prop in ElementTree.parse(path).getroot().iter("property"):
            settings[prop.findtext("name")] = (prop.findtext("value") or "").strip()
    return tuple(settings.items())


def webhdfs_url_from_conf(hdfs_uri=None, conf_dir=None):
    """``http://host:port`` of the NameNode's WebHDFS, from the Hadoop client
    configuration (:func:`hadoop_client_settings`), or None when it names
    none. A wildcard bind host (``0.0.0.0``) is replaced by the host of
    ``hdfs_uri`` or of ``fs.defaultFS``."""
    settings = hadoop_client_settings(conf_dir)
    address = settings.get("dfs.namenode.http-address")
    if not address:
        return None
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0"):
        named = urlparse(hdfs_uri or "").hostname or urlparse(
            settings.get("fs.defaultFS", "")).hostname
        host = named or "localhost"
    return "http://%s:%s" % (host, port)


def default_namenode(conf_dir=None):
    """``host:port`` of ``fs.defaultFS`` when it is an ``hdfs://`` URI, else None."""
    default = urlparse(hadoop_client_settings(conf_dir).get("fs.defaultFS", ""))
    return (default.netloc or None) if default.scheme == "hdfs" else None


class WebHdfsUnavailable(IOError):
    """WebHDFS cannot be reached, or refuses this client (it needs Kerberos):
    the driver's calls go to ``hadoop fs`` instead (Storage.fs)."""


def _glob_magic(path):
    return any(character in path for character in "*?[")


class WebHdfsFilesystem:
    """mrjob's file system interface (``mrjob.fs.base.Filesystem``: ``ls``,
    ``exists``, ``cat``, ``mkdir``, ``put``, ``rm``, ``du``, ``touchz``,
    ``join``) for the ``hdfs://`` URIs of the client configuration's cluster,
    over WebHDFS: an HTTP request or two per call, where mrjob's
    ``HadoopFilesystem`` starts a ``hadoop fs`` JVM (seconds) per call.

    Handles ``hdfs:///path`` and ``hdfs://NAMENODE/path`` when NAMENODE is
    ``fs.defaultFS``'s; globs ``*``, ``?`` and ``[...]`` (Hadoop's ``{a,b}``
    is left to ``hadoop fs``). Acts as the user ``hadoop fs`` would
    (``$HADOOP_USER_NAME``, else the login name), with simple
    authentication (``user.name``): a cluster that asks for Kerberos
    answers 401, and :class:`WebHdfsUnavailable` hands the calls over to
    ``hadoop fs``. Paths in URIs are taken as they are (not
    percent-decoded), as ``hadoop fs`` takes them."""

    CHUNK_BYTES = 1 << 20

    def __init__(self, webhdfs_url, namenode=None, user=None):
        self.webhdfs_url = webhdfs_url.rstrip("/")
        self.namenode = namenode
        self.user = user or os.environ.get("HADOOP_USER_NAME") or getpass.getuser()
        # why WebHDFS stopped answering (then every call goes to `hadoop fs`)
        self.unavailable = None

    def can_handle_path(self, path):
        if self.unavailable or scheme_of(path) != "hdfs" or "{" in path:
            return False
        netloc = urlparse(path).netloc
        return not netloc or netloc == self.namenode

    # HTTP

    def _url(self, path, op, **params):
        params = dict(params, op=op)
        params["user.name"] = self.user
        return "%s/webhdfs/v1%s?%s" % (self.webhdfs_url, quote(path or "/"), urlencode(params))

    def _open(self, method, url, path, data=None, headers=None):
        """The response to one request (the caller closes it); 404 ->
        FileNotFoundError, no answer or 401 -> WebHdfsUnavailable, other
        errors -> IOError with the NameNode's message."""
        from urllib.error import HTTPError, URLError
        from urllib.request import Request, urlopen

        request = Request(url, data=data, method=method, headers=headers or {})
        try:
            return urlopen(request, timeout=HTTP_TIMEOUT_SECONDS)
        except HTTPError as error:
            if error.code in (301, 302, 303, 307, 308) and error.headers.get("Location"):
                raise  # a redirect of a PUT: the caller follows it
            message = error.read().decode("utf-8", "replace")
            try:
                message = json.loads(message)["RemoteException"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            if error.code == 404:
                raise FileNotFoundError("%s: %s" % (path, message)) from None
            if error.code == 401:
                self.unavailable = "WebHDFS at %s refuses simple authentication (%s)" % (
                    self.webhdfs_url, message)
                raise WebHdfsUnavailable(self.unavailable) from None
            raise IOError("WebHDFS %s %s: HTTP %d: %s" % (method, path, error.code,
                                                          message)) from None
        except URLError as error:
            self.unavailable = "WebHDFS at %s: %s" % (self.webhdfs_url, error.reason)
            raise WebHdfsUnavailable(self.unavailable) from None

    def _call(self, method, path, op, **params):
        """The JSON answer of one request."""
        with self._open(method, self._url(path, op, **params), path) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def _status(self, path):
        """The FileStatus of a path, or None when it does not exist."""
        try:
            return self._call("GET", path, "GETFILESTATUS")["FileStatus"]
        except FileNotFoundError:
            return None

    def _list(self, path):
        """The FileStatus entries of a directory ([] when it does not exist),
        sorted by name; a file lists itself, with an empty ``pathSuffix``."""
        try:
            listing = self._call("GET", path, "LISTSTATUS")["FileStatuses"]["FileStatus"]
        except FileNotFoundError:
            return []
        return sorted(listing, key=lambda entry: entry["pathSuffix"])

    # paths

    @staticmethod
    def _split(uri):
        """("hdfs://netloc", "/path") of an hdfs:// URI."""
        parsed = urlparse(uri)
        return ("%s://%s" % (parsed.scheme, parsed.netloc),
                "/" + posixpath.normpath(parsed.path or "/").lstrip("/"))

    def _matches(self, path):
        """[(path, FileStatus)] of what a path (maybe a glob) names, sorted."""
        if not _glob_magic(path):
            status = self._status(path)
            return [(path, status)] if status is not None else []
        import fnmatch

        found = [("/", None)]
        for part in path.strip("/").split("/"):
            matched = []
            for base, _ in found:
                if _glob_magic(part):
                    # a file lists itself with no name: it has nothing below it
                    matched += [(posixpath.join(base, entry["pathSuffix"]), entry)
                                for entry in self._list(base) if entry["pathSuffix"]
                                and fnmatch.fnmatchcase(entry["pathSuffix"], part)]
                else:
                    matched.append((posixpath.join(base, part), None))
            found = matched
        checked = []
        for name, status in found:
            status = status if status is not None else self._status(name)
            if status is not None:
                checked.append((name, status))
        return checked

    def _files_under(self, path, status):
        """The paths of the files at or below ``path``, depth first, by name."""
        if status["type"] != "DIRECTORY":
            yield path
            return
        for entry in self._list(path):
            yield from self._files_under(posixpath.join(path, entry["pathSuffix"]), entry)

    # mrjob's Filesystem interface

    def ls(self, path_glob):
        """The files at or below what ``path_glob`` names (as ``hadoop fs -ls -R``)."""
        prefix, path = self._split(path_glob)
        for name, status in self._matches(path):
            for found in self._files_under(name, status):
                yield prefix + found

    def exists(self, path_glob):
        return bool(self._matches(self._split(path_glob)[1]))

    def du(self, path_glob):
        return sum(self._call("GET", name, "GETCONTENTSUMMARY")["ContentSummary"]["length"]
                   for name, _ in self._matches(self._split(path_glob)[1]))

    def cat(self, path_glob):
        for number, uri in enumerate(self.ls(path_glob)):
            if number:
                yield b""  # mrjob's end-of-file mark between files
            yield from self._cat_file(uri)

    def _cat_file(self, uri):
        """The bytes of one file, in chunks, decompressed by its extension as mrjob does."""
        from mrjob.cat import decompress

        path = self._split(uri)[1]

        def chunks():
            with self._open("GET", self._url(path, "OPEN"), path) as response:
                while True:
                    chunk = response.read(self.CHUNK_BYTES)
                    if not chunk:
                        return
                    yield chunk

        yield from decompress(chunks(), uri)

    def mkdir(self, path):
        self._call("PUT", self._split(path)[1], "MKDIRS")

    def put(self, src, path):
        """Upload a local file to a new file (one already there is an error, as
        for ``hadoop fs -put``)."""
        if path.endswith("/"):
            raise ValueError("put() destination may not be a directory")
        with open(src, "rb") as handle:
            self._create(self._split(path)[1], handle, os.fstat(handle.fileno()).st_size)

    def touchz(self, path):
        self._create(self._split(path)[1], b"", 0)

    def write(self, uri, data, overwrite=True):
        """Write ``data`` (bytes) as the file ``uri``, its parents made (beyond
        mrjob's interface)."""
        self._create(self._split(uri)[1], data, len(data), overwrite=overwrite)

    def _create(self, path, body, size, overwrite=False):
        """WebHDFS CREATE: ask the NameNode for a DataNode, then send it the bytes."""
        from urllib.error import HTTPError

        url = self._url(path, "CREATE", overwrite=str(overwrite).lower(), noredirect="true")
        try:
            with self._open("PUT", url, path, data=b"") as response:
                location = json.loads(response.read())["Location"]
        except HTTPError as redirect:  # a NameNode without noredirect: its 307 names the DataNode
            location = redirect.headers["Location"]
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        with self._open("PUT", location, path, data=body, headers=headers) as response:
            response.read()

    def rename(self, source, destination):
        """Rename a file or directory; False when the destination exists (HDFS's rule)."""
        answer = self._call("PUT", self._split(source)[1], "RENAME",
                            destination=self._split(destination)[1])
        return bool(answer.get("boolean"))

    def rm(self, path_glob):
        for name, _ in self._matches(self._split(path_glob)[1]):
            self._call("DELETE", name, "DELETE", recursive="true")

    def join(self, path, *paths):
        prefix, base = self._split(path)
        return prefix + posixpath.join(base, *paths)

    def md5sum(self, path):
        digest = hashlib.md5()
        for chunk in self._cat_file(path):
            digest.update(chunk)
        return digest.hexdigest()


class LazyS3Filesystem:
    """mrjob's S3 file system (``mrjob.fs.s3.S3Filesystem``), made on its
    first call: importing it imports boto3 and botocore (2.6 MB of modules
    read), which a run with no ``s3://`` URI never needs. It answers
    ``can_handle_path`` itself (mrjob's rule), so the composite file
    system asks it about every URI without making it; any other attribute
    is the real file system's."""

    def __init__(self, s3_endpoint=None, s3_region=None):
        self.options = {"s3_endpoint": s3_endpoint, "s3_region": s3_region}
        self._fs = None

    @property
    def made(self):
        """Whether the real file system was made (boto3 imported)."""
        return self._fs is not None

    def can_handle_path(self, path):
        from mrjob.parse import is_s3_uri

        return is_s3_uri(path)

    def __getattr__(self, name):
        if name.startswith("__") or name == "_fs":
            raise AttributeError(name)
        if self._fs is None:
            from mrjob.fs.s3 import S3Filesystem

            self._fs = S3Filesystem(**self.options)
        return getattr(self._fs, name)


class Storage:
    """Counted reads and writes on local paths and remote URIs (module docstring).

    ``options``: the runner's (``hadoop_bin``, ``s3_endpoint``, ``region``)
    for mrjob's file systems; ``s3``: a boto3 client for ``s3://`` (by
    default the process's own for ranged reads, mrjob's S3 file system for
    the rest); ``webhdfs_url``: the NameNode's ``http://host:port`` for
    ranged reads of ``hdfs://`` files."""

    def __init__(self, options=None, s3=None, webhdfs_url=None):
        self.options = dict(options or {})
        self.webhdfs_url = webhdfs_url
        self._s3 = s3
        self._fs = None
        self._hadoop = self._webhdfs = None
        self.bytes_read = 0
        self.bytes_written = 0
        # every file read whole, in order (tests check what the driver touched)
        self.files_read = []
        self.by_stage = defaultdict(lambda: {"bytes_read": 0, "bytes_written": 0})
        self.stage = None
        # reads from several threads (the label stage's .cats files) count every byte
        self._counting = threading.Lock()

    @property
    def fs(self):
        """mrjob's file systems: ``s3://`` (boto3, made on first use:
        :class:`LazyS3Filesystem`), ``hdfs://`` (WebHDFS when ``webhdfs_url``
        is known, else or on refusal ``hadoop fs``), local."""
        if self._fs is None:
            self._fs = self._composite(s3=True)
        return self._fs

    def _composite(self, s3):
        # mrjob's file systems are imported when first used: `jeeves predict` on one
        # message never needs them
        from mrjob.fs.composite import CompositeFilesystem
        from mrjob.fs.hadoop import HadoopFilesystem
        from mrjob.fs.local import LocalFilesystem

        if self._hadoop is None:
            # one per Storage, shared with the Hadoop runners (runner_filesystem):
            # it runs `hadoop version` once, not once per job
            self._hadoop = HadoopFilesystem(_hadoop_bin(self.options))
            if self.webhdfs_url:
                self._webhdfs = WebHdfsFilesystem(self.webhdfs_url, default_namenode())
        fs = CompositeFilesystem()
        if self._webhdfs is not None:
            fs.add_fs("webhdfs", self._webhdfs, disable_if=_webhdfs_unavailable)
        if s3:
            fs.add_fs("s3", LazyS3Filesystem(s3_endpoint=self.options.get("s3_endpoint"),
                                             s3_region=self.options.get("region")))
        fs.add_fs("hadoop", self._hadoop)
        fs.add_fs("local", LocalFilesystem())
        return fs

    def runner_filesystem(self):
        """The file system for a Hadoop runner (``job_runner._fs``, what its
        ``fs`` property would build: ``hadoop fs``, then local files), with
        this Storage's WebHDFS in front and its ``hadoop fs``, which asks
        ``hadoop version`` once for all the jobs. The Storage must be made
        with the runner's profile options (jeeves.pipeline.engine.Engine)."""
        return self._composite(s3=False)

    @property
    def webhdfs(self):
        """The WebHDFS file system when ``webhdfs_url`` is known and it
        answered so far, else None."""
        if self._fs is None:
            self._fs = self._composite(s3=True)
        if self._webhdfs is None or self._webhdfs.unavailable:
            return None
        return self._webhdfs

    @property
    def s3(self):
        """The boto3 client for s3:// (the one given, else the process's)."""
        return self._s3 if self._s3 is not None else s3_client()

    def _s3_direct(self, uri):
        """Whether ``uri`` is read and written with the boto3 client given."""
        return self._s3 is not None and _is_s3(uri)

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
        with self._counting:
            setattr(self, kind, getattr(self, kind) + size)
            if self.stage is not None:
                self.by_stage[self.stage][kind] += size

    # reading

    def exists(self, uri):
        if self._s3_direct(uri):
            bucket, key = _bucket_key(uri)
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
            except self.s3.exceptions.ClientError as error:
                if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True
        if not is_remote(uri):
            return os.path.exists(local_path(uri))
        return self.fs.exists(uri)

    def part_files(self, directory):
        """The ``part-*`` files of a job output directory, in name order."""
        if self._s3_direct(directory):
            return sorted(uri for uri in self.s3_keys(directory.rstrip("/") + "/", uris=True)
                          if basename(uri).startswith("part-"))
        if not is_remote(directory):
            return part_files(local_path(directory))
        return sorted(uri for uri in self.fs.ls(join(directory, "part-*"))
                      if basename(uri).startswith("part-"))

    def read_bytes(self, uri):
        """A whole file; FileNotFoundError when a local file or an S3 object
        read with the client given is missing."""
        self.files_read.append(uri)
        if self._s3_direct(uri):
            return self.read_tagged(uri)[0]
        if not is_remote(uri):
            with open(local_path(uri), "rb") as handle:
                data = handle.read()
        else:
            data = b"".join(self.fs.cat(uri))
        self.count("bytes_read", len(data))
        return data

    def read_tagged(self, uri):
        """(bytes, ETag) of an S3 object, for :meth:`write_if_unchanged`;
        FileNotFoundError when there is none."""
        bucket, key = _bucket_key(uri)
        try:
            response = self.s3.get_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            raise FileNotFoundError("no such object: %s" % uri) from None
        data = response["Body"].read()
        self.count("bytes_read", len(data))
        return data, response["ETag"]

    def iter_lines(self, directory):
        """Yield every line (bytes, newline kept) of a job output directory's part files."""
        for uri in self.part_files(directory):
            yield from self.iter_file_lines(uri)

    def iter_file_lines(self, uri):
        """Yield every line (bytes, newline kept) of one file, streamed."""
        if self._s3_direct(uri):
            yield from io.BytesIO(self.read_bytes(uri))  # lines split at b"\n" only
            return
        self.files_read.append(uri)
        if not is_remote(uri):
            with open(local_path(uri), "rb") as handle:
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

    def s3_keys(self, uri, uris=False, client=None):
        """Every key under an ``s3://bucket/prefix`` (the prefix as S3 matches
        it: add the "/" of a directory), as listed; their URIs if ``uris``;
        through ``client`` (default: this Storage's)."""
        bucket, prefix = _bucket_key(uri)
        paginator = (client or self.s3).get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                yield ("%s://%s/%s" % (scheme_of(uri), bucket, item["Key"]) if uris
                       else item["Key"])

    def list_directories(self, uri):
        """The names of the directories right under ``uri``, sorted (S3:
        the common prefixes under ``uri/``)."""
        if _is_s3(uri):
            bucket, prefix = _bucket_key(uri)
            prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
            names = []
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", ()):
                    names.append(common["Prefix"][len(prefix):].rstrip("/"))
            return sorted(names)
        if not is_remote(uri):
            path = local_path(uri)
            if not os.path.isdir(path):
                return []
            return sorted(name for name in os.listdir(path)
                          if os.path.isdir(os.path.join(path, name)))
        prefix = uri.rstrip("/") + "/"
        return sorted({found[len(prefix):].split("/", 1)[0] for found in self.fs.ls(uri)
                       if found.startswith(prefix) and "/" in found[len(prefix):]})

    # ranged reads (input files where they lie: the parse job's tasks and input plan)

    def _ranged(self, uri):
        scheme = scheme_of(uri)
        if scheme in S3_SCHEMES:
            return S3File(uri, self.s3)
        if scheme == "hdfs":
            return WebHdfsFile(uri, self.webhdfs_url)
        if scheme in ("", "file"):
            return LocalFile(local_path(uri))
        raise ValueError("cannot read %s: not a local path, hdfs:// or s3:// URI" % uri)

    def size(self, uri):
        """The size in bytes of one file."""
        return self._ranged(uri).size()

    def read_range(self, uri, offset, length):
        """``length`` bytes from ``offset`` (fewer at the end of the file),
        fetched alone."""
        data = self._ranged(uri).read(offset, length)
        self.count("bytes_read", len(data))
        return data

    def read_all(self, uri):
        """A whole file fetched as the ranges are (no mrjob, no decompression)."""
        data = self._ranged(uri).read_all()
        self.count("bytes_read", len(data))
        return data

    def list_files(self, uri):
        """[(location, size)] of the files under ``uri`` (itself if a file), sorted."""
        return self._ranged(uri).list_files()

    # writing

    def write_bytes(self, uri, data, content_type=None):
        """Write ``data`` at ``uri``: local files atomically (temp + rename)."""
        if self._s3_direct(uri):
            bucket, key = _bucket_key(uri)
            extra = {"ContentType": content_type} if content_type else {}
            self.s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
        elif not is_remote(uri):
            write_atomically(local_path(uri), data)
        elif not self._write_webhdfs(uri, data):
            with tempfile.NamedTemporaryFile(prefix="jeeves-put-") as handle:
                handle.write(data)
                handle.flush()
                if self.fs.exists(uri):
                    self.fs.rm(uri)
                self._make_parent(uri)
                self.fs.put(handle.name, uri)
        self.count("bytes_written", len(data))

    def _write_webhdfs(self, uri, data):
        """Write ``data`` at ``uri`` over WebHDFS, replacing a file there (one
        CREATE, parents made, no temporary file); False when WebHDFS does not
        serve ``uri`` (or stopped answering: then ``hadoop fs`` writes it)."""
        webhdfs = self.webhdfs
        if webhdfs is None or not webhdfs.can_handle_path(uri):
            return False
        try:
            webhdfs.write(uri, data)
        except WebHdfsUnavailable:
            return False
        return True

    def write_if_unchanged(self, uri, data, etag, content_type=None):
        """Write an S3 object unless it changed since it was read with ``etag``
        (:meth:`read_tagged`), or, when ``etag`` is None, unless it exists (S3
        conditional writes: If-Match, If-None-Match); return its new ETag.
        The refusal is S3's error (a ClientError, PreconditionFailed)."""
        if not _is_s3(uri):
            raise ValueError("conditional writes need an s3:// URI, not %s" % uri)
        bucket, key = _bucket_key(uri)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        if content_type:
            condition["ContentType"] = content_type
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=data, **condition)
        self.count("bytes_written", len(data))
        return response["ETag"]

    def _make_parent(self, uri):
        """HDFS refuses a file whose directory is missing; S3 has no directories."""
        if urlparse(uri).scheme == "hdfs":
            self.fs.mkdir(uri.rstrip("/").rsplit("/", 1)[0])

    def put_tree(self, local_directory, uri):
        """Copy a local directory's files under ``uri`` (same relative paths)."""
        if not is_remote(uri):
            destination = local_path(uri)
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

    def put_once(self, local_file, uri):
        """Put a local file at ``uri`` over WebHDFS unless a file is there
        already: for content-addressed URIs (the same URI, the same bytes),
        such as the tasks' code (jeeves.pipeline.engine). Written under a
        temporary name, then renamed, so a run never sees half of another's
        copy. Not counted: code, not data."""
        fs = self.webhdfs
        if fs is None or not fs.can_handle_path(uri):
            raise ValueError("put_once needs WebHDFS and an hdfs:// URI of its cluster, not %s"
                             % uri)
        if fs.exists(uri):
            return uri
        import uuid

        fs.mkdir(uri.rstrip("/").rsplit("/", 1)[0])
        temporary = "%s.%s.tmp" % (uri, uuid.uuid4().hex)
        fs.put(local_file, temporary)
        if not fs.rename(temporary, uri):  # another run's copy came first
            fs.rm(temporary)
        return uri

    def get_tree(self, uri, local_directory):
        """Copy the files under ``uri`` into a local directory (a model bundle)."""
        if not is_remote(uri):
            shutil.copytree(local_path(uri), local_directory, dirs_exist_ok=True)
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
            os.makedirs(local_path(uri), exist_ok=True)
        else:
            self.fs.mkdir(uri)

    def clear(self, uri):
        """Remove a file or directory tree, if it exists."""
        if self._s3_direct(uri):
            bucket, prefix = _bucket_key(uri)
            stale = [{"Key": key} for key in self.s3_keys(uri)
                     if prefix.endswith("/") or key == prefix or key.startswith(prefix + "/")]
            for start in range(0, len(stale), 1000):
                self.s3.delete_objects(Bucket=bucket,
                                       Delete={"Objects": stale[start:start + 1000]})
            return
        if not is_remote(uri):
            path = local_path(uri)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
            return
        if self.fs.exists(uri):
            self.fs.rm(uri)

    def move_tree(self, source, destination):
        """Move the files under the directory ``source`` to ``destination``,
        which must not exist yet, without reading them: a rename on HDFS
        (WebHDFS) and here, a server-side copy of each object and then its
        removal on S3. False, and nothing moved, where it cannot: HDFS
        without WebHDFS, a destination that exists."""
        if _is_s3(source):
            # the client list_status uses: the runner's endpoint and region
            client = self.s3 if self._s3_direct(source) else self.fs.s3.make_s3_client()
            source, destination = source.rstrip("/") + "/", destination.rstrip("/") + "/"
            if next(self.s3_keys(destination, client=client), None):
                return False
            bucket, key_prefix = _bucket_key(source)
            target_bucket, target_prefix = _bucket_key(destination)
            keys = list(self.s3_keys(source, client=client))
            for key in keys:
                # boto3's managed copy: one request, or a multipart copy past 8 MB
                client.copy({"Bucket": bucket, "Key": key}, target_bucket,
                            target_prefix + key[len(key_prefix):])
            for start in range(0, len(keys), 1000):
                client.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": key} for key in keys[start:start + 1000]]})
            return True
        if not is_remote(source):
            if os.path.exists(local_path(destination)):
                return False
            os.makedirs(os.path.dirname(local_path(destination)) or ".", exist_ok=True)
            os.rename(local_path(source), local_path(destination))
            return True
        if scheme_of(source) == "hdfs" and self.webhdfs is not None:
            try:
                return self.webhdfs.rename(source, destination)
            except IOError as error:
                if _webhdfs_unavailable(error):
                    return False
                raise
        return False

    # completion markers

    def mark_complete(self, directory):
        """Write ``directory/_SUCCESS``: last, after everything else in it."""
        self.write_bytes(join(directory, SUCCESS), b"")

    def is_complete(self, directory):
        return self.exists(join(directory, SUCCESS))

    # listings with versions (jeeves.pipeline.fingerprint compares them between runs)

    def list_status(self, uri):
        """[(location, size, version)] of the files at or below ``uri`` (itself
        if a file), sorted; [] when there is none. ``version`` changes when a
        file is rewritten: the modification time (local: ns, hdfs: ms), or an
        S3 object's ETag (its checksum, free with the listing)."""
        if _is_s3(uri):
            client = self.s3 if self._s3_direct(uri) else self.fs.s3.make_s3_client()
            bucket, key = _bucket_key(uri)
            found = []
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                         Prefix=key):
                for item in page.get("Contents", ()):
                    name = item["Key"]
                    under = (not key or key.endswith("/") or name == key
                             or name.startswith(key + "/"))
                    if under and not name.endswith("/"):
                        found.append(("%s://%s/%s" % (scheme_of(uri), bucket, name),
                                      item["Size"], item["ETag"]))
            return sorted(found)
        if not is_remote(uri):
            path = local_path(uri)
            if os.path.isfile(path):
                stat = os.stat(path)
                return [(path, stat.st_size, stat.st_mtime_ns)]
            found = []
            for root, _, names in os.walk(path):
                for name in names:
                    stat = os.stat(os.path.join(root, name))
                    found.append((os.path.join(root, name), stat.st_size, stat.st_mtime_ns))
            return sorted(found)
        webhdfs = self.webhdfs
        if webhdfs is not None and webhdfs.can_handle_path(uri):
            try:
                prefix, path = webhdfs._split(uri)
                found = []
                pending = list(webhdfs._matches(path))
                while pending:
                    name, status = pending.pop()
                    if status["type"] != "DIRECTORY":
                        found.append((prefix + name, status["length"],
                                      status["modificationTime"]))
                    else:
                        pending += [(posixpath.join(name, entry["pathSuffix"]), entry)
                                    for entry in webhdfs._list(name)]
                return sorted(found)
            except WebHdfsUnavailable:
                pass
        return self._hadoop_list_status(uri)

    def _hadoop_list_status(self, uri):
        """list_status through ``hadoop fs -ls -R`` (one JVM): its lines are
        ``permissions replication owner group size date time path``."""
        import re
        from subprocess import CalledProcessError

        if self._fs is None:
            self._fs = self._composite(s3=True)  # makes the Hadoop file system
        parsed = urlparse(uri)
        prefix = "%s://%s" % (parsed.scheme, parsed.netloc)
        try:
            stdout = self._hadoop.invoke_hadoop(["fs", "-ls", "-R", uri], return_stdout=True,
                                                ok_stderr=[re.compile(rb"(?s).*No such file")])
        except CalledProcessError:
            return []
        found = []
        for line in stdout.decode("utf-8", "replace").splitlines():
            fields = line.split(None, 7)
            if len(fields) < 8 or fields[0].startswith("d") or line.startswith("Found "):
                continue
            location = fields[7] if "://" in fields[7] else prefix + fields[7]
            found.append((location, int(fields[4]), fields[5] + " " + fields[6]))
        return sorted(found)
