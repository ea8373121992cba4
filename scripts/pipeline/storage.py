"""The driver's checks of where the pipeline writes.

The Storage itself (counted reads and writes on local paths, ``hdfs://``
and ``s3://``) is jeeves.storage (scripts/storage.py), at the bottom of the
package so that jobs use it too.
"""

import json
import os

from jeeves.errors import StorageError
from jeeves.storage import is_remote, join, local_path


def check_output_location(storage, output):
    """Raise StorageError in one line when ``output`` cannot be written:
    a local path that is a file, or a remote location refused."""
    if not is_remote(output):
        path = local_path(output)
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


def write_summary(storage, output, summary):
    """OUTPUT/summary.json, once, after every stage's marker -> its location."""
    uri = join(output, "summary.json")
    storage.write_bytes(uri, (json.dumps(summary, indent=2, sort_keys=True) + "\n")
                        .encode("utf-8"))
    return uri


def merge_stage_summary(storage, output, stage, values):
    """Set ``stages[stage]`` in OUTPUT/summary.json, keeping the rest: what a
    single-stage command (`jeeves parse`, `jeeves graph`) leaves."""
    uri = join(output, "summary.json")
    summary = json.loads(storage.read_bytes(uri)) if storage.exists(uri) else {}
    summary.setdefault("stages", {})[stage] = values
    return write_summary(storage, output, summary)
