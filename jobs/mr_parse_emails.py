"""Parse raw mail into clean JSON records, deduplicated by Message-ID.

Input: files or directories of mail in any mix of formats (mbox, maildir and
other one-message files, subject-plus-body files, gzip/bz2 of those, JSON
lines of records already parsed), detected by content (features/mailformats).
Each input file reaches one mapper whole (``mapper_raw``). On the driver,
local input paths are expanded (directories recursively) and packed into tar
containers of about ``--container-bytes``, because mrjob starts one map task
per input file of a ``mapper_raw`` job; each member keeps its own file's URI.

On mrjob's Spark runner, which refuses the input manifests of ``mapper_raw``
steps, the driver ships the containers with the job instead (one
``--container`` file argument each, so they reach every executor on any
master) and gives the job a text file naming them, one per line, as its
input; a line mapper opens each named container and finds its messages with
the same code, so the records are the same (docs/engines.md). On Spark the
inputs must be local paths.

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
from collections import Counter

from mrjob.job import MRJob
from mrjob.parse import is_uri
from mrjob.protocol import JSONProtocol
from mrjob.step import MRStep

from features.mailformats import Found, expand_inputs, iter_found, pack_files, relpath_of_uri
from features.parsing import DEFAULT_MAX_MESSAGE_BYTES, content_fingerprint, outcome_of

DEFAULT_CONTAINER_BYTES = 32 * 1024 * 1024
SHIPPED_SUFFIX = ".pack"
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
        self.add_passthru_arg(
            "--container-list", action="store_true",
            help="set by the driver on Spark: the input is lines naming tar containers "
                 "shipped with --container, not raw files")
        self.add_file_arg(
            "--container", dest="containers", action="append", default=[],
            help="set by the driver on Spark, once per container it ships with the job "
                 "(with --container-list)")

    def steps(self):
        reduce = dict(reducer_init=self.reducer_init, reducer=self.reducer_dedupe_messages,
                      reducer_final=self.send_counts)
        if self.options.container_list:
            return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_open_containers,
                           mapper_final=self.send_counts, **reduce)]
        return [MRStep(mapper_init=self.mapper_init, mapper_raw=self.mapper_find_messages,
                       mapper_final=self.send_counts, **reduce)]

    def _runner_kwargs(self):
        """Replace local input paths by tar containers of their files (once);
        on Spark, by a list of the containers, which go with the job. Input
        that already is such a list (--container-list) stays as it is."""
        if not hasattr(self, "_packed_input_paths"):
            if self.options.container_list:
                self._packed_input_paths = list(self.options.args)
            elif self.options.runner == "spark":
                self._packed_input_paths = self._ship_containers(self.options.args)
            else:
                self._packed_input_paths = self._pack_local_inputs(self.options.args)
        kwargs = super()._runner_kwargs()
        kwargs["input_paths"] = self._packed_input_paths
        return kwargs

    def _pack_local_inputs(self, input_paths):
        local = [p for p in input_paths if p != "-" and not is_uri(p) and os.path.exists(p)]
        if not local:
            return list(input_paths)
        containers, unpacked = pack_files(
            expand_inputs(local), self._scratch_directory(), self.options.container_bytes)
        others = [p for p in input_paths if p not in local]
        return containers + unpacked + others

    def _scratch_directory(self):
        directory = tempfile.mkdtemp(prefix="jeeves-parse-")
        # containers live as long as this job object (the runner reads them)
        weakref.finalize(self, shutil.rmtree, directory, True)
        return directory

    def _ship_containers(self, input_paths):
        """Spark: pack the inputs, add --container-list and a --container file
        argument for each container, as if given on the command line (so the
        steps and the tasks' arguments say so), and return [a file listing
        the containers' names]. Files that could not be packed are listed by
        path, for the mapper to quarantine."""
        remote = [p for p in input_paths if p == "-" or is_uri(p)]
        if remote:
            raise ValueError("on Spark the parse job reads local files only (it ships them "
                             "with the job), not %s" % ", ".join(remote))
        directory = self._scratch_directory()
        tars, unpacked = pack_files(
            expand_inputs(input_paths), directory, self.options.container_bytes)
        # Spark executors untar shipped files named *.tar into their working
        # directory (the members' paths could overwrite shipped code): rename
        containers = []
        for tar in tars:
            containers.append(tar[:-len(".tar")] + SHIPPED_SUFFIX)
            os.rename(tar, containers[-1])
        self._cl_args = list(self._cl_args) + ["--container-list"] + [
            arg for container in containers for arg in ("--container", container)]
        self.load_args(self._cl_args)
        listing = os.path.join(directory, "containers.txt")
        with open(listing, "w") as handle:
            handle.writelines(os.path.basename(path) + "\n" for path in containers)
            handle.writelines(path + "\n" for path in unpacked)
        return [listing]

    def mapper_init(self):
        """Pick the dedupe key function (--dedupe-by) once per task; on Spark,
        map container names to where the shipped containers are."""
        self.dedupe_key = DEDUPE_KEYS[self.options.dedupe_by]
        self.shipped = {os.path.basename(path): path for path in self.options.containers}
        self.counts = Counter()

    def reducer_init(self):
        self.counts = Counter()

    def send_counts(self):
        """Nothing out; the task's counts as counters, one update per name:
        each update is a line the runner parses, so not one per message."""
        for (group, name), count in sorted(self.counts.items()):
            self.increment_counter(group, name, count)
        self.counts.clear()
        return iter(())

    def mapper_find_messages(self, input_path, input_uri):
        """(path, uri) of one input file -> (["message", dedupe key], record) and
        (["quarantine", uri, index], quarantine record) pairs."""
        for path, uri, relpath in self._files_of(input_path, input_uri):
            yield from self._pairs_in_file(path, uri, relpath)

    def mapper_open_containers(self, _, line):
        """(None, a line naming a shipped container) -> the pairs of
        mapper_find_messages for that container."""
        name = line.strip()
        if name:
            yield from self._pairs_in_file(self.shipped.get(name, name), name,
                                           relpath_of_uri(name))

    def _pairs_in_file(self, path, uri, relpath):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            found_items = [self._unreadable(uri, error)]
        else:
            found_items = iter_found(data, uri, relpath)
        counts = self.counts
        for found in found_items:
            counts["parse", "messages_found"] += 1
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
            self.counts["warnings", warning] += 1
        if kind == "message":
            yield ["message", self.dedupe_key(record)], record
        else:
            self._quarantined(record["reason"])
            yield ["quarantine", found.uri, found.index], record

    def _quarantined(self, reason):
        self.counts["parse", "quarantined"] += 1
        self.counts["quarantine", reason] += 1

    def reducer_dedupe_messages(self, key, records):
        """(["message", dedupe key], records) -> ("message", the preferred record);
        (["quarantine", ...], records) -> ("quarantine", record) for each."""
        if key[0] == "quarantine":
            for record in records:
                yield "quarantine", record
            return
        records = list(records)
        self.counts["parse", "records"] += 1
        if len(records) > 1:
            self.counts["parse", "duplicates"] += len(records) - 1
        yield "message", records[0] if len(records) == 1 else min(records, key=_preference)


if __name__ == "__main__":
    MRParseEmails.run()
