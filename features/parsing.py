"""One raw message -> one clean record (schema in docs/records.md).

Speed: the stdlib parser with ``policy.compat32`` (about 8x faster than
``policy.default`` on Enron mail) and the decoding done here, with the stdlib
helpers: ``email.header.decode_header``/``make_header`` for RFC 2047 words,
``email.utils.getaddresses`` for address lists, ``parsedate_to_datetime`` for
dates, html.parser for HTML. Nothing here raises on bad input: every oddity
becomes a warning name (counted by the job) and a best-effort value. Every
string of a record encodes to UTF-8: what the decoders leave that does not
(lone surrogates) is replaced, with the warning ``surrogates_replaced``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from datetime import timezone
from email import message_from_bytes, policy
from email.errors import HeaderParseError, MessageError
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache

from jeeves.features.htmltext import html_to_text
from jeeves.features.quoting import split_reply
from jeeves.features.validtext import (
    SURROGATES_REPLACED,
    valid_strings,
    valid_strings_encoded,
)
from jeeves.settings import Setting

SCHEMA_VERSION = 1
DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# the parse settings, declared once (jeeves.settings): the parse job's
# arguments, `jeeves parse`/`run`'s options and the parse stage's checks
MAX_MESSAGE_BYTES = Setting(
    "--max-message-bytes", DEFAULT_MAX_MESSAGE_BYTES, int, minimum=1,
    help="messages larger than this are cut to it and flagged truncated (default: %(default)s)")
DEDUPE_BY = Setting(
    "--dedupe-by", "message_id", choices=("message_id", "content"),
    help="records with equal keys collapse to one: message_id, or content (sender, date, "
         "subject, recipients, text, attachments) for corpora such as Enron whose copies in "
         "several folders carry different Message-IDs (default: %(default)s)")
HEAD_BYTES = 200

_FALLBACK_CHARSETS = ("utf-8",)
_LAST_RESORT_CHARSET = "cp1252"
_ANGLE_IDS = re.compile(r"<([^<>]*)>")
_FOLDING_WHITESPACE = re.compile(r"\s+")
_LINE_ENDS = re.compile(r"\r\n?")
_TEXT_TYPES = ("text/plain", "text/html")
_ADDRESS_MEMO_SIZE = 1 << 16
_UNIQUE_ADDRESSES_MEMO_SIZE = 1 << 14
_DATE_MEMO_SIZE = 1 << 14
_CONTENT_TYPE_MEMO_SIZE = 1 << 12
# A header value that is only simple entries separated by commas, each a
# bare address or a phrase of atoms then an address in angle brackets (no
# quotes, comments, dots in the name, routes or groups): getaddresses returns
# ("", address) or (the phrase's atoms joined by one space, address) for
# each, so a split gives the same pairs far faster. The local part may be
# any run of atext and dots (Enron's "m..king@", "<.andy@", "/o=enron/...@"),
# the domain dot-separated labels; around them only the folding whitespace
# getaddresses skips (not every \s); a final comma only with whitespace after
# it (getaddresses then adds ("", ""); a comma that ends the value counts
# differently from one Python to another). tests/features/test_parsing_fast.py
# holds the split equal to getaddresses' on generated values and the corpora.
_ATEXT = r"-A-Za-z0-9!#$%&'*+/=?^_`{|}~"
_FWS = r"[ \t\r\n]"
_ADDRESS = r"[%s.]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*" % _ATEXT
_PHRASE = r"[{t}]+(?:{f}+[{t}]+)*".format(t=_ATEXT, f=_FWS)
_ADDRESS_ENTRY = r"{f}*(?:{a}|{p}{f}*<{a}>){f}*".format(f=_FWS, a=_ADDRESS, p=_PHRASE)
_SIMPLE_ADDRESS_LIST = re.compile(
    r"{e}(?:,{e})*(?:,{f}+)?\Z".format(e=_ADDRESS_ENTRY, f=_FWS))
_ADDRESS_ENTRY_PARTS = re.compile(
    r"{f}*(?:({p}){f}*<({a})>|({a})){f}*\Z".format(f=_FWS, a=_ADDRESS, p=_PHRASE))
_FOLDING_SPACES = re.compile(_FWS + "+")


def _simple_pair(entry):
    """(name, address) of one entry of a _SIMPLE_ADDRESS_LIST value."""
    found = _ADDRESS_ENTRY_PARTS.match(entry)
    if found is None:  # the blank after a final comma
        return ("", "")
    if found.group(3) is not None:
        return ("", found.group(3))
    return (_FOLDING_SPACES.sub(" ", found.group(1)), found.group(2))


def _codec_name(charset):
    """The Python text codec for a declared charset, or None when unknown (or
    a bytes-to-bytes codec such as ``hex`` or ``rot13``, which bytes.decode
    refuses)."""
    if not charset:
        return None
    try:
        codec = codecs.lookup(charset.strip().strip('"').lower())
    except (LookupError, ValueError):
        return None
    return codec.name if getattr(codec, "_is_text_encoding", True) else None


def decode_bytes(data, charset=None):
    """(text, fell_back): decode with ``charset``, else UTF-8, else cp1252.

    ``fell_back`` is true when a declared charset was unknown or wrong. The
    last resort replaces undecodable bytes, so this never raises.
    """
    declared = _codec_name(charset)
    for candidate in ((declared,) if declared else ()) + _FALLBACK_CHARSETS:
        try:
            return data.decode(candidate), bool(charset) and candidate != declared
        except UnicodeError:
            continue
    return data.decode(_LAST_RESORT_CHARSET, errors="replace"), True


def _unescape_surrogates(value):
    """compat32 keeps 8-bit header bytes as surrogates: decode them for real
    (a value can mix them with real characters, e.g. from a Header object)."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return decode_bytes(value.encode("utf-8", "surrogateescape"))[0]


