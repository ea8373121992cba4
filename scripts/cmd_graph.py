"""`jeeves graph`: parsed messages -> the contact graph under OUT/graph/.

    jeeves graph --input OUT/messages --output OUT [--runner R] [options]

Runs jobs/mr_contact_lists.py and jobs/mr_common_contacts.py with the chosen
runner and writes, sorted by address (or message id), into OUT/graph/:

- ``contacts.jsonl`` / ``contacts.tsv``        sender -> recipients
- ``followers.jsonl`` / ``followers.tsv``      recipient -> senders
- ``totals.jsonl``                             per-address counts
- ``message_features.jsonl``                   per-message contact features
- ``suggestions.jsonl`` / ``suggestions.tsv``  people you may know
- ``hubs.jsonl``                               addresses left out of the common-contact counts

The TSV views are ``A<TAB>[B, C, ...]``. OUT/graph/ is replaced as a whole
only when everything is written, so a failed run never looks finished. The
summary (counts, counters, hubs) goes to OUT/summary.json, ``stages.graph``.
docs/graph.md describes the formats and the choices.
"""

import json
import os
import shutil
import tempfile
import time
from collections import defaultdict

from mrjob.parse import is_uri

from features.graph import pseudonym_key
from jobs.mr_common_contacts import MRCommonContacts
from jobs.mr_contact_lists import MRContactLists
from scripts.cli import UserError
from scripts.cmd_parse import merge_summary
from scripts.runjob import RUNNERS, output_files, run_job

# output kind -> (JSON lines file, TSV view file or None, list field for the view)
OUTPUTS = {
    "contacts": ("contacts.jsonl", "contacts.tsv", "contacts"),
    "followers": ("followers.jsonl", "followers.tsv", "senders"),
    "totals": ("totals.jsonl", None, None),
    "message": ("message_features.jsonl", None, None),
    "suggestions": ("suggestions.jsonl", "suggestions.tsv", "suggestions"),
    "hub": ("hubs.jsonl", None, None),
}


def add_arguments(parser):
    parser.add_argument("--input", required=True, nargs="+", metavar="MESSAGES",
                        help="parsed message records (a messages/ directory or files)")
    parser.add_argument("--output", required=True, metavar="OUT",
                        help="output root; writes OUT/graph/")
    parser.add_argument("--runner", choices=RUNNERS, default="inline",
                        help="mrjob runner (default: %(default)s)")
    parser.add_argument("--max-list", type=int, default=1000,
                        help="longest contacts/followers list per address (default: %(default)s)")
    parser.add_argument("--top-k", type=int, default=10,
                        help="suggestions per address (default: %(default)s)")
    parser.add_argument("--max-degree", type=int, default=1000,
                        help="addresses with more contacts are hubs, left out of the "
                             "common-contact counts (default: %(default)s)")
    parser.add_argument("--reciprocal-only", action="store_true",
                        help="common contacts over two-way edges only")
    parser.add_argument("--pseudonymize", action="store_true",
                        help="replace addresses by a keyed hash; the key is read from "
                             "$JEEVES_PSEUDONYM_KEY and never written")


def _check(args):
    missing = [path for path in args.input if not is_uri(path) and not os.path.exists(path)]
    if missing:
        raise UserError("input not found: %s" % ", ".join(missing))
    for option in ("max_list", "top_k", "max_degree"):
        if getattr(args, option) < 1:
            raise UserError("--%s must be at least 1, not %d"
                            % (option.replace("_", "-"), getattr(args, option)))
    if args.pseudonymize:
        try:
            pseudonym_key()
        except ValueError as error:
            raise UserError(str(error)) from None


