"""The tasks' code zips, kept between runs in the user's cache directory.

Two uses share it. Hadoop's and EMR's tasks get zips deflated (the
``code``, ``mrjob`` and ``kernel`` kinds, below); the local runner's tasks,
which run the driver's own Python, get the code's and mrjob's zips stored
and with each module's bytecode for that Python (``local-code`` and
``local-mrjob``: jeeves.taskcode), so that a warm run neither builds them
nor compiles their ~240 modules (about 0.4 s of the driver's start when
they are built, 0.01 s when they are found; 0.07 s when only each
module's bytecode was kept).

On Hadoop the driver gives every job the code zips (jeeves.taskcode: the
``jeeves`` package with the lemma tables, mrjob's package, the native
kernel's archive) as HDFS URIs named by the sha256 of each zip's bytes
(jeeves.pipeline.engine). Building the three zips only to learn those
names cost every run about 8 MB of reads and writes (the sources, the 2 MB
lemma tables, each zip written and read back to hash it), though the zips
were on HDFS already (docs/perf-results.md, "Driver bytes, round three").

So :func:`shipped_zips` keeps each zip and its sha256 in
``user_cache_directory()/code`` (``$JEEVES_CODE_CACHE`` to choose another
directory), under a key that is a fingerprint of what the zip is made
from, read from the file system's metadata only (no file is read):

- the path, size, modification and change times (nanoseconds) and inode of
  every file the zip is built from: the package's modules
  (``codezips.package_files``), mrjob's files, the kernel's ``__init__.py``
  and shared library, and for every kind jeeves/codezips.py and this
  module, so a change to how the zips are made is a change too;
- for the lemma tables, the same of every file ``load_lemma_tables`` may
  read them from (the user's cache file, and in each ``NLTK_DATA``
  directory WordNet's four source files and the cache beside them), and
  where nltk is installed;
- the cache's format, the kind of zip, how it is written (deflated or
  stored; with bytecode or not) and this Python (its version, bytecode
  magic number and cache tag), which any bytecode in the zip is for.

Any edit, copy, checkout or reinstall of a source file changes its change
time (which no program can set back), so a changed source gives a new key
and a new zip, named on HDFS by its own bytes. The engine asks once per
process (:func:`process_zips`), so every job of a run gets the same code.
A zip is kept only when the fingerprint taken after building it equals the
one taken before (nothing changed while it was built); an entry is written
under a temporary name and renamed into place, so concurrent runs never
see half of one. The 16 entries used last are kept, older ones removed: a
hit touches its entry (and the local runner touches its two at every
job), so one that a concurrent run is using is among the newest.

A first run on a machine (a cold cache) builds, hashes and keeps the zips;
the runs after it (a warm cache) find the zips' names in three small files.
Where the cache directory cannot be written the zips are built in a
temporary directory every run (and the cluster's hashed), as before. A
build or write that fails leaves nothing behind: an entry is made in a
``.building-*`` folder that is removed on failure (and, after a day, when
the run that made it died).
"""

import atexit
import functools
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile

from jeeves import codezips

CACHE_FORMAT = 1
# entries kept (each one zip, 1-5 MB)
KEPT_ENTRIES = 16
DIGEST_SUFFIX = ".sha256"
# the zips that are shipped to a cluster's tasks, in the order of shipped_zips
KINDS = ("code", "mrjob", "kernel")
# the local runner's zips (jeeves.taskcode.task_code_args)
LOCAL_KINDS = ("local-code", "local-mrjob")
# how each kind is written: (compressed, with bytecode for this Python)
FORMATS = {"code": (True, False), "mrjob": (True, False), "kernel": (True, False),
           "local-code": (False, True), "local-mrjob": (False, True)}


def cache_directory(environ=None):
    """``$JEEVES_CODE_CACHE``, else ``user_cache_directory()/code``."""
    from jeeves.features.wordnet import user_cache_directory

    environ = os.environ if environ is None else environ
    return environ.get("JEEVES_CODE_CACHE") or os.path.join(user_cache_directory(environ),
                                                            "code")


def _stat(path):
    """[path, size, mtime ns, ctime ns, inode] of a file, or [path] when it is absent."""
    try:
        found = os.stat(path)
    except OSError:
        return [path]
    return [path, found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino]


