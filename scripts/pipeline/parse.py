"""The parse stage: raw mail -> OUTPUT/messages/ and OUTPUT/quarantine/.

Runs jobs/mr_parse_emails.py on the engine's runner. Then:

- OUTPUT local: the driver splits the job's output (on its own disk) into
  message records sorted by ``message_id`` and quarantine records sorted
  by source, so the files never depend on the runner or the number of
  tasks; on the inline and local runners the job runs without its reducer
  (``--map-only``) and the driver dedupes the records as the reducer does;
- OUTPUT remote (``hdfs://``, ``s3://``): the job writes its records as
  bare lines (``--bare-messages``) and no record passes through the
  driver. When its counters add up and nothing was quarantined (the usual
  case) its output becomes messages/ as it stands (an HDFS rename, an S3
  server-side copy); else map-only jobs (jobs/mr_select_rows.py) split it
  where it lies, none for a kind the counters count no row of. Part files
  then follow the reducers' key order.

Each directory gets its ``_SUCCESS`` marker once written. Returns the stage
counts (read, parsed, quarantined, duplicates, seconds, runner, reconciled,
tasks) without printing.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import ujson
from mrjob.parse import is_uri

from jeeves.errors import UserError
from jeeves.features.kernel import index_lines, message_sort_key
from jeeves.features.parsing import DEDUPE_BY, MAX_MESSAGE_BYTES
from jeeves.files import replaced_directory
from jeeves.pipeline.parse_inputs import DEFAULT_SPLIT_BYTES, plan_inputs
from jeeves.storage import SUCCESS, is_remote, join

KINDS = ("message", "quarantine")
OUTPUT_DIRS = {"message": "messages", "quarantine": "quarantine"}
PART_BYTES = 64 * 1024 * 1024
WRITE_BUFFER = 1 << 20


def _sort_key(kind, record):
    """Messages by id then source, quarantine records by source then reason:
    the files never depend on the order in which the job emitted them."""
    source = record.get("source") or {}
    by_source = (str(source.get("uri")), source.get("index") or 0, source.get("offset") or 0)
    if kind == "message":
        return (str(record.get("message_id")),) + by_source
    return by_source + (str(record.get("reason")), str(record.get("detail")))


class _Parts:
    """The job's part files mapped into memory (read-only), by path: a line
    is found and sliced without reading the file through Python line by
    line, nor each record with a seek and a read of its own."""

    def __init__(self):
        self._maps = {}

    def open(self, path):
        """The file's bytes (an mmap; b"" when empty)."""
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                data = b""
            else:
                data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps[path] = data
        return data

    def read(self, path, offset, length):
        return self._maps[path][offset:offset + length]

    def close(self):
        for data in self._maps.values():
            if isinstance(data, mmap.mmap):
                data.close()
        self._maps.clear()


def _lines(data):
    """(start, key bytes, value start, value end) of each non-blank line of
    ``data``: the key up to the first tab, the value after it without its
    line end (no tab: all the line is the key, the value is empty)."""
    size, start = len(data), 0
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        line_start, start = start, end + 1
        if (line_start == end or data[line_start:line_start + 1].isspace()) \
                and not data[line_start:end].strip():
            continue  # blank (the whole line is copied only if it starts blank)
        tab = data.find(b"\t", line_start, end)
        if tab < 0:
            yield line_start, data[line_start:end], end, end
        else:
            yield line_start, data[line_start:tab], tab + 1, end


def _indexed_lines(path, data):
    """(key bytes, value start, value end, sort key or None) of each non-blank
    line of the part file ``path`` (its bytes ``data``): cut and keyed natively
    (jeeves.features.kernel.index_lines: the file is read once more, into
    bytes, the kernel taking no mmap), else by :func:`_lines`, a message's
    key read natively when it can be. A message row's key is the same either
    way, and the same as the decoded record's (tests/scripts/test_parse_split.py)."""
    if data:
        with open(path, "rb") as handle:
            lines = index_lines(handle.read())
        if lines is not None:
            return lines
    return [(raw_key, value_start, value_end,
             message_sort_key(data[value_start:value_end])
             if raw_key.startswith(b'["message"') or raw_key == b'"message"' else None)
            for _, raw_key, value_start, value_end in _lines(data)]