def decode_header_value(value, warnings=None):
    """A raw header value -> text, RFC 2047 words decoded, whitespace folded."""
    if value is None:
        return ""
    value = _unescape_surrogates(str(value))
    if "=?" in value:
        try:
            value = str(make_header(decode_header(value)))
        except (MessageError, ValueError, LookupError):
            # the slower, lenient parser of policy.default decodes the good
            # words and keeps the broken ones as text
            if warnings is not None:
                warnings.append("header_undecodable")
            try:
                # it leaves the bytes of a word that does not decode in its
                # declared charset as surrogate escapes
                value = _unescape_surrogates(
                    str(policy.default.header_factory("subject", value)))
            except (MessageError, ValueError, LookupError):
                pass
    return _FOLDING_WHITESPACE.sub(" ", value).strip()


def _ids(value):
    """Message ids in a header value, without angle brackets, in order."""
    if not value:
        return []
    value = _unescape_surrogates(value)
    found = _ANGLE_IDS.findall(value)
    ids = found if found else value.split()
    return [identifier.strip() for identifier in ids if identifier.strip()]


@lru_cache(maxsize=_ADDRESS_MEMO_SIZE)
def _address_pairs(value):
    """getaddresses of one raw header value, memoized: the same From and To
    values recur across a mailbox and parsing them is a third of the cost.
    A list of simple entries (most recipient lists) is split instead."""
    if _SIMPLE_ADDRESS_LIST.match(value):
        if "<" not in value:
            return tuple(("", address.strip()) for address in value.split(","))
        return tuple(_simple_pair(entry) for entry in value.split(","))
    return tuple(getaddresses([_unescape_surrogates(value)]))


def parse_addresses(values):
    """Raw header values -> lowercased unique addresses, first-seen order."""
    if len(values) == 1:  # nearly always: one To, one Cc
        return list(_unique_addresses(str(values[0]))) if values[0] else []
    addresses = []
    seen = set()
    for value in values:
        if not value:
            continue
        for address in _unique_addresses(str(value)):
            if address not in seen:
                seen.add(address)
                addresses.append(address)
    return addresses


@lru_cache(maxsize=_UNIQUE_ADDRESSES_MEMO_SIZE)
def _unique_addresses(value):
    """The lowercased unique addresses of one raw header value, first-seen
    order, memoized (a long recipient list recurs in every copy of a message)."""
    addresses = []
    seen = set()
    for _, address in _address_pairs(value):
        address = address.strip().lower()
        if address and address not in seen:
            seen.add(address)
            addresses.append(address)
    return tuple(addresses)


