"""Local files replaced whole: the one temp-then-rename helper of the package.

At the bottom with jeeves.errors: every layer may import it (the WordNet
cache, the stages' outputs, model bundles, the mailbox state). A reader sees
the old file or directory or the new one, never half of one, and a failed
write leaves nothing behind: the temporary name is unique (two writers never
share it) and lies in the target's own directory (the rename stays on one
file system).
"""

import contextlib
import os
import shutil
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path, data):
    """Replace the local file ``path`` with ``data`` (bytes) in one rename.

    The file gets the mode a plain ``open(path, "wb")`` would give it."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
            output.flush()
            os.fsync(output.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def replaced_directory(final):
    """Yield a new empty directory beside ``final``; when the block ends
    without an error it replaces ``final`` (removed first if present), else
    it is removed."""
    final = os.path.abspath(os.fspath(final))
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tmp-%s-" % os.path.basename(final), dir=parent)
    try:
        # the mode os.makedirs would give it (mkdtemp's is 0700)
        os.chmod(staging, 0o777 & ~_umask())
        yield staging
        if os.path.lexists(final):
            shutil.rmtree(final)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
