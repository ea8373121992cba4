"""Read byte ranges of input files where they lie: local disk, HDFS, S3.

Task side (the parse job reads its work items' ranges) and driver side (the
input plan lists remote directories and reads files' first bytes). A range
is fetched alone, never the whole file:

- a local path (or ``file://`` URI): open, seek, read;
- ``s3://bucket/key``: boto3 ``get_object`` with a ``Range`` header; boto3
  takes credentials and ``AWS_ENDPOINT_URL`` from the environment, as on EMR
  nodes (instance profile) and against a test server;
- ``hdfs://[host:port]/path``: WebHDFS, ``op=OPEN&offset=&length=`` over HTTP
  to the NameNode, which redirects to a DataNode. The NameNode's HTTP
  address (``dfs.namenode.http-address``) is passed in as ``webhdfs_url``
  (``http://host:port``): the driver reads it from the Hadoop client
  configuration (:func:`webhdfs_url_from_conf`).
"""

from __future__ import annotations

import functools
import json
import os
import xml.etree.ElementTree as ElementTree
from urllib.parse import quote, unquote, urlencode, urlparse
from urllib.request import urlopen

HTTP_TIMEOUT_SECONDS = 300


def scheme_of(location):
    return location.split("://", 1)[0].lower() if "://" in location else ""


def local_path(location):
    if scheme_of(location) == "file":
        return unquote(urlparse(location).path)
    return location


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


class S3File:
    def __init__(self, uri, client=None):
        parsed = urlparse(uri)
        self.bucket, self.key = parsed.netloc, parsed.path.lstrip("/")
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


class WebHdfsFile:
    def __init__(self, uri, webhdfs_url):
        if not webhdfs_url:
            raise ValueError("reading %s needs the NameNode's WebHDFS address "
                             "(--webhdfs-url http://host:port)" % uri)
        self.uri = uri
        self.url = webhdfs_url.rstrip("/") + "/webhdfs/v1" + quote(urlparse(uri).path or "/")

    def _get(self, **params):
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


@functools.lru_cache(maxsize=None)
def s3_client():
    """One boto3 client per process (making one costs more than a ranged read)."""
    import boto3  # task side only when an input is on S3

    return boto3.client("s3")


def open_ranged(location, webhdfs_url=None):
    """An object with size(), read(offset, length) and read_all() for ``location``."""
    scheme = scheme_of(location)
    if scheme in ("s3", "s3a", "s3n"):
        return S3File(location)
    if scheme == "hdfs":
        return WebHdfsFile(location, webhdfs_url)
    if scheme in ("", "file"):
        return LocalFile(local_path(location))
    raise ValueError("cannot read %s: not a local path, hdfs:// or s3:// URI" % location)


def list_s3_files(uri, client=None):
    """[(s3 URI, size)] of the objects under an s3:// prefix (or the object itself), sorted."""
    client = client or s3_client()
    parsed = urlparse(uri)
    bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
    files = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            is_under = key == prefix or not prefix or prefix.endswith("/") or \
                key.startswith(prefix + "/")
            if is_under and not key.endswith("/"):
                files.append(("s3://%s/%s" % (bucket, key), item["Size"]))
    return sorted(files)


def webhdfs_url_from_conf(hdfs_uri=None, conf_dir=None):
    """``http://host:port`` of the NameNode's WebHDFS, from the Hadoop client
    configuration (``$HADOOP_CONF_DIR``, else ``$HADOOP_HOME/etc/hadoop``),
    or None when there is none. A wildcard bind host (``0.0.0.0``) is
    replaced by the host of ``hdfs_uri`` or of ``fs.defaultFS``."""
    if conf_dir is None:
        conf_dir = os.environ.get("HADOOP_CONF_DIR") or (
            os.path.join(os.environ["HADOOP_HOME"], "etc", "hadoop")
            if os.environ.get("HADOOP_HOME") else None)
    if not conf_dir:
        return None
    settings = {}
    for name in ("core-site.xml", "hdfs-site.xml"):
        path = os.path.join(conf_dir, name)
        if not os.path.exists(path):
            continue
        for prop in ElementTree.parse(path).getroot().iter("property"):
            settings[prop.findtext("name")] = (prop.findtext("value") or "").strip()
    address = settings.get("dfs.namenode.http-address")
    if not address:
        return None
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0"):
        named = urlparse(hdfs_uri or "").hostname or urlparse(
            settings.get("fs.defaultFS", "")).hostname
        host = named or "localhost"
    return "http://%s:%s" % (host, port)