def parse_sender(value, warnings):
    """A raw From value -> {"address", "name"} or None."""
    if not value:
        return None
    pairs = _address_pairs(str(value))
    name, address = pairs[0] if pairs else ("", "")
    name = decode_header_value(name, warnings)
    if not address and not name:
        warnings.append("from_unparseable")
        return None
    return {"address": address.strip().lower(), "name": name}


def parse_date(value, warnings):
    """A raw Date value -> UTC ISO-8601 string, or None (with a warning)."""
    if not value:
        warnings.append("date_missing")
        return None
    date, warning = _date_of(str(value))
    if warning:
        warnings.append(warning)
    return date


@lru_cache(maxsize=_DATE_MEMO_SIZE)
def _date_of(value):
    """(UTC ISO-8601 string or None, warning or None) of a raw Date value,
    memoized: the copies of a message in several folders share their date."""
    try:
        moment = parsedate_to_datetime(_unescape_surrogates(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        moment = None
    if moment is None:
        return None, "date_unparseable"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc).isoformat(), None
    except (ValueError, OverflowError):
        return None, "date_unparseable"


def _clean_text(text):
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _LINE_ENDS.sub("\n", text)


def _part_text(part, content_type, warnings):
    """Decoded text of a leaf part (HTML converted), or "" when it has none."""
    defects_before = len(part.defects)
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError, AssertionError):
        payload = None
    if len(part.defects) > defects_before:
        warnings.append("payload_defect")
    if payload is None:
        warnings.append("payload_undecodable")
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    text, fell_back = decode_bytes(payload, _content_charset(part))
    if fell_back:
        warnings.append("charset_fallback")
    if content_type == "text/html":
        text = html_to_text(text)
    return _clean_text(text)


def _content_charset(part):
    """``part.get_content_charset()``, memoized by the Content-Type value (a
    few values recur across a corpus; their parameter parsing is not cheap)."""
    value = part.get("content-type")
    if type(value) is not str:  # absent, or a Header (8-bit bytes in it)
        return part.get_content_charset()
    return _charset_of_content_type(value)


@lru_cache(maxsize=_CONTENT_TYPE_MEMO_SIZE)
def _charset_of_content_type(value):
    """get_content_charset() of a message whose Content-Type is ``value``:
    it reads nothing else."""
    message = Message()
    message["Content-Type"] = value
    return message.get_content_charset()


def _payload_size(part):
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, LookupError, TypeError, AssertionError):
        payload = None
    if payload is None:
        if part.is_multipart():
            return _flattened_size(part)
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    return len(payload)


def _flattened_size(part):
    """Bytes of a multipart part (an attached message) as written out. The
    email generator cannot write every tree it parsed (it re-encodes some
    text as ASCII, refuses a header holding a line that looks like another
    header, recurses once per level): then the sum of the leaves'
    payload sizes, walked without recursion."""
    try:
        return len(part.as_bytes())
    except (MessageError, UnicodeError, LookupError, ValueError, TypeError, RecursionError):
        pass
    total, pending = 0, [part]
    while pending:
        payload = pending.pop().get_payload()
        if isinstance(payload, list):
            pending.extend(payload)
        elif isinstance(payload, (str, bytes)):
            total += len(payload.encode("utf-8", "surrogateescape")
                         if isinstance(payload, str) else payload)
    return total


def _filename(part, warnings, has_disposition=None):
    """The decoded file name of a part, or None; ``has_disposition``: whether
    it has a Content-Disposition, when the caller knows."""
    if has_disposition is None:
        has_disposition = "Content-Disposition" in part
    if not has_disposition and "name" not in str(part.get("Content-Type", "")):
        return None
    try:
        name = part.get_filename()
    except (ValueError, LookupError, TypeError, HeaderParseError):
        warnings.append("filename_undecodable")
        return None
    return decode_header_value(name, warnings) if name else None


class _Parts:
    """The text candidates ((content type, part)), attachments and attached
    messages of a message."""

    def __init__(self):
        self.texts = []
        self.attachments = []
        self.attached_messages = []


