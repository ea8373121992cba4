"""Parse raw mail into clean JSON records, deduplicated by Message-ID.

Input: files or directories of mail in any mix of formats (mbox, maildir and
other one-message files, subject-plus-body files, gzip/bz2 of those, JSON
lines of records already parsed), detected by content (features/mailformats).
Each input file reaches one mapper whole (``mapper_raw``). On the driver,
local input paths are expanded (directories recursively) and packed into tar
containers of about ``--container-bytes``, because mrjob starts one map task
per input file of a ``mapper_raw`` job; each member keeps its own file's URI.

Output (JSONProtocol): ``"message"`` -> a record (docs/records.md), one per
distinct ``message_id`` (or content, ``--dedupe-by content``);
``"quarantine"`` -> a quarantine record for input that could not become a
message. Counters: group ``parse`` (messages_found =
records + quarantined + duplicates), group ``quarantine`` (one per reason),
group ``warnings`` (field-level oddities).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref

from mrjob.job import MRJob
from mrjob.parse import is_uri
from mrjob.protocol import JSONProtocol
from mrjob.step import MRStep

from features.mailformats import Found, expand_inputs, iter_found, pack_files, relpath_of_uri
from features.parsing import DEFAULT_MAX_MESSAGE_BYTES, content_fingerprint, outcome_of

DEFAULT_CONTAINER_BYTES = 32 * 1024 * 1024
DEDUPE_KEYS = {
    "message_id": lambda record: record["message_id"],
    "content": content_fingerprint,
}


def _preference(record):
    """Sort key of a duplicate: untruncated first, then by source (URI, index,
    offset), then by content."""
    source = record.get("source") or {}
    return (bool(record.get("truncated")), str(source.get("uri")), source.get("index") or 0,
            source.get("offset") or 0, json.dumps(record, sort_keys=True))


class MRParseEmails(MRJob):
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES,
            help="messages larger than this are cut to it and flagged truncated "
                 "(default: %(default)s)")
        self.add_passthru_arg(
            "--dedupe-by", choices=sorted(DEDUPE_KEYS), default="message_id",
            help="records with equal keys collapse to one: message_id, or content (sender, "
                 "date, subject, recipients, text, attachments) for corpora such as Enron "
                 "whose copies in several folders carry different Message-IDs "
                 "(default: %(default)s)")
        self.add_passthru_arg(
            "--container-bytes", type=int, default=DEFAULT_CONTAINER_BYTES,
            help="driver side: pack local input files into tar containers of about this "
                 "many bytes, one map task each (default: %(default)s)")

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init, mapper_raw=self.mapper_find_messages,
                       reducer=self.reducer_dedupe_messages)]

    def _runner_kwargs(self):
        """Replace local input paths by tar containers of their files (once)."""
        kwargs = super()._runner_kwargs()
        if not hasattr(self, "_packed_input_paths"):
            self._packed_input_paths = self._pack_local_inputs(kwargs["input_paths"])
        kwargs["input_paths"] = self._packed_input_paths
        return kwargs

    def _pack_local_inputs(self, input_paths):
        local = [p for p in input_paths if p != "-" and not is_uri(p) and os.path.exists(p)]
        if not local:
            return list(input_paths)
        directory = tempfile.mkdtemp(prefix="jeeves-parse-")
        # containers live as long as this job object (the runner reads them)
        weakref.finalize(self, shutil.rmtree, directory, True)
        containers, unpacked = pack_files(
            expand_inputs(local), directory, self.options.container_bytes)
        others = [p for p in input_paths if p not in local]
        return containers + unpacked + others

    def mapper_init(self):
        """Pick the dedupe key function (--dedupe-by) once per task."""
        self.dedupe_key = DEDUPE_KEYS[self.options.dedupe_by]

    def mapper_find_messages(self, input_path, input_uri):
        """(path, uri) of one input file -> (["message", dedupe key], record) and
        (["quarantine", uri, index], quarantine record) pairs."""
        for path, uri, relpath in self._files_of(input_path, input_uri):
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as error:
                    found_items = [self._unreadable(uri, error)]
            else:
                found_items = iter_found(data, uri, relpath)
            for found in found_items:
                self.increment_counter("parse", "messages_found")
                yield from self._pairs_of(found)

    def _files_of(self, input_path, input_uri):
        """The files behind a mapper's input: a directory expands; the local
        runner renames what it cannot decompress, so fall back to the URI."""
        if not os.path.exists(input_path) and os.path.exists(input_uri):
            input_path = input_uri
        if os.path.isdir(input_path):
            return expand_inputs([input_path])
        return [(input_path, input_uri, relpath_of_uri(input_uri))]

    @staticmethod
    def _unreadable(uri, error):
        return Found("problem", b"", uri, None, None, [], "unreadable_file", str(error))

    def _pairs_of(self, found):
        kind, record, warnings = outcome_of(found, self.options.max_message_bytes)
        for warning in warnings:
            self.increment_counter("warnings", warning)
        if kind == "message":
            yield ["message", self.dedupe_key(record)], record
        else:
            self._quarantined(record["reason"])
            yield ["quarantine", found.uri, found.index], record

    def _quarantined(self, reason):
        self.increment_counter("parse", "quarantined")
        self.increment_counter("quarantine", reason)

    def reducer_dedupe_messages(self, key, records):
        """(["message", dedupe key], records) -> ("message", the preferred record);
        (["quarantine", ...], records) -> ("quarantine", record) for each."""
        if key[0] == "quarantine":
            for record in records:
                yield "quarantine", record
            return
        records = list(records)
        self.increment_counter("parse", "records")
        if len(records) > 1:
            self.increment_counter("parse", "duplicates", len(records) - 1)
        yield "message", records[0] if len(records) == 1 else min(records, key=_preference)


if __name__ == "__main__":
    MRParseEmails.run()