def lemma_table_files(environ=None):
    """The files ``load_lemma_tables`` may read the tables from (present or
    not): the user's cache file; in each ``NLTK_DATA`` directory, WordNet's
    source files and the cache beside them; and nltk's own ``__init__.py``
    (it builds them when no cache matches)."""
    from jeeves.features import wordnet

    environ = os.environ if environ is None else environ
    files = [os.path.join(wordnet.user_cache_directory(environ), wordnet.CACHE_NAME)]
    for root in environ.get("NLTK_DATA", "").split(os.pathsep):
        if root:
            directory = os.path.join(root, "corpora", "wordnet")
            files += [os.path.join(directory, name)
                      for name in wordnet.SOURCE_FILES + (wordnet.CACHE_NAME,)]
    try:
        spec = importlib.util.find_spec("nltk")
    except (ImportError, ValueError):
        spec = None
    files.append(spec.origin if spec is not None and spec.origin else "(no nltk)")
    return files


def mrjob_source_files():
    """Every file of the installed mrjob package (its ``__pycache__`` left
    out): what its zip (codezips.write_mrjob_zip) is made from, and a few more."""
    import mrjob

    root = os.path.dirname(os.path.abspath(mrjob.__file__))
    files = []
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        files += [os.path.join(folder, name) for name in sorted(names)]
    return files


def source_files(kind):
    """The files the ``kind`` zip (KINDS, LOCAL_KINDS) is built from; None
    for ``kernel`` when there is no kernel to ship (codezips.kernel_files)."""
    if kind in ("code", "local-code"):
        return [path for _, path in codezips.package_files()] + lemma_table_files()
    # the code zip's sources include the modules that make the zips; the
    # others get them too, so a change to how a zip is made (its bytecode,
    # say) is a new key
    makers = [os.path.abspath(codezips.__file__), os.path.abspath(__file__)]
    if kind in ("mrjob", "local-mrjob"):
        return mrjob_source_files() + makers
    if kind == "kernel":
        files = [path for _, path in codezips.kernel_files()]
        return files + makers if files else None
    raise ValueError("unknown zip %r" % kind)


def fingerprint(kind, files):
    """The key of the ``kind`` zip made from ``files`` (module docstring)."""
    compressed, bytecode = FORMATS[kind]
    described = {"format": CACHE_FORMAT, "kind": kind, "python": sys.version,
                 "magic": importlib.util.MAGIC_NUMBER.hex(),
                 "cache_tag": sys.implementation.cache_tag,
                 "compression": "deflated" if compressed else "stored", "bytecode": bytecode,
                 "files": [_stat(path) for path in files]}
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode("utf-8")).hexdigest()


# the local runner's tasks see the same names (a module's __file__ in them)
ZIP_NAMES = {"code": "jeeves.zip", "mrjob": "mrjob.zip", "kernel": "jeeves-kernel.zip",
             "local-code": "jeeves.zip", "local-mrjob": "mrjob.zip"}


def build(kind, path):
    """Write the ``kind`` zip to ``path``, as shipped to a cluster's tasks
    (compressed) or, for LOCAL_KINDS, to the local runner's (stored, with
    bytecode: FORMATS); its (sha256, size). Made in memory and hashed there,
    so the file is written once and not read back."""
    compressed, bytecode = FORMATS[kind]
    buffer = io.BytesIO()
    if kind in ("code", "local-code"):
        from jeeves.features.wordnet import load_lemma_tables

        codezips.write_code_zip(buffer, load_lemma_tables(),
                                zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED,
                                bytecode=bytecode)
    elif kind in ("mrjob", "local-mrjob"):
        codezips.write_mrjob_zip(buffer, compressed)
    elif codezips.write_kernel_zip(buffer) is None:
        raise ValueError("no kernel to ship")
    data = buffer.getvalue()
    with open(path, "wb") as handle:
        handle.write(data)
    return hashlib.sha256(data).hexdigest(), len(data)


