"""The score stage: parsed messages -> OUTPUT/predictions/ with a model bundle.

jobs/mr_score_messages.py ships the bundle to the tasks, which verify its
checksums before scoring any record, and writes one
``{"message_id", "score", "label", "source"}`` line per message to
``predictions/scores/``; a map-only job (jobs/mr_select_rows.py) keeps the
flagged ones (label 1) in ``predictions/flagged/``, the only part the driver
reads back (to count or notify them). ``predictions/_SUCCESS`` is last.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from jeeves.errors import UserError
from jeeves.storage import SUCCESS, basename, is_remote, join


def _bundle_files(storage, bundle):
    """The bundle as the job ships it: a local directory, or its files' URIs
    (mrjob ships those from where they lie; the driver reads none of them)."""
    if not is_remote(bundle):
        if not os.path.isdir(bundle):
            raise UserError("no model bundle at %s (not a directory)" % bundle)
        files = [os.path.join(bundle, name) for name in sorted(os.listdir(bundle))
                 if os.path.isfile(os.path.join(bundle, name)) and name != SUCCESS]
    else:
        files = [uri for uri in storage.fs.ls(bundle) if basename(uri) != SUCCESS]
    if not files:
        raise UserError("no model bundle at %s" % bundle)
    return files


def score_stage(engine, bundle, messages, predictions, read_flagged=False):
    """Score ``messages`` (URIs or globs of parsed records) with ``bundle``
    -> {"scored", "flagged", "seconds", "tasks"} (and "flagged_rows" with
    ``read_flagged``)."""
    from jeeves.jobs.mr_score_messages import MRScoreMessages, bundle_file_args
    from jeeves.jobs.mr_select_rows import MRSelectRows

    storage = engine.storage
    started = time.time()
    storage.clear(predictions)
    with tempfile.TemporaryDirectory(prefix="jeeves-bundle-") as scratch:
        if is_remote(bundle) and not engine.on_cluster:
            # mrjob's local runners ship local files only; a bundle is small
            bundle = storage.get_tree(bundle, scratch)
        try:
            bundle_args = bundle_file_args(_bundle_files(storage, bundle))
        except ValueError as error:
            raise UserError(str(error)) from None
        scores = join(predictions, "scores")
        scored = engine.run(MRScoreMessages, messages, scores, bundle_args)
    flagged_dir = join(predictions, "flagged")
    flagged = engine.run(MRSelectRows, [join(scores, "part-*")], flagged_dir,
                         ["--field", "label", "--equals", "1"])
    storage.mark_complete(predictions)
    summary = {"scored": scored.counter("score_messages", "scored"),
               "flagged": flagged.counter("select_rows", "selected"),
               "seconds": round(time.time() - started, 3),
               "tasks": {"score_messages": scored.tasks, "select_rows": flagged.tasks}}
    if read_flagged:
        summary["flagged_rows"] = [json.loads(line) for line in storage.iter_lines(flagged_dir)
                                   if line.strip()]
    return summary