def _collect(part, parts, warnings, depth=0):
    content_type = part.get_content_type()
    if content_type.startswith("message/") and part.is_multipart():
        parts.attachments.append(
            {"name": _filename(part, warnings), "type": content_type, "size": _payload_size(part)})
        if content_type == "message/rfc822":
            parts.attached_messages.extend(part.get_payload())
        return
    if part.is_multipart():
        if depth < 50:
            for child in part.get_payload():
                _collect(child, parts, warnings, depth + 1)
        return
    raw_disposition = part.get("Content-Disposition")
    disposition = "" if raw_disposition is None else \
        str(raw_disposition).split(";")[0].strip().lower()
    name = _filename(part, warnings, raw_disposition is not None)
    if content_type.startswith("multipart/"):
        # a multipart without boundary arrives as one leaf: its text is all there is
        warnings.append("multipart_without_boundary")
        parts.texts.append(("multipart", part))
    elif content_type in _TEXT_TYPES and disposition != "attachment" and not name:
        parts.texts.append((content_type, part))
    else:
        parts.attachments.append({"name": name, "type": content_type, "size": _payload_size(part)})


def _best_text(texts, warnings):
    """text/plain first (when it has any text), else HTML converted to text."""
    for wanted in ("text/plain", "multipart", "text/html"):
        for content_type, part in texts:
            if content_type == wanted:
                text = _part_text(part, content_type, warnings)
                if text.strip() or wanted == "text/html":
                    return text
    return ""


def _message_text(message, warnings):
    """(best body text, attachments, attached messages) of a parsed message."""
    parts = _Parts()
    _collect(message, parts, warnings)
    return _best_text(parts.texts, warnings), parts.attachments, parts.attached_messages


def _attached_message_text(message, warnings):
    """An attached message/rfc822 as forward history: a few headers, then its text."""
    lines = []
    for name in ("From", "Date", "Subject"):
        if message.get(name):
            lines.append("%s: %s" % (name, decode_header_value(message.get(name), warnings)))
    body = _message_text(message, warnings)[0]
    return "\n".join(lines) + "\n\n" + body.strip()


# the headers a record is made of (message_record, mailbox_labels)
_RECORD_HEADERS = frozenset(("message-id", "in-reply-to", "references", "date", "from", "to",
                             "cc", "bcc", "subject", "x-gmail-labels", "x-keywords"))


def _headers(message):
    """Lowercased header name -> list of raw values (compat32 raw strings),
    for the names in _RECORD_HEADERS (the others are never read)."""
    headers = {}
    for name, value in message.raw_items():
        name = name.lower()
        if name in _RECORD_HEADERS:
            values = headers.get(name)
            if values is None:
                headers[name] = [value]
            else:
                values.append(value)
    return headers


def mailbox_labels(headers):
    """The labels a mailbox keeps beside a message, sorted and deduplicated:
    ``X-Gmail-Labels`` (Google Takeout and `jeeves fetch`; comma separated, a
    label holding a comma in double quotes) and ``X-Keywords`` (IMAP keywords,
    separated by commas or spaces)."""
    labels = set()
    for value in headers.get("x-gmail-labels", ()):
        text = decode_header_value(value)
        try:
            rows = list(csv.reader([text], skipinitialspace=True))
        except csv.Error:  # stray quotes: fall back to a plain split
            rows = [text.split(",")]
        for row in rows:
            labels.update(label.strip() for label in row)
    for value in headers.get("x-keywords", ()):
        labels.update(re.split(r"[,\s]+", decode_header_value(value)))
    labels.discard("")
    return sorted(labels)


def generated_message_id(raw):
    """A stable id for a message without Message-ID: a hash of its raw bytes."""
    return "sha1:" + hashlib.sha1(raw).hexdigest()


# a header block the stdlib reads as header lines and nothing else: printable
# ASCII and tabs, each line a field (a name of visible characters but the
# colon, then a colon) or its continuation (a space or tab first), the block
# ended by an empty line; no CR, no control character, nothing 8-bit (the feed
# parser splits lines with str.splitlines, which breaks at some of those)
_PLAIN_HEAD = re.compile(rb"(?:[!-9;-~]+:[ -~\t]*\n(?:[ \t][ -~\t]*\n)*)*\n")
# where a field of such a block starts: a line that is no continuation
_FIELD_START = re.compile(r"\n(?![ \t])")
_BLANK_LINE = re.compile(rb"\n\r?\n")


