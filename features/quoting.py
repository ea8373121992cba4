"""Split a message body into new text, quoted history and signature.

History starts at the first marker of a reply or forward:
``-----Original Message-----``, ``----- Forwarded by ... -----`` (Lotus Notes,
as in Enron), ``---------- Forwarded message ----------``, ``Begin forwarded
message:``, an ``On <date>, <person> wrote:`` line (possibly wrapped over two
lines), or an Outlook header block (``From:`` followed by ``Sent:``/``Date:``).
Everything from the marker on is quoted; ``>`` lines before it (inline
replies) are quoted too. A signature is what follows a ``-- `` line near the
end of the new text.
"""

from __future__ import annotations

import re

# a history marker: what follows a line start (``^`` in MULTILINE mode)
_MARKER = (
    r"[ \t]*(?:"
    r"-{2,}[ \t]*(?:Original Message|Forwarded by|Forwarded message|Forward(?:ed)? Message)"
    r"|Begin forwarded message:"
    r"|On [^\n]{1,200}?\bwrote:[ \t]*$"
    r"|On [^\n]{1,200}\n[^\n]{0,200}?\bwrote:[ \t]*$"
    r"|From:[^\n]*\n[ \t]*(?:Sent|Date):"
    r")"
)
# The first marker, as ``re.search("^" + _MARKER, text)`` finds it: at the
# text's start, else after the first newline that one follows. A pattern
# that starts with a newline is searched for that character first (the
# engine's literal prefix), where one that starts with ``^`` is tried at
# every position of the text: 0.19 s against 0.08 s on the bodies of the
# 64 MB benchmark prefix of Enron (25,232 messages).
_MARKER_AT_START = re.compile(_MARKER, re.IGNORECASE | re.MULTILINE)
_MARKER_AFTER_NEWLINE = re.compile("\n" + _MARKER, re.IGNORECASE | re.MULTILINE)
_SIGNATURE_MAX_LINES = 15


def _history_start(text):
    """Where the first history marker's line starts in ``text``, or None."""
    if _MARKER_AT_START.match(text):
        return 0
    match = _MARKER_AFTER_NEWLINE.search(text)
    return None if match is None else match.start() + 1


def _split_history(text):
    start = _history_start(text)
    if start is None:
        return text, ""
    return text[:start], text[start:]


def _split_inline_quotes(text):
    if ">" not in text:
        return text, ""
    kept, quoted = [], []
    for line in text.split("\n"):
        (quoted if line.lstrip().startswith(">") else kept).append(line)
    return "\n".join(kept), "\n".join(quoted)


def _last_delimiter(text):
    """(start, end) of the last ``-- `` or ``--`` line of ``text``, as the last
    match of ``^-- ?$`` (MULTILINE) spans, or None: found from the end among
    the lines that start with ``--``, without a regular expression trying
    every position of the text."""
    end = len(text)
    while True:
        newline = text.rfind("\n--", 0, end)
        at = newline + 1 if newline >= 0 else (0 if text.startswith("--") else -1)
        if at < 0:
            return None
        stop = at + 2
        if text.startswith(" ", stop):
            stop += 1
        if stop == len(text) or text[stop] == "\n":
            return at, stop
        if newline < 0:
            return None
        # no "\n--" before this one ends past its newline
        end = newline


def _split_signature(text):
    found = _last_delimiter(text)
    if found is None:
        return text, None
    start, end = found
    signature = text[end:].strip("\n")
    if not signature.strip() or signature.count("\n") >= _SIGNATURE_MAX_LINES:
        return text, None
    return text[:start], signature


def split_reply(text):
    """``text`` -> (new text, quoted history, signature or None), all stripped."""
    new, history = _split_history(text)
    new, inline_quotes = _split_inline_quotes(new)
    new, signature = _split_signature(new)
    quoted = "\n".join(part.strip("\n") for part in (inline_quotes, history) if part.strip())
    return new.strip(), quoted, signature.strip() if signature else None
