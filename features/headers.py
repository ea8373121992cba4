"""Header feature group: numbers about a message's addressing, thread and time.

``header_features(record)`` turns one parsed message record
(docs/records.md) into a list of floats in ``HEADER_FEATURE_NAMES`` order.
It never raises: a missing or malformed field gives the value of an absent
one (no recipients, no date, ...), so an odd record is scored, not dropped.

Columns (name, value):

- ``recipients_log``: log1p of the distinct To + Cc + Bcc addresses
- ``to_count``, ``cc_count``, ``bcc_count``: addresses in each field (as parsed)
- ``cc_share``: Cc + Bcc over all recipients (0 without recipients)
- ``single_recipient``: 1 when exactly one recipient
- ``is_reply``: ``In-Reply-To`` set, or the subject starts with ``Re:``
- ``is_forward``: the subject starts with ``Fw:``/``Fwd:``, or the body is a forward banner
- ``thread_depth_log``: log1p of the thread depth: the number of ``References`` ids (1 with only
  ``In-Reply-To``), else the count of leading ``Re:``/``Fw:`` prefixes
- ``has_quoted``: the record has quoted history
- ``weekday_0`` .. ``weekday_6``: one-hot weekday of ``date`` (Monday = 0), all 0 without a date
- ``hour_sin``, ``hour_cos``: the UTC hour of day on the unit circle (23h and 0h are neighbours)
- ``has_date``: 1 when ``date`` parses
- ``attachments_log``: log1p of the number of attachments
- ``attachment_kb_log``: log1p of their total size in KiB

Hours are UTC because that is what the record stores; a sender's local
time would need their zone, which the record no longer has.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

WEEKDAY_NAMES = tuple("weekday_%d" % day for day in range(7))
HEADER_FEATURE_NAMES = (
    "recipients_log", "to_count", "cc_count", "bcc_count", "cc_share", "single_recipient",
    "is_reply", "is_forward", "thread_depth_log", "has_quoted",
) + WEEKDAY_NAMES + (
    "hour_sin", "hour_cos", "has_date", "attachments_log", "attachment_kb_log",
)

# "Re:", "RE :", "Fw:", "FWD:", "Re[2]:" at the start of a subject, possibly repeated
_PREFIX_RE = re.compile(r"^\s*(re|fwd?)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_FORWARD_BANNER_RE = re.compile(
    r"^-+\s*(?:forwarded by|forwarded message)|^begin forwarded message:",
    re.IGNORECASE | re.MULTILINE)


def _addresses(record, field):
    value = record.get(field)
    if not isinstance(value, list):
        return []
    return [address for address in value if isinstance(address, str) and address]


def subject_prefixes(subject):
    """The lowercased reply/forward prefixes leading a subject: "RE: Fw: x" -> ["re", "fw"]."""
    prefixes = []
    rest = subject if isinstance(subject, str) else ""
    while True:
        match = _PREFIX_RE.match(rest)
        if match is None:
            return prefixes
        prefixes.append(match.group(1).lower())
        rest = rest[match.end():]


def _moment(date):
    if not isinstance(date, str):
        return None
    try:
        return datetime.fromisoformat(date)
    except (ValueError, OverflowError):
        return None


def header_features(record):
    """Parsed record -> [float] in HEADER_FEATURE_NAMES order (never raises)."""
    if not isinstance(record, dict):
        record = {}
    to, cc, bcc = (_addresses(record, field) for field in ("to", "cc", "bcc"))
    recipients = len(set(to) | set(cc) | set(bcc))
    prefixes = subject_prefixes(record.get("subject"))
    in_reply_to = record.get("in_reply_to")
    references = record.get("references")
    references = references if isinstance(references, list) else []
    body = record.get("body") if isinstance(record.get("body"), str) else ""
    if references:
        depth = len(references)
    elif in_reply_to:
        depth = 1
    else:
        depth = len(prefixes)
    is_reply = bool(in_reply_to) or (bool(prefixes) and prefixes[0] == "re")
    is_forward = (bool(prefixes) and prefixes[0] != "re") or bool(
        _FORWARD_BANNER_RE.search(body[:2000]))
    moment = _moment(record.get("date"))
    weekday = [0.0] * 7
    hour_sin = hour_cos = 0.0
    if moment is not None:
        weekday[moment.weekday()] = 1.0
        angle = 2 * math.pi * (moment.hour + moment.minute / 60.0) / 24.0
        hour_sin, hour_cos = math.sin(angle), math.cos(angle)
    attachments = record.get("attachments")
    attachments = [item for item in attachments if isinstance(item, dict)] \
        if isinstance(attachments, list) else []
    attachment_bytes = sum(item.get("size") or 0 for item in attachments
                           if isinstance(item.get("size"), (int, float)))
    return [
        math.log1p(recipients),
        float(len(to)),
        float(len(cc)),
        float(len(bcc)),
        (len(cc) + len(bcc)) / float(len(to) + len(cc) + len(bcc)) if recipients else 0.0,
        1.0 if recipients == 1 else 0.0,
        1.0 if is_reply else 0.0,
        1.0 if is_forward else 0.0,
        math.log1p(depth),
        1.0 if isinstance(record.get("quoted"), str) and record["quoted"].strip() else 0.0,
    ] + weekday + [
        hour_sin,
        hour_cos,
        1.0 if moment is not None else 0.0,
        math.log1p(len(attachments)),
        math.log1p(max(attachment_bytes, 0) / 1024.0),
    ]
