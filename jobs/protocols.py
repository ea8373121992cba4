"""Protocols the jobs share (they subclass mrjob's, so they live here, not in features/),
and the reader of a record line that several jobs take as input."""

from mrjob.protocol import BytesValueProtocol, JSONProtocol, TextValueProtocol

from jeeves.features.validtext import (
    SURROGATES_REPLACED,
    valid_json_bytes,
    valid_json_text,
    valid_text,
)

try:
    import ujson as _fast_json
except ImportError:  # pragma: no cover - ujson is a dependency
    import json as _fast_json


def record_of_line(line, counts, other_rows="not_a_message_row"):
    """A parsed-record line (OUT/messages/, or mr_parse_emails' ``"message"<TAB>record``)
    -> the record, or None for a line that is not one, counted in ``counts``
    by reason: ``invalid_json``, ``not_a_record``, ``missing_message_id``, and
    ``other_rows`` (unless None) for the parse output's other rows."""
    text = record_text_of_line(line, counts, other_rows)
    return None if text is None else record_of_text(text, counts)


def record_text_of_line(line, counts, other_rows="not_a_message_row"):
    """``record_of_line``'s first half: the line's record text (the JSON
    object, not decoded), or None for a blank line or another row of the
    parse output (counted as ``record_of_line`` counts it). The jobs give
    the text to the native kernel, which reads the fields it needs, and
    decode it with ``record_of_text`` only when the kernel does not take it."""
    if line.startswith('"'):
        # a key/value line of mr_parse_emails output: keep its "message" rows
        key, _, line = line.partition("\t")
        if key != '"message"':
            if other_rows is not None:
                counts[other_rows] += 1
            return None
    if not line.strip():
        return None
    return line


def record_of_text(text, counts):
    """``record_of_line``'s second half: a record text -> the record, or None
    (counted: ``invalid_json``, ``not_a_record``, ``missing_message_id``)."""
    try:
        record = _fast_json.loads(text)
    except ValueError:
        counts["invalid_json"] += 1
        return None
    if not isinstance(record, dict):
        counts["not_a_record"] += 1
        return None
    message_id = record.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        counts["missing_message_id"] += 1
        return None
    return record


class EncodedJSON(bytes):
    """A value kept as its JSON text: read undecoded and written back byte for byte."""


class TupleKeyJSONProtocol(JSONProtocol):
    """JSONProtocol whose JSON-array keys decode to tuples instead of lists.

    mrjob's Spark harness runs a step's combiner through ``RDD.combineByKey``
    on the *decoded* key, which must therefore be hashable: a list key fails
    with ``TypeError: unhashable type: 'list'``. A tuple encodes to the same
    JSON array, so the lines (and their sort order) are those of JSONProtocol.
    Use it as the INTERNAL_PROTOCOL of a job with list keys and a combiner.
    An ``EncodedJSON`` value is written as it is.
    """

    def read(self, line):
        key, value = super().read(line)
        if isinstance(key, list):
            key = tuple(key)
        return key, value

    def write(self, key, value):
        if isinstance(value, EncodedJSON):
            return self._dumps(key) + b"\t" + value
        return super().write(key, value)


class PassThroughJSONProtocol(TupleKeyJSONProtocol):
    """TupleKeyJSONProtocol that leaves the values of some rows encoded.

    A row whose key is an array starting with one of ``PASS_THROUGH_KINDS``
    reads as ``(tuple key, EncodedJSON(value text))`` and writes back
    unchanged: a combiner or reducer that only passes such rows on spares
    decoding and re-encoding them. Other rows read as TupleKeyJSONProtocol's.
    Subclass it with the kinds (mrjob builds protocols without arguments).
    """

    PASS_THROUGH_KINDS = ()

    def read(self, line):
        raw_key, raw_value = line.split(b"\t", 1)
        key = self._loads(raw_key)
        if isinstance(key, list):
            key = tuple(key)
            if key and key[0] in self.PASS_THROUGH_KINDS:
                return key, EncodedJSON(raw_value)
        return key, self._loads(raw_value)


class ValidTextValueProtocol(TextValueProtocol):
    """TextValueProtocol for lines of JSON records that makes their text valid.

    A line whose JSON escapes a lone surrogate (which would decode to a
    string no output protocol can encode) is repaired (U+FFFD) and read with
    the key ``"surrogates_replaced"`` for the mapper to count; other lines
    read with the key None, after one regular expression search. A value that does
    not encode to UTF-8 is written repaired instead of raising.
    """

    def read(self, line):
        _, text = super().read(line)
        text, replaced = valid_json_text(text)
        return (SURROGATES_REPLACED if replaced else None), text

    def write(self, key, value):
        try:
            return super().write(key, value)
        except UnicodeEncodeError:
            return super().write(key, valid_text(value))


class ValidBytesValueProtocol(BytesValueProtocol):
    """BytesValueProtocol that repairs lines as ValidTextValueProtocol does,
    invalid UTF-8 included (key ``"surrogates_replaced"`` when it did)."""

    def read(self, line):
        line, replaced = valid_json_bytes(line)
        return (SURROGATES_REPLACED if replaced else None), line
