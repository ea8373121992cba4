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

_HISTORY_MARKERS = re.compile(
    r"^[ \t]*(?:"
    r"-{2,}[ \t]*(?:Original Message|Forwarded by|Forwarded message|Forward(?:ed)? Message)"
    r"|Begin forwarded message:"
    r"|On [^\n]{1,200}?\bwrote:[ \t]*$"
    r"|On [^\n]{1,200}\n[^\n]{0,200}?\bwrote:[ \t]*$"
    r"|From:[^\n]*\n[ \t]*(?:Sent|Date):"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_SIGNATURE_DELIMITER = re.compile(r"^-- ?$", re.MULTILINE)
_SIGNATURE_MAX_LINES = 15


def _split_history(text):
    match = _HISTORY_MARKERS.search(text)
    if match is None:
        return text, ""
    start = text.rfind("\n", 0, match.start()) + 1
    return text[:start], text[start:]


def _split_inline_quotes(text):
    if ">" not in text:
        return text, ""
    kept, quoted = [], []
    for line in text.split("\n"):
        (quoted if line.lstrip().startswith(">") else kept).append(line)
    return "\n".join(kept), "\n".join(quoted)


def _split_signature(text):
    matches = list(_SIGNATURE_DELIMITER.finditer(text))
    if not matches:
        return text, None
    match = matches[-1]
    signature = text[match.end():].strip("\n")
    if not signature.strip() or signature.count("\n") >= _SIGNATURE_MAX_LINES:
        return text, None
    return text[:match.start()], signature


def split_reply(text):
    """``text`` -> (new text, quoted history, signature or None), all stripped."""
    new, history = _split_history(text)
    new, inline_quotes = _split_inline_quotes(new)
    new, signature = _split_signature(new)
    quoted = "\n".join(part.strip("\n") for part in (inline_quotes, history) if part.strip())
    return new.strip(), quoted, signature.strip() if signature else None
