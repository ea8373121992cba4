"""`jeeves parse`: raw mail to DIR/messages/ and DIR/quarantine/.

Runs jobs/mr_parse_emails.py with the chosen runner, splits its output into
JSON lines of message records (sorted by message_id) and quarantine records
(sorted by source), prints the reconciliation line

    parse: found N = R records + Q quarantined + D duplicates

and merges the counts into DIR/summary.json (``stages.parse``). Exits 1 when
the counts do not reconcile.
"""

import json
import os
import shutil
import sys
import tempfile
import time

from mrjob.parse import is_uri

from features.parsing import DEFAULT_MAX_MESSAGE_BYTES
from jobs.mr_parse_emails import MRParseEmails
from scripts.cli import UserError
from scripts.pipeline.parse_inputs import DEFAULT_SPLIT_BYTES, plan_inputs
from scripts.runjob import RUNNERS, output_files, run_job

KINDS = ("message", "quarantine")
OUTPUT_DIRS = {"message": "messages", "quarantine": "quarantine"}
PART_BYTES = 64 * 1024 * 1024


def add_arguments(parser):
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="mail files or directories (mbox, maildir, .eml, .gz/.bz2, "
                             "JSON lines of parsed records)")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="writes DIR/messages/, DIR/quarantine/ and DIR/summary.json")
    parser.add_argument("--runner", choices=RUNNERS, default="inline",
                        help="mrjob runner (default: %(default)s)")
    parser.add_argument("--dedupe-by", choices=("message_id", "content"), default="message_id",
                        help="collapse records with equal Message-ID, or equal content "
                             "(Enron: folder copies have their own ids) (default: %(default)s)")
    parser.add_argument("--max-message-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES,
                        help="cut larger messages to this size, flagged (default: %(default)s)")
    parser.add_argument("--split-size", type=int, default=DEFAULT_SPLIT_BYTES, metavar="BYTES",
                        help="cut uncompressed mbox files larger than this into byte ranges, "
                             "one map task each (default: %(default)s)")


def _sort_key(kind, record):
    """Messages by id then source, quarantine records by source then reason:
    the files never depend on the order in which the job emitted them."""
    source = record.get("source") or {}
    by_source = (str(source.get("uri")), source.get("index") or 0, source.get("offset") or 0)
    if kind == "message":
        return (str(record.get("message_id")),) + by_source
    return by_source + (str(record.get("reason")), str(record.get("detail")))


def _index_job_output(job_output_dir):
    """{kind: [(sort key, part path, offset, length)]} for the job's output lines."""
    index = {kind: [] for kind in KINDS}
    for path in output_files(job_output_dir):
        with open(path, "rb") as handle:
            offset = 0
            for line in handle:
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                key, _, value = line.partition(b"\t")
                kind = json.loads(key)
                value_start = start + len(key) + 1
                index[kind].append((_sort_key(kind, json.loads(value)), path,
                                    value_start, len(value.rstrip(b"\n"))))
    return index


def _write_sorted(entries, directory):
    """Write the indexed values in sort order as JSON lines, in part files."""
    os.makedirs(directory)
    entries.sort(key=lambda entry: entry[0])
    handles = {}
    part_number, part = 0, None
    try:
        for _, path, offset, length in entries:
            if part is None or part.tell() >= PART_BYTES:
                if part is not None:
                    part.close()
                    part_number += 1
                part = open(os.path.join(directory, "part-%05d" % part_number), "wb")
            source = handles.get(path) or handles.setdefault(path, open(path, "rb"))
            source.seek(offset)
            part.write(source.read(length) + b"\n")
        if part is None:
            open(os.path.join(directory, "part-00000"), "wb").close()
    finally:
        if part is not None:
            part.close()
        for handle in handles.values():
            handle.close()


def split_job_output(job_output_dir, output_dir):
    """Job output -> OUTPUT/messages/ and OUTPUT/quarantine/; returns line counts."""
    index = _index_job_output(job_output_dir)
    counts = {}
    for kind in KINDS:
        final = os.path.join(output_dir, OUTPUT_DIRS[kind])
        staging = final + ".tmp"
        shutil.rmtree(staging, ignore_errors=True)
        _write_sorted(index[kind], staging)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        counts[kind] = len(index[kind])
    return counts


def merge_summary(output_dir, stage, values):
    """Set ``stages[stage]`` in OUTPUT/summary.json, keeping the rest."""
    path = os.path.join(output_dir, "summary.json")
    summary = {}
    if os.path.exists(path):
        with open(path) as handle:
            summary = json.load(handle)
    summary.setdefault("stages", {})[stage] = values
    with open(path + ".tmp", "w") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(path + ".tmp", path)
    return summary


def check_inputs(paths):
    """Raise UserError naming the local inputs that do not exist."""
    missing = [path for path in paths if not is_uri(path) and not os.path.exists(path)]
    if missing:
        raise UserError("input not found: %s" % ", ".join(missing))


def parse_mail(inputs, output, runner="inline", dedupe_by="message_id",
               max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES, split_size=DEFAULT_SPLIT_BYTES):
    """Run the parse job; write OUTPUT/messages/ and OUTPUT/quarantine/.

    Returns the stage counts (read, parsed, quarantined, duplicates, seconds,
    runner, reconciled, tasks, hints) and prints the reconciliation line.
    """
    check_inputs(inputs)
    if max_message_bytes <= 0:
        raise UserError("--max-message-bytes must be positive, not %d" % max_message_bytes)
    os.makedirs(output, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=".parse-job-", dir=output) as scratch:
        job_output = os.path.join(scratch, "output")
        try:
            plan = plan_inputs(inputs, scratch, runner=runner, split_size=split_size)
        except ValueError as error:
            raise UserError(str(error)) from None
        result = run_job(MRParseEmails, plan.work_list_paths, job_output, runner=runner,
                         args=["--max-message-bytes", str(max_message_bytes),
                               "--dedupe-by", dedupe_by] + plan.job_args)
        written = split_job_output(job_output, output)
    found = result.counter("parse", "messages_found")
    records = result.counter("parse", "records")
    quarantined = result.counter("parse", "quarantined")
    duplicates = result.counter("parse", "duplicates")
    print("parse: found %d = %d records + %d quarantined + %d duplicates"
          % (found, records, quarantined, duplicates))
    reconciled = (found == records + quarantined + duplicates
                  and written == {"message": records, "quarantine": quarantined})
    if not reconciled:
        print("jeeves parse: error: counts do not reconcile (written: %d records, "
              "%d quarantined)" % (written["message"], written["quarantine"]), file=sys.stderr)
    return {
        "read": found, "parsed": records, "quarantined": quarantined,
        "duplicates": duplicates, "seconds": round(time.time() - started, 3),
        "runner": runner, "reconciled": reconciled,
        "quarantine_reasons": result.counters.get("quarantine", {}),
        "warnings": result.counters.get("warnings", {}),
        "tasks": result.counters.get("tasks", {}), "hints": plan.hints,
    }


def run(args):
    stage = parse_mail(args.input, args.output, runner=args.runner, dedupe_by=args.dedupe_by,
                       max_message_bytes=args.max_message_bytes, split_size=args.split_size)
    merge_summary(args.output, "parse", stage)
    return 0 if stage["reconciled"] else 1
