"""Cut an uncompressed mbox into byte ranges parsed apart, same records as whole.

A message *boundary* is offset 0 or the start of a separator line, by the
rule of :func:`jeeves.features.mailformats.split_mbox` (a line starting ``From ``
that carries a weekday and a time); ``>From `` lines are never boundaries.
The range ``[start, end)`` owns the messages whose boundary lies inside it:
it reads from its first boundary at or after ``start`` up to the first
boundary at or after ``end`` (past ``end``, to finish its last message), and
hands those bytes to ``split_mbox``. Every message belongs to exactly one
range, its offset is the same as in a whole-file parse, and a range holding
no boundary yields nothing.

The file is read through ``read(offset, length) -> bytes`` (fewer bytes only
at the end of the file), so a range costs its own bytes plus one message and
the scan to the next boundary, never the whole file: local files, HDFS and
S3 supply such a function (``Storage.read_range``, scripts/storage.py).
"""

from __future__ import annotations

from jeeves.features.mailformats import MBOX_SEPARATOR, mbox_found, split_mbox

SCAN_BYTES = 1 << 20


def ranges_of(size, split_size):
    """[(start, end), ...] cutting ``size`` bytes into pieces of ``split_size``."""
    if split_size < 1:
        raise ValueError("split size must be 1 or more, not %r" % (split_size,))
    return [(start, min(start + split_size, size)) for start in range(0, size, split_size)]


def next_boundary(read, offset, size, scan_bytes=SCAN_BYTES):
    """The first message boundary at or after ``offset``, or ``size`` if none."""
    if offset <= 0:
        return 0
    if offset >= size:
        return size
    # base is one byte before the first candidate, so the pattern's ^ sees
    # whether the candidate starts a line
    base = offset - 1
    buffer = read(base, scan_bytes)
    while True:
        match = MBOX_SEPARATOR.search(buffer, 1)
        if match is not None:
            return base + match.start()
        more_at = base + len(buffer)
        more = read(more_at, scan_bytes) if more_at < size else b""
        if not more:
            return size
        # keep the last, maybe unfinished, line with the byte before it (a
        # separator there may complete in the next read); a line longer than
        # the buffer (no newline in it) grows the buffer
        keep_from = max(buffer.rfind(b"\n"), 0)
        base += keep_from
        buffer = buffer[keep_from:] + more


def messages_in_range(read, start, end, size, scan_bytes=SCAN_BYTES):
    """Yield (offset, raw message) for the messages whose boundary is in [start, end)."""
    first = next_boundary(read, start, size, scan_bytes)
    if first >= min(end, size):
        return
    stop = next_boundary(read, end, size, scan_bytes)
    data = read(first, stop - first)
    for offset, message in split_mbox(data):
        yield first + offset, message


def found_in_range(read, uri, relpath, start, end, size, several):
    """The :class:`jeeves.features.mailformats.Found` items of one range, as a
    whole-file parse gives them; ``several``: the file holds more than one
    message (:func:`holds_several_messages`, decided once for the file)."""
    return mbox_found(messages_in_range(read, start, end, size), uri, relpath, several)


def holds_several_messages(read, size, scan_bytes=SCAN_BYTES):
    """True when an mbox has a boundary after offset 0 (reads its first message)."""
    return next_boundary(read, 1, size, scan_bytes) < size