def _index_job_output(paths, parts):
    """{kind: [(sort key, (part path, offset, length))]} for the job's output
    lines, and {dedupe key: [entry, ...]} of the message rows of a map-only
    job (``--map-only``: keys ``["message", dedupe key]``; empty for the
    reducers' ``"message"`` rows, already deduped). ``parts``: a
    :class:`_Parts` that keeps the files open for the entries."""
    index = {kind: [] for kind in KINDS}
    by_dedupe_key = {}
    files = [(path, parts.open(path)) for path in paths]
    # the files read and cut at once: the kernel lets go of the GIL while it
    # cuts one (index_lines), as Python does while it reads one
    with ThreadPoolExecutor(max_workers=max(1, min(len(files), os.cpu_count() or 1))) as pool:
        indexed = list(pool.map(lambda found: _indexed_lines(*found), files))
    for (path, data), lines in zip(files, indexed):
        for raw_key, value_start, value_end, sort_key in lines:
            key = ujson.loads(raw_key)
            kind = key[0] if isinstance(key, list) else key
            if kind != "message":
                sort_key = None
            if sort_key is None:
                sort_key = _sort_key(kind, ujson.loads(data[value_start:value_end]))
            entry = (sort_key, (path, value_start, value_end - value_start))
            if kind == "message" and isinstance(key, list):
                by_dedupe_key.setdefault(key[1], []).append(entry)
            else:
                index[kind].append(entry)
    return index, by_dedupe_key


def _dedupe(by_dedupe_key, messages, parts):
    """The map-only job's message rows deduped as its reducer does (one record
    per dedupe key, the first by jobs.mr_parse_emails._preference, written as
    the reducer writes it) into ``messages`` -> the duplicates dropped."""
    from jeeves.jobs.mr_parse_emails import MRParseEmails, preferred

    duplicates = 0
    for entries in by_dedupe_key.values():
        if len(entries) == 1:
            messages.append(entries[0])
            continue
        duplicates += len(entries) - 1
        record = preferred([parts.read(*where) for _, where in entries])
        line = MRParseEmails.OUTPUT_PROTOCOL().write("message", record)
        # the record chosen, as the reducer writes it: its value itself
        messages.append((_sort_key("message", record), line.partition(b"\t")[2]))
    return duplicates


def _write_sorted(entries, directory, parts):
    """Write the indexed values in sort order as JSON lines, in part files of
    the (empty) ``directory``. An entry holds where its value is in the part
    files (path, offset, length), or the value itself (bytes)."""
    entries.sort(key=lambda entry: entry[0])
    part_number, part, written = 0, None, 0
    try:
        for _, where in entries:
            if part is None or written >= PART_BYTES:
                if part is not None:
                    part.close()
                    part_number += 1
                # a large buffer: a record (~2.5 KB) a write call, ~64 system calls a part
                part = open(os.path.join(directory, "part-%05d" % part_number), "wb",
                            buffering=WRITE_BUFFER)
                written = 0
            value = where if isinstance(where, bytes) else parts.read(*where)
            part.write(value)
            part.write(b"\n")
            written += len(value) + 1
        if part is None:
            open(os.path.join(directory, "part-00000"), "wb").close()
    finally:
        if part is not None:
            part.close()


def split_job_output(part_paths, output_dir, with_duplicates=False):
    """Local job output -> OUTPUT/messages/ and OUTPUT/quarantine/ (sorted),
    the message rows of a map-only job deduped; returns {kind: lines
    written} (and the duplicates dropped, with ``with_duplicates``). Each
    directory is built aside and renamed."""
    parts = _Parts()
    try:
        index, by_dedupe_key = _index_job_output(part_paths, parts)
        duplicates = _dedupe(by_dedupe_key, index["message"], parts)
        counts = {}
        for kind in KINDS:
            with replaced_directory(os.path.join(output_dir, OUTPUT_DIRS[kind])) as staging:
                _write_sorted(index[kind], staging, parts)
            counts[kind] = len(index[kind])
    finally:
        parts.close()
    return (counts, duplicates) if with_duplicates else counts


def check_inputs(paths):
    """Raise UserError naming the local inputs that do not exist or cannot be read."""
    missing = [path for path in paths if not is_uri(path) and not os.path.exists(path)]
    if missing:
        raise UserError("input not found: %s" % ", ".join(missing))
    unreadable = [path for path in paths if not is_uri(path) and not os.access(path, os.R_OK)]
    if unreadable:
        raise UserError("input not readable: %s" % ", ".join(unreadable))