def read_job_output(job_output_dir):
    """{kind: [(id, value line bytes)]} from a job's [kind, id] \\t value lines."""
    rows = defaultdict(list)
    for path in output_files(job_output_dir):
        with open(path, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                key, _, value = line.rstrip(b"\n").partition(b"\t")
                kind, identifier = json.loads(key)
                rows[kind].append((identifier, value))
    return rows


def tsv_line(address, entries):
    """The readable view of a list: ``A<TAB>[B, C]`` (addresses only)."""
    return "%s\t[%s]\n" % (address, ", ".join(entry[0] for entry in entries))


def write_outputs(rows, directory):
    """Write every kind's sorted JSON lines (and TSV view); returns
    ({file name: lines}, number of truncated lists)."""
    written, truncated = {}, 0
    for kind, (jsonl_name, tsv_name, list_field) in OUTPUTS.items():
        kind_rows = sorted(rows.get(kind, ()))
        with open(os.path.join(directory, jsonl_name), "wb") as jsonl:
            for _, value in kind_rows:
                jsonl.write(value + b"\n")
        written[jsonl_name] = len(kind_rows)
        if tsv_name is None:
            continue
        with open(os.path.join(directory, tsv_name), "w", encoding="utf-8") as tsv:
            for address, value in kind_rows:
                record = json.loads(value)
                truncated += bool(record.get("truncated"))
                tsv.write(tsv_line(address, record[list_field]))
        written[tsv_name] = len(kind_rows)
    return written, truncated


def build_graph(inputs, output, runner="inline", max_list=1000, top_k=10, max_degree=1000,
                reciprocal_only=False, pseudonymize=False):
    """Run both graph jobs on ``inputs`` and write OUTPUT/graph/; returns a summary dict."""
    started = time.time()
    os.makedirs(output, exist_ok=True)
    final = os.path.join(output, "graph")
    privacy = ["--pseudonymize"] if pseudonymize else []
    with tempfile.TemporaryDirectory(prefix=".graph-job-", dir=output) as scratch:
        lists = run_job(MRContactLists, inputs, os.path.join(scratch, "contact_lists"),
                        runner=runner, args=["--max-list", str(max_list)] + privacy)
        common = run_job(
            MRCommonContacts, inputs, os.path.join(scratch, "common_contacts"), runner=runner,
            args=["--top-k", str(top_k), "--max-degree", str(max_degree)] + privacy
            + (["--reciprocal-only"] if reciprocal_only else []))
        rows = read_job_output(lists.output_dir)
        for kind, kind_rows in read_job_output(common.output_dir).items():
            rows[kind].extend(kind_rows)
        staging = os.path.join(scratch, "graph")
        os.makedirs(staging)
        written, truncated = write_outputs(rows, staging)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
    skipped = {name: count for name, count in lists.counters.get("contact_lists", {}).items()
               if name != "messages"}
    return {
        "runner": runner,
        "messages": lists.counter("contact_lists", "messages"),
        "skipped": skipped,
        "addresses": written["totals.jsonl"],
        "truncated_lists": truncated,
        "max_list": max_list,
        "edges": common.counter("common_contacts", "edges"),
        "one_way_edges_dropped": common.counter("common_contacts", "one_way_edges_dropped"),
        "hubs_skipped": common.counter("common_contacts", "hubs_skipped"),
        "max_degree": max_degree,
        "candidate_pairs": common.counter("common_contacts", "candidate_pairs"),
        "pseudonymized": pseudonymize,
        "files": written,
        "seconds": round(time.time() - started, 3),
    }


def run(args):
    _check(args)
    summary = build_graph(
        args.input, args.output, runner=args.runner, max_list=args.max_list,
        top_k=args.top_k, max_degree=args.max_degree,
        reciprocal_only=args.reciprocal_only, pseudonymize=args.pseudonymize)
    skipped = ", ".join("%d %s" % (count, name) for name, count in sorted(
        summary["skipped"].items())) or "none"
    print("graph: %d messages (skipped: %s), %d addresses, %d edges"
          % (summary["messages"], skipped, summary["addresses"], summary["edges"]))
    print("graph: %d lists truncated at --max-list %d; %d hubs over --max-degree %d "
          "left out of the common-contact counts; %d candidate pairs"
          % (summary["truncated_lists"], summary["max_list"], summary["hubs_skipped"],
             summary["max_degree"], summary["candidate_pairs"]))
    print("graph: wrote %s (%s)" % (os.path.join(args.output, "graph"), ", ".join(
        "%s %d" % (name, lines) for name, lines in sorted(summary["files"].items()))))
    merge_summary(args.output, "graph", summary)
    return 0
