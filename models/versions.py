"""Versioned model directories: deploy a new bundle without disturbing its readers.

A model DIR holds versions, each a complete bundle (models/bundle.py) plus
its ``metrics.json``, and a file ``CURRENT`` naming the newest deployed one::

    DIR/
      v000001/      a bundle (estimator.skops, ..., metadata.json) + metrics.json
      v000002/      (a version may also hold online/, jeeves.models.online)
      CURRENT       "v000002\\n", replaced atomically (temporary file + os.replace)

A DIR that is itself a plain bundle (no CURRENT, a bundle's metadata.json),
as `jeeves run` writes OUT/model, is "version 0": every command that takes
``--model DIR`` keeps working with it.

- ``resolve(DIR)``: the directory of the newest deployed version (DIR itself
  for a plain bundle); BundleError when it is neither, or when CURRENT names
  anything but a ``vNNNNNN`` directory inside DIR (no ``..``, no symlink out).
- ``version_id(DIR)``: a cheap token that changes when a version is deployed
  (CURRENT's content; for a plain bundle its metadata.json's inode and
  mtime, which `jeeves run` replaces), for watchers to poll.
- ``deploy(DIR, write, metrics)``: the next version, built in
  ``DIR/vNNNNNN.tmp-XXXX`` by ``write(tmp_dir)``, then metrics.json, then
  renamed to ``vNNNNNN``, then CURRENT replaced. A crash at any point leaves
  the previous version current; before the rename nothing looks finished
  (a ``.tmp-`` name is never resolved), after it the new directory is
  complete but only CURRENT deploys it. Concurrent deployers take turns on
  ``DIR/.deploy.lock`` (fcntl), so two never pick the same number.
"""

import contextlib
import json
import os
import re
import shutil
import tempfile

from jeeves.files import write_atomically
from jeeves.models.bundle import METADATA_FILE, BundleError

CURRENT_FILE = "CURRENT"
METRICS_FILE = "metrics.json"
LOCK_FILE = ".deploy.lock"
VERSION_NAME = re.compile(r"^v(\d{6})$")
TMP_MARK = ".tmp-"


def version_name(number):
    """``v000001`` for 1."""
    return "v%06d" % number


def _read_current(model_dir):
    """The name CURRENT holds (stripped), or None when there is no CURRENT."""
    try:
        with open(os.path.join(model_dir, CURRENT_FILE), encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise BundleError("cannot read %s: %s" % (os.path.join(model_dir, CURRENT_FILE),
                                                   error)) from None


def version_path(model_dir, name):
    """DIR/name for a version name, checked: a ``vNNNNNN`` directory that really lies
    in DIR (not through a symlink elsewhere); BundleError otherwise."""
    model_dir = os.fspath(model_dir)
    if not isinstance(name, str) or not VERSION_NAME.match(name):
        raise BundleError("%r is no model version name (vNNNNNN) in %s" % (name, model_dir))
    path = os.path.join(model_dir, name)
    if os.path.dirname(os.path.realpath(path)) != os.path.realpath(model_dir):
        raise BundleError("model version %s lies outside %s" % (name, model_dir))
    if not os.path.isdir(path):
        raise BundleError("model version %s not found in %s" % (name, model_dir))
    return path


def resolve(model_dir):
    """The directory of the newest deployed version in ``model_dir`` (``model_dir``
    itself for a plain bundle); BundleError when it is neither."""
    model_dir = os.fspath(model_dir)
    name = _read_current(model_dir)
    if name is not None:
        return version_path(model_dir, name)
    if os.path.isfile(os.path.join(model_dir, METADATA_FILE)):
        return model_dir
    if not os.path.isdir(model_dir):
        raise BundleError("no model bundle at %s (not a directory)" % model_dir)
    raise BundleError("no model bundle at %s: neither a bundle (%s) nor versions (%s)"
                      % (model_dir, METADATA_FILE, CURRENT_FILE))


def version_id(model_dir):
    """A token that changes when a new version is deployed in ``model_dir`` (cheap:
    one small read or one stat); BundleError when there is no model there."""
    model_dir = os.fspath(model_dir)
    name = _read_current(model_dir)
    if name is not None:
        return name
    try:
        stat = os.stat(os.path.join(model_dir, METADATA_FILE))
    except OSError:
        resolve(model_dir)  # raises the reason
        raise
    return "bundle:%d:%d" % (stat.st_ino, stat.st_mtime_ns)


def versions(model_dir):
    """The finished version names in ``model_dir``, oldest first (deployed or not)."""
    try:
        names = os.listdir(model_dir)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if VERSION_NAME.match(name))


def _next_number(model_dir):
    numbers = [int(VERSION_NAME.match(name).group(1)) for name in versions(model_dir)]
    current = _read_current(model_dir)
    if current and VERSION_NAME.match(current):
        numbers.append(int(current[1:]))
    return max(numbers, default=0) + 1


@contextlib.contextmanager
def _deploy_lock(model_dir):
    import fcntl

    with open(os.path.join(model_dir, LOCK_FILE), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_directory(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def deploy(model_dir, write, metrics):
    """Deploy a new version in ``model_dir``: ``write(tmp_dir)`` writes a bundle into
    a new temporary version directory, ``metrics`` (JSON-ready) goes to its
    metrics.json, the directory is renamed to the next ``vNNNNNN`` and CURRENT
    replaced -> the new version's path. Any error removes the temporary directory
    and leaves CURRENT as it was."""
    model_dir = os.path.abspath(os.fspath(model_dir))
    os.makedirs(model_dir, exist_ok=True)
    with _deploy_lock(model_dir):
        name = version_name(_next_number(model_dir))
        staging = tempfile.mkdtemp(prefix=name + TMP_MARK, dir=model_dir)
        try:
            os.chmod(staging, 0o777 & ~_umask())
            write(staging)
            if not os.path.isdir(staging):
                raise BundleError("the new version's writer removed %s" % staging)
            write_atomically(os.path.join(staging, METRICS_FILE),
                             (json.dumps(metrics, indent=2, sort_keys=True) + "\n")
                             .encode("utf-8"))
            _fsync_directory(staging)
            final = os.path.join(model_dir, name)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_directory(model_dir)
        write_atomically(os.path.join(model_dir, CURRENT_FILE), (name + "\n").encode("ascii"))
        _fsync_directory(model_dir)
    return final


def version_label(model_dir, path):
    """The name of the version in ``path`` (``resolve(model_dir)``): ``vNNNNNN``, or
    ``v000000`` for a plain bundle (version 0)."""
    name = os.path.basename(os.path.normpath(path))
    if os.path.normpath(path) != os.path.normpath(model_dir) and VERSION_NAME.match(name):
        return name
    return version_name(0)


def read_metrics(version_dir):
    """The metrics.json of a version -> dict ({} for a plain bundle without one)."""
    try:
        with open(os.path.join(version_dir, METRICS_FILE), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise BundleError("cannot read %s: %s" % (os.path.join(version_dir, METRICS_FILE),
                                                   error)) from None
