"""What a `jeeves run` wrote, in a form two runs can be compared in.

``snapshot(out)`` maps every file under OUT (relative path) to its bytes,
with only what is a timing, a path or the serializer's own bookkeeping
taken out:

- ``summary.json``: the keys ``seconds`` and ``seconds_total`` (each stage's
  and each model's durations; the features stage's ``seconds`` dict of
  per-job timings), the seconds column of ``table``, OUT itself in the
  ``report`` and ``bundle`` paths (written ``OUT``), and the driver's
  ``bytes_written`` of the features and train stages (they write the
  timings above, so their byte counts follow the timings' digits);
- ``features/summary.json``: its ``seconds`` (per-job timings);
- ``report/report.md`` and ``report.html``: the seconds column of the model
  comparison table (the last cell of its rows);
- ``model/metadata.json``: ``created`` (the bundle's timestamp);
- a ``_SUCCESS`` marker with a stage's record (scripts/pipeline/fingerprint.py):
  its fingerprint only (the rest is the stage's timings and part files).

``model/estimator.skops`` is compared byte for byte (and its sha256 in
metadata.json): models/bundle.py's ``dump_estimator`` writes it without
skops' ``id()``-based names and zip times.

With ``merge_parts`` the ``part-*`` files of a directory become one entry
(``DIR/part-*``: their lines, sorted), for outputs split by the number of
tasks (tf-idf vectors, counts...). Everything else is compared byte for
byte.
"""

import json
import os
import re

from tests.fixtures.tiny_corpus import message_text, write_corpus

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TIMING_KEYS = ("seconds", "seconds_total")
TIMED_STAGES = ("features", "train")
# a model comparison row's last cell is its duration in seconds
MD_SECONDS = re.compile(r"^(\|(?: [^|]* \|){8}) [0-9.e+-]+ \|$", re.M)
HTML_SECONDS = re.compile(r"^(<tr>(?:<td>[^<]*</td>){8})<td>[0-9.e+-]+</td></tr>$", re.M)


def drop_keys(value, keys):
    if isinstance(value, dict):
        return {name: drop_keys(item, keys) for name, item in value.items() if name not in keys}
    if isinstance(value, list):
        return [drop_keys(item, keys) for item in value]
    return value


def _table_without_seconds(table):
    """The plain-text model table minus its last column (seconds)."""
    return "\n".join(line.rsplit(None, 1)[0] if line.strip() else line
                     for line in table.splitlines())


def normalized_summary(data, out):
    summary = drop_keys(json.loads(data), TIMING_KEYS)
    if "table" in summary:
        summary["table"] = _table_without_seconds(summary["table"])
    for stage in TIMED_STAGES:
        summary.get("driver_bytes", {}).get(stage, {}).pop("bytes_written", None)
    for key in ("report", "bundle"):
        if key in summary:
            summary[key] = summary[key].replace(str(out), "OUT")
    return json.dumps(summary, indent=1, sort_keys=True).encode("utf-8")


def normalized(relative, data, out):
    """One file's bytes with the timings, paths and ids taken out (module docstring)."""
    if relative.rsplit("/", 1)[-1] == "_SUCCESS" and data.strip():
        return json.loads(data)["fingerprint"].encode()
    if relative == "summary.json":
        return normalized_summary(data, out)
    if relative == "features/summary.json":
        return json.dumps(drop_keys(json.loads(data), ("seconds",)), sort_keys=True).encode()
    if relative == "report/report.md":
        return MD_SECONDS.sub(r"\1", data.decode("utf-8")).encode("utf-8")
    if relative == "report/report.html":
        return HTML_SECONDS.sub(r"\1", data.decode("utf-8")).encode("utf-8")
    if relative == "model/metadata.json":
        metadata = json.loads(data)
        metadata.pop("created")
        return json.dumps(metadata, sort_keys=True).encode()
    return data


def snapshot(out, merge_parts=False, only=None):
    """{relative path: normalized bytes} of every file under ``out`` (module
    docstring); ``only``: the top-level names to include (default all)."""
    found = {}
    for root, _, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, out).replace(os.sep, "/")
            if only is not None and relative.split("/", 1)[0] not in only:
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            if merge_parts and name.startswith("part-"):
                key = relative.rsplit("/", 1)[0] + "/part-*"
                found.setdefault(key, []).extend(data.splitlines(keepends=True))
                continue
            found[relative] = normalized(relative, data, out)
    for key, value in found.items():
        if isinstance(value, list):
            found[key] = b"".join(sorted(value))
    return found


def differences(left, right):
    """The relative paths that differ between two snapshots (missing on either side too)."""
    return sorted(name for name in set(left) | set(right) if left.get(name) != right.get(name))


def write_inputs(root):
    """The hand-written corpus (tests/fixtures/tiny_corpus.py), plus a file
    that is not mail and a duplicate message, so quarantine/ and the
    duplicate count are not empty."""
    write_corpus(root)
    with open(os.path.join(root, "other", "zz-binary.eml"), "wb") as handle:
        handle.write(bytes(range(256)) * 4)
    with open(os.path.join(root, "other", "zz-copy.eml"), "w") as handle:
        handle.write(message_text("other", 0, "Gas prices report", "the same message id"))


def task_conf(path, tasks):
    """Write a mrjob.conf that includes the project's and runs ``tasks`` map and
    reduce tasks per step on the local runner -> its path. The local runner
    sizes its tasks by ``num_cores`` and ignores ``mapreduce.job.maps`` and
    ``mapreduce.job.reduces`` (mrjob/sim.py); the jobconf is there for Hadoop."""
    with open(path, "w") as handle:
        handle.write("include: %s\nrunners:\n  local:\n    num_cores: %d\n    jobconf:\n"
                     "      mapreduce.job.maps: \"%d\"\n      mapreduce.job.reduces: \"%d\"\n"
                     % (os.path.join(REPO, "mrjob.conf"), tasks, tasks, tasks))
    return path
