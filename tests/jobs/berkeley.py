"""Parsed records of a slice of the Berkeley Enron set (../shared/data/enron-berkeley).

``berkeley_records(n)`` parses the first ``n`` messages (in file name order)
of each of the eight genre folders with jeeves.features.parsing, as `jeeves parse`
does, and skips the calling test when the data is absent.
"""

import os

import pytest

from jeeves.features.mailformats import expand_inputs, iter_found
from jeeves.features.parsing import DEFAULT_MAX_MESSAGE_BYTES, outcome_of

BERKELEY = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data",
                        "enron-berkeley")


def berkeley_paths(per_folder):
    """The first ``per_folder`` ``.txt`` files of each folder (skips without the data)."""
    if not os.path.isdir(BERKELEY):
        pytest.skip("../shared/data/enron-berkeley not found")
    paths = []
    for folder in sorted(os.listdir(BERKELEY)):
        directory = os.path.join(BERKELEY, folder)
        if os.path.isdir(directory):
            names = sorted(name for name in os.listdir(directory) if name.endswith(".txt"))
            paths += [os.path.abspath(os.path.join(directory, name))
                      for name in names[:per_folder]]
    return paths


def berkeley_records(per_folder):
    """Parsed message records of ``berkeley_paths(per_folder)``."""
    records = []
    for path, uri, relpath in expand_inputs(berkeley_paths(per_folder)):
        with open(path, "rb") as handle:
            data = handle.read()
        for found in iter_found(data, uri, relpath):
            kind, record, _ = outcome_of(found, DEFAULT_MAX_MESSAGE_BYTES)
            if kind == "message":
                records.append(record)
    return records
