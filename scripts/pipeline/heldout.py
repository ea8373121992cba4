"""The held-out test stage of `jeeves run --test-input PATH... [--test-labels SPEC]`.

A second corpus goes through the same jobs as the training one, under
OUTPUT/test/, but is vectorized with the *training* vocabulary and idf (it
adds no term and changes no weight):

- ``test/messages/``, ``test/quarantine/``  the parse job (scripts/pipeline/parse.py)
- ``test/features/tfidf/``                  jobs/mr_tfidf_vectors.py with the
  run's analyzer and OUTPUT/features/vocabulary.tsv (no counting job: document
  frequencies are the training corpus')
- ``test/features/labelled/``               the label job with the test SPEC

The train stage reads the labelled test vectors (the test set's labelled
messages only) and scores them with the chosen model: the held-out figures
of the report and of summary.json (scripts/pipeline/train.py).
"""

from __future__ import annotations

import os
import tempfile
import time

from jeeves.features.text import analyzer_args, config_with_defaults
from jeeves.pipeline.features import vector_job_args, write_stop_words
from jeeves.pipeline.parse import parse_stage
from jeeves.pipeline.train import label_stage
from jeeves.storage import is_remote, join

TEST_DIR = "test"
# the stage directories of OUTPUT/test/ a run rewrites
WRITTEN = ("test/messages", "test/quarantine", "test/features", "test/features/labelled")


def heldout_stage(engine, inputs, spec, output, analyzer_config, settings,
                  dedupe_by="message_id", records=None):
    """Parse, vectorize (training vocabulary) and label the test inputs
    -> (OUTPUT/test/features/labelled URI, stage summary dict)."""
    from jeeves.jobs.mr_tfidf_vectors import MRTfidfVectors

    storage = engine.storage
    started = time.time()
    test_output = join(output, TEST_DIR)
    parse = parse_stage(engine, list(inputs), test_output, dedupe_by=dedupe_by)
    messages = [join(test_output, "messages", "part-*")]
    features_dir = join(test_output, "features")
    storage.clear(features_dir)
    config = config_with_defaults(analyzer_config)
    training_vocabulary = join(output, "features", "vocabulary.tsv")
    with tempfile.TemporaryDirectory(prefix="jeeves-test-") as scratch:
        stop_words_file = write_stop_words(config, scratch)
        if engine.on_cluster and is_remote(training_vocabulary):
            vocabulary = training_vocabulary
        else:
            vocabulary = os.path.join(scratch, "vocabulary.tsv")
            with open(vocabulary, "wb") as handle:
                handle.write(storage.read_bytes(training_vocabulary))
        vectors = engine.run(MRTfidfVectors, messages, join(features_dir, "tfidf"),
                             analyzer_args(config, stop_words_file)
                             + vector_job_args(vocabulary, settings))
    storage.mark_complete(features_dir)
    labelled, labels = label_stage(engine, spec, join(test_output, "messages"),
                                   join(features_dir, "tfidf"), list(inputs), test_output,
                                   records=records)
    summary = {
        "parse": {key: parse[key] for key in ("read", "parsed", "quarantined", "duplicates")},
        "labels": labels,
        "documents": vectors.counter("tfidf_vectors", "vectors"),
        "tasks": {"tfidf_vectors": vectors.tasks,
                  "label_messages": labels["tasks"]},
        "seconds": round(time.time() - started, 3),
    }
    return labelled, summary