def file_digest(path):
    """(sha256 hex digest, size) of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _entry(directory, kind, key):
    return os.path.join(directory, "%s-%s" % (kind, key[:40]))


def _entry_kind(name):
    """The kind of the entry folder ``name`` (kind-KEY, the key hexadecimal),
    or None for a name that is not an entry's."""
    kind = name.rsplit("-", 1)[0]
    return kind if kind in FORMATS and name != kind else None


def lookup(directory, kind, key):
    """(zip path, sha256) of the entry ``key``, or None when it is not
    there whole (its zip of the size recorded beside its digest)."""
    entry = _entry(directory, kind, key)
    path = os.path.join(entry, ZIP_NAMES[kind])
    try:
        with open(path + DIGEST_SUFFIX, encoding="ascii") as handle:
            digest, size = handle.read().split()
        if os.path.getsize(path) != int(size) or len(digest) != 64:
            return None
        os.utime(entry)  # used last: kept longest (prune)
    except (OSError, ValueError):
        return None
    return path, digest


def prune(directory, kept=KEPT_ENTRIES):
    """Remove all but the ``kept`` entries used last (and the building
    directories of runs that died, after a day)."""
    import time

    try:
        names = os.listdir(directory)
    except OSError:
        return
    entries = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            used = os.stat(path).st_mtime
        except OSError:
            continue
        if name.startswith(".building-"):
            if used < time.time() - 86400:
                shutil.rmtree(path, ignore_errors=True)
        elif _entry_kind(name) is not None:
            entries.append((used, path))
    for _, path in sorted(entries, reverse=True)[kept:]:
        shutil.rmtree(path, ignore_errors=True)


def cached_zip(kind, directory=None):
    """(path, sha256) of the ``kind`` zip (KINDS, LOCAL_KINDS), from the cache or built
    into it (module docstring); None for ``kernel`` when there is none to
    ship. Raises OSError when the cache directory cannot be written."""
    directory = cache_directory() if directory is None else directory
    files = source_files(kind)
    if files is None:
        return None
    key = fingerprint(kind, files)
    found = lookup(directory, kind, key)
    if found is not None:
        return found
    os.makedirs(directory, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".building-", dir=directory)
    try:
        path = os.path.join(scratch, ZIP_NAMES[kind])
        digest, size = build(kind, path)
        if fingerprint(kind, source_files(kind)) != key:
            # a source changed while the zip was built (or the lemma tables
            # were provisioned by it): not kept, the next run builds it again
            import atexit

            atexit.register(shutil.rmtree, scratch, True)
            scratch = None
            return path, digest
        with open(path + DIGEST_SUFFIX, "w", encoding="ascii") as handle:
            handle.write("%s %d\n" % (digest, size))
        try:
            os.rename(scratch, _entry(directory, kind, key))
        except OSError:  # there already, stored by another run: the same sources
            found = lookup(directory, kind, key)
            if found is None:
                raise
            return found
        scratch = None
        return os.path.join(_entry(directory, kind, key), ZIP_NAMES[kind]), digest
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        prune(directory)


@functools.lru_cache(maxsize=None)
def process_zips():
    """:func:`shipped_zips` once per process: every job of a run gets the
    same code, even if a source changes while it runs (the engines of its
    stages ask one after the other)."""
    return shipped_zips()


def shipped_zips(directory=None):
    """[(path, sha256) of the code zip, of mrjob's zip, of the kernel's or
    None]: the zips a cluster's tasks get (module docstring), from the cache;
    where it cannot be written, zips built for the process (:func:`process_built`)."""
    try:
        return [cached_zip(kind, directory) for kind in KINDS]
    except OSError:
        return [process_built(kind) for kind in KINDS]


def built_here(kind):
    """(path, sha256) of the ``kind`` zip built now in a temporary directory
    of this process (removed when it exits), outside the cache; None for
    ``kernel`` when there is no kernel to ship. jeeves.taskcode's zips of the
    process are these, where the cache is not used or cannot be written."""
    if source_files(kind) is None:
        return None
    directory = tempfile.mkdtemp(prefix="jeeves-code-")
    atexit.register(shutil.rmtree, directory, True)
    path = os.path.join(directory, ZIP_NAMES[kind])
    return path, build(kind, path)[0]


@functools.lru_cache(maxsize=None)
def process_built(kind):
    """:func:`built_here` once per process, for where the cache cannot be
    written."""
    return built_here(kind)
