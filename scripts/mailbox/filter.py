"""`jeeves predict - --add-header`: the message (or mbox) written back with its score.

As spam filters do, each scored message gets ``X-Jeeves-Score: 0.9731`` and
``X-Jeeves-Flag: YES`` (or ``NO``) at the top of its header block, in the
message's own line ending, replacing any such headers an earlier pass
added; every other byte is kept as it came, so procmail, maildrop or a
Sieve pipe deliver the same message. A message that could not be scored
is written back unchanged.
"""

import re

from jeeves.features.mailformats import split_mbox

SCORE_HEADER = b"X-Jeeves-Score"
FLAG_HEADER = b"X-Jeeves-Flag"
_OLD_HEADERS = re.compile(rb"^X-Jeeves-(?:Score|Flag):[^\n]*\n(?:[ \t][^\n]*\n)*",
                          re.MULTILINE | re.IGNORECASE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def segments(data):
    """[(offset, bytes)] covering ``data``: one per mbox entry, or the whole message.

    The offsets are those of jeeves.features.mailformats (an mbox entry starts at its
    From_ line), so a prediction's ``source.offset`` finds its segment.
    """
    if not data.startswith(b"From "):
        return [(0, data)]
    starts = [offset for offset, _ in split_mbox(data)] + [len(data)]
    return [(begin, data[begin:end]) for begin, end in zip(starts, starts[1:])]


def with_headers(segment, score, flagged):
    """``segment`` (a message, or an mbox entry with its From_ line) with the headers added."""
    prefix = b""
    if segment.startswith(b"From "):
        line_end = segment.find(b"\n") + 1
        prefix, segment = segment[:line_end], segment[line_end:]
    newline = b"\r\n" if re.match(rb"[^\n]*\r\n", segment) else b"\n"
    end = _HEADER_END.search(segment)
    head, rest = (segment[:end.start() + len(newline)], segment[end.start() + len(newline):]) \
        if end else (segment, b"")
    head = _OLD_HEADERS.sub(b"", head.replace(b"\r\n", b"\n"))
    if newline == b"\r\n":
        head = head.replace(b"\n", b"\r\n")
    added = b"%s: %.4f%s%s: %s%s" % (SCORE_HEADER, score, newline, FLAG_HEADER,
                                     b"YES" if flagged else b"NO", newline)
    return prefix + added + head + rest


def add_headers(data, predictions):
    """``data`` written back with each scored message's headers added.

    ``predictions`` map a message's offset in ``data`` to (score, flagged).
    """
    return b"".join(with_headers(segment, *predictions[offset]) if offset in predictions
                    else segment for offset, segment in segments(data))
