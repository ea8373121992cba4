"""The graph stage: parsed messages -> the contact graph under OUTPUT/graph/.

Runs jobs/mr_contact_lists.py and jobs/mr_common_contacts.py. With a local
OUTPUT the driver writes, sorted by address (or message id):

- ``contacts.jsonl`` / ``contacts.tsv``        sender -> recipients
- ``followers.jsonl`` / ``followers.tsv``      recipient -> senders
- ``totals.jsonl``                             per-address counts
- ``message_features.jsonl``                   per-message contact features
- ``suggestions.jsonl`` / ``suggestions.tsv``  people you may know
- ``hubs.jsonl``                               addresses left out of the common-contact counts

The TSV views are ``A<TAB>[B, C, ...]``. OUTPUT/graph/ is replaced as a whole
only when everything is written. With a remote OUTPUT (``hdfs://``,
``s3://``) nothing passes through the driver: OUTPUT/graph/contact_lists/ and
OUTPUT/graph/common_contacts/ are the two jobs' outputs where they lie,
``[kind, id]<TAB>record`` lines of the same records (docs/graph.md), and
OUTPUT/graph/_SUCCESS is written last.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass

from jeeves.errors import UserError
from jeeves.features.graph import (
    COMMON_CONTACTS_SETTINGS,
    CONTACT_LISTS_SETTINGS,
    GRAPH_SETTINGS,
    MAX_DEGREE,
    MAX_LIST,
    PSEUDONYMIZE,
    RECIPROCAL_ONLY,
    TOP_K,
    pseudonym_key,
)
from jeeves.files import replaced_directory
from jeeves.jobs.mr_common_contacts import MRCommonContacts
from jeeves.jobs.mr_contact_lists import MRContactLists
from jeeves.settings import check_settings, job_args
from jeeves.storage import is_remote, join


@dataclass(frozen=True)
class GraphConfig:
    """The graph jobs' settings (docs/graph.md), declared in jeeves.features.graph."""

    max_list: int = MAX_LIST.default
    top_k: int = TOP_K.default
    max_degree: int = MAX_DEGREE.default
    reciprocal_only: bool = RECIPROCAL_ONLY.default
    pseudonymize: bool = PSEUDONYMIZE.default

    def __post_init__(self):
        try:
            check_settings(self, GRAPH_SETTINGS)
        except ValueError as error:
            raise UserError(str(error)) from None
        if self.pseudonymize:
            try:
                pseudonym_key()
            except ValueError as error:
                raise UserError(str(error)) from None

    def lists_args(self):
        return job_args(self, CONTACT_LISTS_SETTINGS)

    def common_args(self):
        return job_args(self, COMMON_CONTACTS_SETTINGS)


SCRATCH_PREFIX = ".graph-job-"

# output kind -> (JSON lines file, TSV view file or None, list field for the view)
OUTPUTS = {
    "contacts": ("contacts.jsonl", "contacts.tsv", "contacts"),
    "followers": ("followers.jsonl", "followers.tsv", "senders"),
    "totals": ("totals.jsonl", None, None),
    "message": ("message_features.jsonl", None, None),
    "suggestions": ("suggestions.jsonl", "suggestions.tsv", "suggestions"),
    "hub": ("hubs.jsonl", None, None),
}


def read_job_output(storage, job_output_dir):
    """{kind: [(id, value line bytes)]} from a job's [kind, id] \\t value lines."""
    rows = defaultdict(list)
    for line in storage.iter_lines(job_output_dir):
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


def graph_stage(engine, messages, output, config=None):
    """Run both graph jobs on ``messages``; write OUTPUT/graph/ -> the stage summary dict."""
    config = config or GraphConfig()
    storage = engine.storage
    started = time.time()
    final = join(output, "graph")
    storage.clear(final)
    if is_remote(output):
        lists = engine.run(MRContactLists, messages, join(final, "contact_lists"),
                           config.lists_args())
        common = engine.run(MRCommonContacts, messages, join(final, "common_contacts"),
                            config.common_args())
        # counted where the records lie; the driver does not read them
        written, truncated, addresses = {}, None, None
    else:
        os.makedirs(output, exist_ok=True)
        # the scratch sits in OUTPUT so the rename is atomic; a killed run leaves its own
        for stale in glob.glob(os.path.join(glob.escape(output), SCRATCH_PREFIX + "*")):
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=output) as scratch:
            lists = engine.run(MRContactLists, messages, os.path.join(scratch, "contact_lists"),
                               config.lists_args())
            common = engine.run(MRCommonContacts, messages,
                                os.path.join(scratch, "common_contacts"), config.common_args())
            rows = read_job_output(storage, lists.output_dir)
            for kind, kind_rows in read_job_output(storage, common.output_dir).items():
                rows[kind].extend(kind_rows)
            with replaced_directory(final) as staging:
                written, truncated = write_outputs(rows, staging)
        addresses = written["totals.jsonl"]
    storage.mark_complete(final)
    skipped = {name: count for name, count in lists.counters.get("contact_lists", {}).items()
               if name != "messages"}
    return {
        "runner": engine.runner,
        "messages": lists.counter("contact_lists", "messages"),
        "skipped": skipped,
        "addresses": addresses,
        "truncated_lists": truncated,
        "max_list": config.max_list,
        "edges": common.counter("common_contacts", "edges"),
        "one_way_edges_dropped": common.counter("common_contacts", "one_way_edges_dropped"),
        "hubs_skipped": common.counter("common_contacts", "hubs_skipped"),
        "max_degree": config.max_degree,
        "candidate_pairs": common.counter("common_contacts", "candidate_pairs"),
        "pseudonymized": config.pseudonymize,
        "files": written,
        "tasks": {"contact_lists": lists.tasks, "common_contacts": common.tasks},
        "seconds": round(time.time() - started, 3),
    }
