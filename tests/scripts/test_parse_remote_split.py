"""The parse stage's split where OUT is remote (scripts/pipeline/parse.py
``_split_remotely``): a map-only job per kind of row, but none for a kind
the parse job's counters account for with no row."""

import os

from jeeves.pipeline.parse import _split_remotely
from jeeves.runjob import JobResult
from jeeves.storage import Storage


class _Engine:
    """Records the jobs it is asked to run; each selects ``selected`` rows."""

    def __init__(self, selected=7):
        self.storage = Storage()
        self.runs = []
        self.selected = selected

    def run(self, job_class, inputs, output, args=()):
        self.runs.append((job_class.__name__, list(args)))
        return JobResult(output, {"select_rows": {"selected": self.selected}})


def _parse_result(found, records, quarantined, duplicates=0):
    return JobResult("work", {"parse": {"messages_found": found, "records": records,
                                        "quarantined": quarantined, "duplicates": duplicates}})


def test_nothing_quarantined_needs_no_quarantine_job(tmp_path):
    engine = _Engine()
    written = _split_remotely(engine, "work", str(tmp_path), _parse_result(9, 7, 0, 2))
    assert engine.runs == [("MRSelectRows", ["--key", "message"])]
    assert written == {"message": 7, "quarantine": 0}
    assert os.listdir(tmp_path / "quarantine") == ["part-00000"]
    assert (tmp_path / "quarantine" / "part-00000").read_bytes() == b""


def test_every_kind_with_rows_gets_its_job(tmp_path):
    engine = _Engine()
    _split_remotely(engine, "work", str(tmp_path), _parse_result(9, 5, 2, 2))
    assert engine.runs == [("MRSelectRows", ["--key", "message"]),
                           ("MRSelectRows", ["--key", "quarantine"])]
    # nothing parsed, all quarantined: no job for the messages
    engine = _Engine()
    _split_remotely(engine, "work", str(tmp_path / "all"), _parse_result(3, 0, 3))
    assert engine.runs == [("MRSelectRows", ["--key", "quarantine"])]


def test_counters_that_do_not_add_up_are_not_trusted(tmp_path):
    for result in (_parse_result(9, 7, 0, 0),  # two messages unaccounted for
                   _parse_result(0, 0, 0),      # no counters at all
                   JobResult("work", {})):
        engine = _Engine()
        _split_remotely(engine, "work", str(tmp_path), result)
        assert [args for _, args in engine.runs] == [["--key", "message"],
                                                     ["--key", "quarantine"]]
