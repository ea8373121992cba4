"""features/quoting.py: the fast paths of split_reply against the regular
expressions they stand for."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from jeeves.features import quoting
from jeeves.features.quoting import split_reply

# what _split_history and _split_signature searched with before
HISTORY_MARKERS = re.compile(
    r"^[ \t]*(?:"
    r"-{2,}[ \t]*(?:Original Message|Forwarded by|Forwarded message|Forward(?:ed)? Message)"
    r"|Begin forwarded message:"
    r"|On [^\n]{1,200}?\bwrote:[ \t]*$"
    r"|On [^\n]{1,200}\n[^\n]{0,200}?\bwrote:[ \t]*$"
    r"|From:[^\n]*\n[ \t]*(?:Sent|Date):"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
SIGNATURE_DELIMITER = re.compile(r"^-- ?$", re.MULTILINE)


def reference_history(text):
    match = HISTORY_MARKERS.search(text)
    if match is None:
        return text, ""
    start = text.rfind("\n", 0, match.start()) + 1
    return text[:start], text[start:]


def reference_delimiter(text):
    matches = list(SIGNATURE_DELIMITER.finditer(text))
    return (matches[-1].start(), matches[-1].end()) if matches else None


# pieces that make markers, near misses and delimiters likely
PIECES = ["\n", " ", "\t", "-", "--", "-- ", "---", ">", "x", "On Monday, Ann ", "wrote:",
          "WROTE:", "Wrote: ", "From: a", "FROM:", "Sent:", "date:", "-----Original Message-----",
          "--- Forwarded by", "Begin forwarded message:", "BEGIN FORWARDED MESSAGE:",
          "\r", "é", "\u212a", "\u0131", "\u017f", "Ｏn "]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(max_size=200)


@settings(max_examples=3000, deadline=None)
@given(texts)
def test_the_history_split_is_the_regular_expressions(text):
    assert quoting._split_history(text) == reference_history(text)


@settings(max_examples=3000, deadline=None)
@given(texts)
def test_the_last_delimiter_is_the_regular_expressions(text):
    assert quoting._last_delimiter(text) == reference_delimiter(text)


def test_markers_at_the_start_and_after_a_newline():
    text = "Hi\n\nOn Monday, June 4, 2001, Ann Smith <ann@example.com>\nwrote:\n> old\n"
    assert quoting._split_history(text) == ("Hi\n\n", text[text.index("On Monday"):])
    assert quoting._split_history("  -----Original Message-----\nx") == (
        "", "  -----Original Message-----\nx")
    assert quoting._split_history("no marker\nfrom: here\nsent? no") == (
        "no marker\nfrom: here\nsent? no", "")


def test_delimiters_at_the_start_the_end_and_among_dashes():
    assert quoting._last_delimiter("--") == (0, 2)
    assert quoting._last_delimiter("a\n-- ") == (2, 5)
    assert quoting._last_delimiter("-- \nb\n---\n--x\n") == (0, 3)
    assert quoting._last_delimiter("a\n--\r\nb") is None
    assert split_reply("Thanks\n-- \nAnn\n555-1234") == ("Thanks", "", "Ann\n555-1234")
