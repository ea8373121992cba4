"""The parse stage's split where OUT is remote (scripts/pipeline/parse.py
``_split_remotely``): with nothing quarantined the parse job's output moves
to messages/ (no job); else a map-only job per kind of row, but none for a
kind the parse job's counters account for with no row. Here on local
directories (Storage.move_tree renames them); tests/scripts/test_resume_s3.py
runs it on S3 (moto), tests/engines/test_parse_split_hadoop.py on HDFS."""

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


MESSAGE = "--key", "message", "--unkeyed", "message"
QUARANTINE = "--key", "quarantine", "--unkeyed", "message"


def _work(tmp_path):
    """A parse job's output directory: two parts of bare record lines, _SUCCESS."""
    work = tmp_path / "_work" / "parse"
    work.mkdir(parents=True)
    (work / "part-00000").write_bytes(b'{"message_id":"<a>"}\n{"message_id":"<b>"}\n')
    (work / "part-00001").write_bytes(b'{"message_id":"<c>"}\n')
    (work / "_SUCCESS").write_bytes(b"")
    return str(work)


def test_nothing_quarantined_moves_the_output_to_messages_with_no_job(tmp_path):
    engine = _Engine()
    work = _work(tmp_path)
    written = _split_remotely(engine, work, str(tmp_path), _parse_result(5, 3, 0, 2))
    assert engine.runs == []
    assert written == {"message": 3, "quarantine": 0}
    # the job's own _SUCCESS is not carried over: the stage marks messages/ last
    assert sorted(os.listdir(tmp_path / "messages")) == ["part-00000", "part-00001"]
    assert (tmp_path / "messages" / "part-00001").read_bytes() == b'{"message_id":"<c>"}\n'
    assert not os.path.exists(work)
    assert os.listdir(tmp_path / "quarantine") == ["part-00000"]
    assert (tmp_path / "quarantine" / "part-00000").read_bytes() == b""


def test_where_the_output_cannot_move_a_job_selects_the_messages(tmp_path):
    engine = _Engine()
    work = _work(tmp_path)
    (tmp_path / "messages").mkdir()  # a destination that exists: no rename
    written = _split_remotely(engine, work, str(tmp_path), _parse_result(5, 3, 0, 2))
    assert engine.runs == [("MRSelectRows", list(MESSAGE))]
    assert written == {"message": 7, "quarantine": 0}
    assert os.path.exists(os.path.join(work, "part-00000"))


def test_every_kind_with_rows_gets_its_job(tmp_path):
    engine = _Engine()
    _split_remotely(engine, "work", str(tmp_path), _parse_result(9, 5, 2, 2))
    assert engine.runs == [("MRSelectRows", list(MESSAGE)),
                           ("MRSelectRows", list(QUARANTINE))]
    # nothing parsed, all quarantined: no job for the messages
    engine = _Engine()
    _split_remotely(engine, "work", str(tmp_path / "all"), _parse_result(3, 0, 3))
    assert engine.runs == [("MRSelectRows", list(QUARANTINE))]


def test_counters_that_do_not_add_up_are_not_trusted(tmp_path):
    for result in (_parse_result(9, 7, 0, 0),  # two messages unaccounted for
                   _parse_result(0, 0, 0),      # no counters at all
                   JobResult("work", {})):
        engine = _Engine()
        _split_remotely(engine, "work", str(tmp_path), result)
        assert [args for _, args in engine.runs] == [list(MESSAGE), list(QUARANTINE)]