def parse_stage(engine, inputs, output, dedupe_by="message_id",
                max_message_bytes=MAX_MESSAGE_BYTES.default, split_size=DEFAULT_SPLIT_BYTES):
    """Run the parse job; write OUTPUT/messages/ and OUTPUT/quarantine/ (module docstring).

    The inputs become the job's work lists first (scripts/pipeline/parse_inputs.py:
    containers of small files, byte ranges of mbox files over ``split_size``).
    """
    from jeeves.jobs.mr_parse_emails import MRParseEmails

    check_inputs(inputs)
    if split_size < 1:
        raise UserError("--split-size must be at least 1, not %d" % split_size)
    try:
        MAX_MESSAGE_BYTES.check(max_message_bytes)
        DEDUPE_BY.check(dedupe_by)
    except ValueError as error:
        raise UserError(str(error)) from None
    storage = engine.storage
    for kind in KINDS:
        storage.clear(join(output, OUTPUT_DIRS[kind]))
    started = time.time()
    job_args = MAX_MESSAGE_BYTES.job_args(max_message_bytes) + DEDUPE_BY.job_args(dedupe_by)
    with tempfile.TemporaryDirectory(prefix="jeeves-parse-") as scratch:
        try:
            plan = plan_inputs(inputs, scratch, runner=engine.runner, split_size=split_size)
        except ValueError as error:
            raise UserError(str(error)) from None
        job_args += plan.job_args
        if is_remote(output):
            work = join(output, "_work", "parse")
            result = engine.run(MRParseEmails, plan.work_list_paths, work,
                                job_args + ["--bare-messages"])
            written = _split_remotely(engine, work, output, result)
            storage.clear(join(output, "_work"))
        else:
            # on this machine the driver reads every record to sort them: it
            # dedupes them too, and the job needs no reducer (nor its sort and
            # task processes); a cluster's job dedupes where it runs
            here = not engine.on_cluster
            job_output = os.path.join(scratch, "output")
            result = engine.run(MRParseEmails, plan.work_list_paths, job_output,
                                job_args + (["--map-only"] if here else []))
            os.makedirs(output, exist_ok=True)
            written, duplicates = split_job_output(storage.part_files(job_output), output,
                                                   with_duplicates=True)
            if here:
                parse_counters = result.counters.setdefault("parse", {})
                parse_counters["records"] = written["message"]
                parse_counters["duplicates"] = duplicates
    for kind in KINDS:
        storage.mark_complete(join(output, OUTPUT_DIRS[kind]))
    found = result.counter("parse", "messages_found")
    records = result.counter("parse", "records")
    quarantined = result.counter("parse", "quarantined")
    duplicates = result.counter("parse", "duplicates")
    reconciled = (found == records + quarantined + duplicates
                  and written == {"message": records, "quarantine": quarantined})
    return {
        "read": found, "parsed": records, "quarantined": quarantined,
        "duplicates": duplicates, "seconds": round(time.time() - started, 3),
        "runner": engine.runner, "reconciled": reconciled,
        "written": written, "tasks": result.tasks, "hints": plan.hints,
        "work_items": plan.items, "ranges": plan.ranges,
        "quarantine_reasons": result.counters.get("quarantine", {}),
        "warnings": result.counters.get("warnings", {}),
    }


def _split_remotely(engine, work, output, result):
    """The parse job's output where it lies (``--bare-messages``: record lines
    bare, quarantine rows keyed) -> messages/ and quarantine/.

    When the job's counters add up (found = records + quarantined +
    duplicates), a kind they account for with no row (nothing quarantined,
    the usual case; or no message) gets an empty part file, and if nothing
    was quarantined the job's output is messages/ as it stands: moved there
    (Storage.move_tree: an HDFS rename, an S3 server-side copy), no job at
    all. Else, or where the storage cannot move it, a map-only job selects
    each kind's rows (MRSelectRows, about 13 s of a Hadoop run each).
    Counters that do not add up are not trusted: both jobs run."""
    from jeeves.jobs.mr_select_rows import MRSelectRows

    counted = {"message": result.counter("parse", "records"),
               "quarantine": result.counter("parse", "quarantined")}
    found = result.counter("parse", "messages_found")
    trusted = found > 0 and found == (counted["message"] + counted["quarantine"]
                                      + result.counter("parse", "duplicates"))
    written = {}
    storage = engine.storage
    if trusted and counted["quarantine"] == 0:
        # the job's own _SUCCESS stays behind: messages/ is marked complete
        # only when the whole stage is (parse_stage)
        storage.clear(join(work, SUCCESS))
        if storage.move_tree(work, join(output, OUTPUT_DIRS["message"])):
            written["message"] = counted["message"]
    for kind in KINDS:
        if kind in written:
            continue
        directory = join(output, OUTPUT_DIRS[kind])
        if trusted and counted[kind] == 0:
            storage.write_bytes(join(directory, "part-00000"), b"")
            written[kind] = 0
            continue
        selected = engine.run(MRSelectRows, [join(work, "part-*")], directory,
                              ["--key", kind, "--unkeyed", "message"])
        written[kind] = selected.counter("select_rows", "selected")
    return written
