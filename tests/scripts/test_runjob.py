from jeeves.runjob import read_json_values, run_job, sum_counters
from tests.jobs.mr_fixture_word_count import MRFixtureWordCount


def test_sum_counters_adds_steps():
    steps = [{"a": {"x": 1}}, {"a": {"x": 2, "y": 1}, "b": {"z": 4}}, {}]
    assert sum_counters(steps) == {"a": {"x": 3, "y": 1}, "b": {"z": 4}}


def test_run_job_writes_output_dir(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("to be or not to be\n")
    result = run_job(MRFixtureWordCount, [str(source)], str(tmp_path / "out"))
    lines = [
        line.split("\t") for part in sorted((tmp_path / "out").glob("part-*"))
        for line in part.read_text().splitlines()
    ]
    assert {key.strip('"'): int(value) for key, value in lines} == {
        "to": 2, "be": 2, "or": 1, "not": 1}
    assert result.output_dir == str(tmp_path / "out")


def test_read_json_values(tmp_path):
    (tmp_path / "part-00001").write_text('{"b": 2}\n')
    (tmp_path / "part-00000").write_text('{"a": 1}\n\n')
    assert list(read_json_values(str(tmp_path))) == [{"a": 1}, {"b": 2}]


def test_fetch_output_copies_part_files_through_the_counted_storage(tmp_path):
    from jeeves.runjob import fetch_output
    from jeeves.storage import Storage

    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "part-00000").write_bytes(b'"a"\t1\n')
    (remote / "part-00001").write_bytes(b'"b"\t2\n"c"\t3')
    (remote / "_SUCCESS").write_bytes(b"")

    class FinishedRunner:  # the one thing fetch_output asks of an mrjob runner
        def get_output_dir(self):
            return str(remote)

    storage = Storage()
    fetch_output(FinishedRunner(), str(tmp_path / "local"), storage)
    assert sorted(path.name for path in (tmp_path / "local").iterdir()) == [
        "part-00000", "part-00001"]
    assert (tmp_path / "local" / "part-00001").read_bytes() == b'"b"\t2\n"c"\t3'
    assert storage.bytes_read == 6 + 11
    assert storage.files_read == [str(remote / "part-00000"), str(remote / "part-00001")]


def test_a_failing_job_is_one_error_with_the_task_traceback(tmp_path):
    import pytest

    from jeeves.runjob import JobFailed
    from tests.jobs.mr_fixture_failing import MRFixtureFailing

    source = tmp_path / "in.txt"
    source.write_text("fine\nboom\n")
    with pytest.raises(JobFailed) as raised:
        run_job(MRFixtureFailing, [str(source)], str(tmp_path / "out"), runner="local")
    message = str(raised.value)
    assert message.startswith("MRFixtureFailing failed on the local runner")
    assert "cannot digest 'boom'" in message
