"""jobs.buffered_output: a streaming task's output lines go to stdout in
large writes, the same bytes, whatever Python's own stdout buffering."""

import io
import json
import sys

import pytest
from mrjob.job import MRJob
from mrjob.protocol import RawValueProtocol

from jeeves.jobs import TASK_OUTPUT_BUFFER, CountedJob, buffered_output


class CountingRaw(io.RawIOBase):
    """A raw stream that keeps what is written and counts the write calls."""

    def __init__(self):
        self.data = bytearray()
        self.writes = 0

    def writable(self):
        return True

    def write(self, data):
        self.writes += 1
        self.data += data
        return len(data)


class MRLines(CountedJob, MRJob):
    OUTPUT_PROTOCOL = RawValueProtocol

    def mapper(self, _, line):
        if line == "boom":
            raise RuntimeError("boom")
        yield None, line * 3

    def reducer(self, key, values):
        for value in values:
            yield None, value


def run_task(monkeypatch, lines, buffered_stdout, args=("--mapper",)):
    raw = CountingRaw()
    # Python's stdout: its usual 8 KB buffer, or none (PYTHONUNBUFFERED, -u)
    binary = io.BufferedWriter(raw, 8192) if buffered_stdout else raw
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(binary, write_through=True))
    job = MRLines(list(args))
    job._stdin = io.BytesIO(b"".join(line.encode() + b"\n" for line in lines))
    return job, raw


@pytest.mark.parametrize("buffered_stdout", [True, False])
def test_a_tasks_lines_go_out_in_large_writes(monkeypatch, buffered_stdout):
    lines = ["line %05d %s" % (number, "x" * 2000) for number in range(400)]
    job, raw = run_task(monkeypatch, lines, buffered_stdout)
    job.run_mapper()
    sys.stdout.flush()
    # the mapper's lines: mrjob's internal protocol (JSON key and value)
    expected = b"".join(b"null\t%s\n" % json.dumps(line * 3).encode() for line in lines)
    assert bytes(raw.data) == expected
    # mrjob's two writes a line would be 800 here (400 through an 8 KB buffer)
    assert raw.writes <= len(expected) // TASK_OUTPUT_BUFFER + 2
    assert job._stdout is None and not raw.closed


def test_a_reducer_writes_through_the_buffer_too(monkeypatch):
    job, raw = run_task(monkeypatch, ["null\t\"a\"", "null\t\"b\""], False,
                        args=("--reducer",))
    job.run_reducer()
    assert bytes(raw.data) == b"a\nb\n"
    assert raw.writes == 1


def test_a_failing_task_still_writes_what_came_before(monkeypatch):
    job, raw = run_task(monkeypatch, ["one", "boom", "two"], False)
    with pytest.raises(RuntimeError, match="boom"):
        job.run_mapper()
    assert bytes(raw.data) == b'null\t"oneoneone"\n'
    assert job._stdout is None and not raw.closed


def test_a_job_given_its_own_output_writes_there():
    job = MRLines(["--mapper"])
    output = io.BytesIO()
    job.sandbox(stdin=io.BytesIO(b"a\nb\n"), stdout=output)
    with buffered_output(job):
        assert job.stdout is output
    job.run_mapper()
    assert output.getvalue() == b'null\t"aaa"\nnull\t"bbb"\n'