def _plain_fields(head):
    """(name, value) of each field of a plain header block (its final newline
    included, the blank line not), as the feed parser and compat32's
    ``header_source_parse`` read them: the name up to the colon, the value's
    first line without its leading blanks, its continuation lines, no final
    newline."""
    if not head:
        return []
    fields = []
    for field in _FIELD_START.split(head[:-1]):
        name, _, value = field.partition(":")
        fields.append((name, value.lstrip(" \t")))
    return fields


def parse_message(raw):
    """``email.message_from_bytes(raw)``, the same object, built faster.

    The stdlib's feed parser reads a message one line at a time, and for one
    that is not multipart (nor message/*) it only joins the lines after the
    header block into the payload: half the cost of parsing a plain-text
    message. So that payload is taken in one piece. A plain header block
    (``_PLAIN_HEAD``) is read here the way the feed parser and compat32's
    ``header_source_parse`` read it (a name, the value's first line without
    its leading blanks, its continuation lines, the final newline stripped);
    any other goes through the stdlib parser alone, and is only used when the
    parser took every line of it as a header (no payload, no defect).
    Anything else (multipart, message/*, no blank line, a header block the
    parser ends early) is parsed by the stdlib in full.
    tests/features/test_parsing_fast.py holds the result equal to the
    stdlib's, attribute for attribute, on the shared corpora, on generated
    header blocks and on the fuzzer's damaged mail.
    """
    plain = _PLAIN_HEAD.match(raw)
    if plain is not None:
        cut = plain.end()
        message = Message()
        message._headers = _plain_fields(raw[:cut - 1].decode("ascii"))
    else:
        found = _BLANK_LINE.search(raw)
        if found is None:
            return message_from_bytes(raw)
        cut = found.end()
        message = message_from_bytes(raw[:cut])
        if message.defects or message._payload:
            return message_from_bytes(raw)
    if message.get_content_maintype() in ("multipart", "message"):
        return message_from_bytes(raw)
    message.set_payload(raw[cut:].decode("ascii", "surrogateescape"))
    return message


def message_record(raw, source, folder, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
                   subject_body=False):
    """Raw message bytes -> (record, warnings).

    ``source`` is ``{"uri", "index", "offset"}``, ``folder`` a list of path
    segments. ``subject_body`` reads a ``Subject:`` line followed by the body
    (Enron-Spam files) instead of an RFC 822 message. Messages over
    ``max_message_bytes`` are cut to it and flagged ``truncated``.
    """
    record, warnings = _unchecked_record(raw, source, folder, max_message_bytes, subject_body)
    record, replaced = valid_strings(record)
    if replaced:
        warnings.append(SURROGATES_REPLACED)
    return record, warnings


def _unchecked_record(raw, source, folder, max_message_bytes, subject_body):
    """message_record's (record, warnings) before its strings are made valid."""
    warnings = []
    size = len(raw)
    truncated = size > max_message_bytes
    if truncated:
        warnings.append("truncated")
        raw = raw[:max_message_bytes]
    if subject_body:
        first_line, _, rest = raw.partition(b"\n")
        headers = {"subject": [decode_bytes(first_line.split(b":", 1)[1])[0]]}
        body_text, attachments, attached = _clean_text(decode_bytes(rest)[0]), [], []
    else:
        message = parse_message(raw)
        headers = _headers(message)
        body_text, attachments, attached = _message_text(message, warnings)

    def first(name):
        values = headers.get(name)
        return values[0] if values else None

    message_ids = _ids(first("message-id"))
    generated = not message_ids
    if generated:
        warnings.append("message_id_generated")
    message_id = generated_message_id(raw) if generated else message_ids[0]
    in_reply_to = (_ids(first("in-reply-to")) or [None])[0]
    references = _ids(" ".join(headers.get("references", [])))
    new_text, quoted, signature = split_reply(body_text)
    if attached:
        history = [quoted] if quoted else []
        history.extend(_attached_message_text(message, warnings) for message in attached)
        quoted = "\n\n".join(history)
    record = {
        "schema_version": SCHEMA_VERSION,
        "message_id": message_id,
        "message_id_generated": generated,
        "in_reply_to": in_reply_to,
        "references": references,
        "thread_id": references[0] if references else in_reply_to or message_id,
        "date": parse_date(first("date"), warnings) if not subject_body else None,
        "from": parse_sender(first("from"), warnings),
        "to": parse_addresses(headers.get("to", [])),
        "cc": parse_addresses(headers.get("cc", [])),
        "bcc": parse_addresses(headers.get("bcc", [])),
        "subject": _clean_text(decode_header_value(first("subject"), warnings)),
        "body": new_text,
        "quoted": quoted,
        "signature": signature,
        "attachments": attachments,
        "source": source,
        "folder": folder,
        "labels": mailbox_labels(headers),
        "size": size,
        "truncated": truncated,
    }
    return record, warnings


