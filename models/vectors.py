"""Read the reduced features back for training: the tf-idf svmlight files.

The tf-idf job writes one svmlight line per message, ``label id:weight ...
# message_id``, with zero-based feature ids from ``vocabulary.tsv`` (tab
separated: term, id, df, idf). ``load_svmlight_file`` ignores the trailing
comment, so the message ids are read from the same lines here and kept in
row order. The vocabulary is read by jeeves.features.vocabulary.read_vocabulary_by_id.
"""

import io
import json
import os

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

from jeeves.features.parts import part_files


def _expand(paths):
    """The files under ``paths``: a file is itself, a directory its part files
    (jeeves.features.parts.part_files)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            files.extend(part_files(path))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise ValueError("no such vectors file or directory: %s" % path)
    return files


_DECODER = json.JSONDecoder()


def labelled_line(line, path, number):
    """(message id, record or None) of an svmlight line's comment, after the
    first ``" # "``: a JSON string (jeeves.features.tfidf.svmlight_line), then, from
    the label job with ``--records``, one space and the message's record."""
    _, separator, comment = line.partition(b" # ")
    message_id, record = None, None
    if separator:
        text = comment.decode("utf-8", errors="replace")
        try:
            message_id, end = _DECODER.raw_decode(text)
            rest = text[end:].strip()
            if rest:
                record = json.loads(rest)
        except ValueError:
            message_id = None
    if not isinstance(message_id, str) or not message_id or (
            record is not None and not isinstance(record, dict)):
        raise ValueError("%s:%d: svmlight line without a '# \"message_id\"' comment"
                         % (path, number))
    return message_id, record


def message_id_of_line(line, path, number):
    """The message id of an svmlight line (``labelled_line``'s first part)."""
    return labelled_line(line, path, number)[0]


def load_vectors(paths, n_features):
    """Read svmlight files (or directories of part files) -> (X, message_ids).

    X is a CSR matrix of shape (lines, n_features) with zero-based feature
    ids; message_ids lists the id in each line's trailing comment, in row
    order. Blank lines and comment-only lines are skipped, as
    load_svmlight_file does.
    """
    blocks, message_ids = [], []
    for path in _expand(paths):
        with open(path, "rb") as handle:
            lines = [line for line in handle.read().splitlines()
                     if line.strip() and not line.lstrip().startswith(b"#")]
        if not lines:
            continue
        message_ids.extend(message_id_of_line(line, path, number)
                           for number, line in enumerate(lines, 1))
        try:
            X, _ = load_svmlight_file(io.BytesIO(b"\n".join(lines) + b"\n"),
                                      n_features=n_features, zero_based=True)
        except ValueError as error:
            raise ValueError("%s: %s" % (path, error)) from None
        blocks.append(X)
    if not blocks:
        return sp.csr_matrix((0, n_features), dtype=np.float64), []
    return sp.vstack(blocks, format="csr"), message_ids


def join_labels(X, message_ids, labels):
    """Keep the rows whose message id has a 0/1 label -> (X_labelled, y, ids_labelled).

    `labels` maps message_id -> 0, 1 or None; missing and None are unlabelled.
    """
    rows = [row for row, message_id in enumerate(message_ids)
            if labels.get(message_id) is not None]
    y = np.array([labels[message_ids[row]] for row in rows], dtype=int)
    return X[rows], y, [message_ids[row] for row in rows]
