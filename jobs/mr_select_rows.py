"""Select rows: split one job's output without the driver reading it (map-only).

Input: JSON key/value lines (``key<TAB>value``, as JSONProtocol writes them,
e.g. mr_parse_emails output) or JSON value lines (e.g. OUT/messages/ or the
scoring job's predictions). A line without a tab is a value with no key.

A row is selected when it passes every test given:
- ``--key K``: its key decodes to the string K (e.g. ``--key message``
  keeps mr_parse_emails' records and drops its ``"quarantine"`` rows); a
  line without a tab has the key ``--unkeyed`` names (none by default:
  ``--unkeyed message`` reads mr_parse_emails ``--bare-messages`` output,
  whose records are bare lines);
- ``--field F --equals V``: its value is a JSON object whose field F equals
  V, read as JSON when it parses (``1``, ``true``, ``"x"``) and as a string
  otherwise (e.g. ``--field label --equals 1`` keeps the flagged
  predictions).
- ``--sample F`` (0 < F <= 1): the first 64 bits of the BLAKE2b hash of
  its value text, as a fraction of 2^64, are below F: a sample of about F
  of the rows, the same rows on every runner and for any split (e.g. the
  tf-idf rows the driver fits LSA on, scripts/pipeline/train.py). With
  ``--sample`` alone the rows need not be JSON (svmlight lines are).
With no test every row is selected.

Output: the selected rows' values, one JSON text a line, byte for byte as
read (keys dropped): OUT/messages/ format (docs/records.md) for parsed
records. A value that is not JSON is counted (``invalid_json``), not
written. Counters (group ``select_rows``): ``selected``, ``skipped``,
``invalid_json``.
"""

from __future__ import annotations

import hashlib

from mrjob.job import MRJob
from mrjob.protocol import RawValueProtocol
from mrjob.step import MRStep

from jeeves.jobs import WHOLE_LINE_OUTPUT_JOBCONF, CountedJob

try:
    import ujson as json
except ImportError:  # pragma: no cover - ujson is a dependency
    import json

COUNTERS = "select_rows"


def fraction(text):
    """``--sample`` value: a float in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError("--sample must be in (0, 1], not %r" % text)
    return value


def sampled(value, share):
    """True when the row `value` falls in the sample of share `share` (its hash)."""
    if share >= 1:
        return True
    digest = hashlib.blake2b(value.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < share * 2.0 ** 64


def json_or_text(text):
    """``--equals`` value: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class MRSelectRows(CountedJob, MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    OUTPUT_PROTOCOL = RawValueProtocol
    JOBCONF = WHOLE_LINE_OUTPUT_JOBCONF

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--key", default=None,
            help="keep the rows whose JSON key is this string (e.g. message)")
        self.add_passthru_arg(
            "--field", default=None,
            help="with --equals: keep the rows whose value has this field equal to it")
        self.add_passthru_arg(
            "--equals", type=json_or_text, default=None,
            help="the value --field must have (JSON, e.g. 1 or true, else a string)")
        self.add_passthru_arg(
            "--sample", type=fraction, default=None,
            help="keep a hash sample of about this share of the rows (0 < F <= 1)")
        self.add_passthru_arg(
            "--unkeyed", default=None,
            help="with --key: the key of a line without a tab (default: none, never "
                 "selected by --key)")

    def load_args(self, args):
        super().load_args(args)
        if (self.options.field is None) != (self.options.equals is None):
            self.arg_parser.error("--field and --equals go together (got --field %r, "
                                  "--equals %r)" % (self.options.field, self.options.equals))

    def mapper_init(self):
        self.counts = {"selected": 0, "skipped": 0, "invalid_json": 0}

    def mapper_select(self, _, line):
        """A line -> (None, its value text) when the row passes the tests."""
        if not line.strip():
            return
        key, tab, value = line.partition("\t")
        if not tab:
            key, value = None, line
        options = self.options
        if options.sample is not None:
            if not sampled(value, options.sample):
                self.counts["skipped"] += 1
                return
            if options.key is None and options.field is None:
                self.counts["selected"] += 1
                yield None, value
                return
        try:
            if options.key is not None and (
                    options.unkeyed if key is None else json.loads(key)) != options.key:
                self.counts["skipped"] += 1
                return
            # decoded even with --key alone: a value that is not JSON is
            # counted here, never passed on
            record = json.loads(value)
            if options.field is not None and (
                    not isinstance(record, dict) or options.field not in record
                    or record[options.field] != options.equals):
                self.counts["skipped"] += 1
                return
        except ValueError:
            self.counts["invalid_json"] += 1
            return
        self.counts["selected"] += 1
        yield None, value

    def mapper_final_count(self):
        # counted per task, not per row: each update is a line the runner parses
        for name, value in self.counts.items():
            if value:
                self.increment_counter(COUNTERS, name, value)

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_select,
                       mapper_final=self.mapper_final_count)]


if __name__ == "__main__":
    MRSelectRows.run()
