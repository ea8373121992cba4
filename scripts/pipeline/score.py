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
import tempfile
import time

from scripts.pipeline.storage import is_remote, join


def _local_bundle(storage, bundle, scratch):
    """A local directory holding the bundle (downloaded when it lies remotely)."""
    if not is_remote(bundle):
        return bundle
    return storage.get_tree(bundle, scratch)


def score_stage(engine, bundle, messages, predictions, read_flagged=False):
    """Score ``messages`` (URIs or globs of parsed records) with ``bundle``
    -> {"scored", "flagged", "seconds", "tasks"} (and "flagged_rows" with
    ``read_flagged``)."""
    from jobs.mr_score_messages import MRScoreMessages
    from jobs.mr_select_rows import MRSelectRows

    storage = engine.storage
    started = time.time()
    storage.clear(predictions)
    with tempfile.TemporaryDirectory(prefix="jeeves-bundle-") as scratch:
        bundle_dir = _local_bundle(storage, bundle, scratch)
        scores = join(predictions, "scores")
        scored = engine.run(MRScoreMessages, messages, scores,
                            MRScoreMessages.bundle_args(bundle_dir))
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
