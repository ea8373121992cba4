"""Text that encodes to UTF-8, whatever the mail or the record file held.

Python strings can hold lone surrogates (U+D800-U+DFFF): ``surrogateescape``
leaves them for undecodable bytes (the email package does so in headers and
in RFC 2047 words of a wrong charset), codecs such as ``unicode-escape``
produce them, and JSON escapes (``"\\ud800"``) decode to them. They cannot
be encoded to UTF-8, so one of them in a record kills the job that writes it.
These functions replace them (U+FFFD) and join valid pairs; the callers count
what they replaced (warning or counter ``surrogates_replaced``).
"""

from __future__ import annotations

import re

try:
    import ujson as _fast_json
except ImportError:  # pragma: no cover - ujson is a dependency
    _fast_json = None

SURROGATES_REPLACED = "surrogates_replaced"

# A JSON \u escape of a surrogate, with the even run of backslashes before it
# (escaped backslashes, so the \u is a real escape); a high one followed by a
# low one is a valid pair (an astral character) and is kept.
_SURROGATE_ESCAPE = re.compile(
    r"(?<!\\)((?:\\\\)*)(\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    r"|\\u[dD][c-fC-F][0-9a-fA-F]{2})")
_REPLACEMENT_ESCAPE = "\\ufffd"
# The test that a line may hold one: a regular expression, because a
# substring search for a needle starting with a backslash is slow on JSON
# (ujson escapes every "/" and newline), about a fifth of the line's
# json.loads; this costs about one percent.
_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_HINT_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def valid_text(text):
    """``text`` itself when it encodes to UTF-8, else a copy in which surrogate
    pairs are joined and lone surrogates replaced by U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def valid_strings(value):
    """(value, replaced): ``value`` (a JSON-like tree of dicts, lists, tuples
    and scalars) with every string, keys included, made valid by
    :func:`valid_text`; ``replaced`` is true when one was not. Unchanged
    containers are returned as they are (no copy)."""
    if _fast_json is not None:
        # nearly every record is valid: one encoding in C proves it (a lone
        # surrogate, or a pair of them, does not encode to UTF-8) where the
        # walk below costs a Python call per string
        try:
            _fast_json.dumps(value, ensure_ascii=False).encode("utf-8")
            return value, False
        except (UnicodeEncodeError, TypeError, ValueError, OverflowError):
            pass
    return _valid_strings_walk(value)


def valid_strings_encoded(value):
    """(value, replaced, line): :func:`valid_strings`, and the value's JSON as
    mrjob's ujson protocols write it (``ujson.dumps(value)``, ASCII, as
    UTF-8 bytes), or None for ``line`` when ujson is absent. The encoding
    that proves the value valid is that JSON when it is all ASCII (the two
    differ only in how they write other characters), so most records are
    encoded once, not twice."""
    if _fast_json is None:  # pragma: no cover - ujson is a dependency
        return valid_strings(value) + (None,)
    try:
        text = _fast_json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, OverflowError):
        text = None
    if text is not None:
        if text.isascii():
            return value, False, text.encode("ascii")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return value, False, _fast_json.dumps(value).encode("utf-8")
    value, replaced = _valid_strings_walk(value)
    return value, replaced, _fast_json.dumps(value).encode("utf-8")


def _valid_strings_walk(value):
    if isinstance(value, str):
        repaired = valid_text(value)
        return repaired, repaired is not value
    if isinstance(value, dict):
        changed = False
        items = []
        for key, item in value.items():
            key, key_changed = _valid_strings_walk(key)
            item, item_changed = _valid_strings_walk(item)
            changed = changed or key_changed or item_changed
            items.append((key, item))
        return (dict(items), True) if changed else (value, False)
    if isinstance(value, (list, tuple)):
        repaired = [_valid_strings_walk(item) for item in value]
        if any(changed for _, changed in repaired):
            return type(value)(item for item, _ in repaired), True
        return value, False
    return value, False


def _repair_escape(match):
    escape = match.group(2)
    kept = escape if len(escape) == 12 else _REPLACEMENT_ESCAPE
    return match.group(1) + kept


def valid_json_text(line):
    """(line, replaced): a line of JSON text whose ``\\uXXXX`` escapes of lone
    surrogates are replaced by ``\\ufffd`` (pairs kept), so that it decodes to
    valid text. Lines without such an escape cost one regular expression search."""
    if _SURROGATE_HINT.search(line) is None:
        return line, False
    repaired = _SURROGATE_ESCAPE.sub(_repair_escape, line)
    return repaired, repaired != line


def valid_json_bytes(line):
    """(line, replaced): :func:`valid_json_text` for a line of bytes, whose
    invalid UTF-8 (surrogates encoded as bytes included, which Python's JSON
    decoder would otherwise let through) is replaced as well."""
    replaced = False
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            line = line.decode("utf-8", "replace").encode("utf-8")
            replaced = True
    if _SURROGATE_HINT_BYTES.search(line) is None:
        return line, replaced
    text, escapes_replaced = valid_json_text(line.decode("utf-8"))
    return text.encode("utf-8"), replaced or escapes_replaced