def content_fingerprint(record):
    """A key equal for copies of one message that differ only in their ids and
    filing (Enron gives each folder's copy its own Message-ID)."""
    sender = record.get("from") or {}
    content = [sender.get("address"), record.get("date"), record.get("subject"),
               record.get("to"), record.get("cc"), record.get("body"), record.get("quoted"),
               record.get("signature"), record.get("attachments")]
    return "content:" + hashlib.sha1(
        json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


def escape_head(data):
    """The first HEAD_BYTES bytes of ``data``, escaped as in a bytes literal."""
    return repr(bytes(data[:HEAD_BYTES]))[2:-1]


def quarantine_record(source, reason, detail, data):
    """A record for input that could not become a message (its strings made
    valid: a detail can quote the bad text, a source a bad file name)."""
    return valid_strings(
        {"source": source, "reason": reason, "detail": detail, "head": escape_head(data)})[0]


def _source_of(found):
    return {"uri": found.uri, "index": found.index, "offset": found.offset}


def outcome_of(found, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES):
    """``(kind, record, warnings)`` of one found item: see :func:`encoded_outcome_of`."""
    return encoded_outcome_of(found, max_message_bytes)[:3]


def encoded_outcome_of(found, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES, encode=False):
    """One item found in an input file (jeeves.features.mailformats.Found) ->
    ``("message", record, warnings, line)`` or ``("quarantine", record, [], None)``;
    ``line`` is None unless ``encode`` is set and the item was a raw message,
    then the record's JSON as mrjob's ujson protocols write it
    (jeeves.features.validtext.valid_strings_encoded: most records are
    encoded once, where the parse job's mapper would encode them again).

    Never raises: a message the parser cannot handle is quarantined as
    ``parse_error`` with the exception named (``nested_too_deep`` when the
    stdlib parser recursed too deep: it recurses once per MIME level). A record read back from JSON
    lines whose strings do not encode (lone surrogate escapes) is repaired.
    The warnings of a message include those of reading its bytes
    (``found.warnings``, e.g. a byte-order mark decoded).
    """
    if found.kind in ("record", "quarantine_record"):
        record, replaced = valid_strings(found.data)
        if found.kind == "quarantine_record":
            return "quarantine", record, [], None
        return "message", record, list(found.warnings) + (
            [SURROGATES_REPLACED] if replaced else []), None
    if found.kind == "problem":
        return "quarantine", quarantine_record(
            _source_of(found), found.reason, found.detail, found.data), [], None
    try:
        record, warnings = _unchecked_record(
            found.data, _source_of(found), found.folder, max_message_bytes,
            found.kind == "subject_body")
        if encode:
            record, replaced, line = valid_strings_encoded(record)
        else:
            (record, replaced), line = valid_strings(record), None
        if replaced:
            warnings.append(SURROGATES_REPLACED)
    except RecursionError:
        return "quarantine", quarantine_record(
            _source_of(found), "nested_too_deep", "MIME parts nested too deep to parse",
            found.data), [], None
    except Exception as error:  # never fail a task on one bad message
        return "quarantine", quarantine_record(
            _source_of(found), "parse_error", "%s: %s" % (type(error).__name__, error),
            found.data), [], None
    return "message", record, list(found.warnings) + warnings, line
