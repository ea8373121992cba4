"""mr_select_rows: one job's output split without the driver reading it."""

import json

import pytest

from jeeves.jobs.mr_select_rows import MRSelectRows
from jeeves.taskcode import task_code_args
from tests.helpers import MRJOB_CONF

RECORDS = [{"message_id": "m%d@x" % number, "subject": "s%d" % number, "body": "b\tody"}
           for number in range(6)]
PARSE_OUTPUT = (["\"message\"\t" + json.dumps(record) for record in RECORDS[:4]]
                + ["\"quarantine\"\t" + json.dumps({"reason": "not_an_email", "source": {}}),
                   "\"message\"\t" + json.dumps(RECORDS[4]), "",
                   "\"message\"\t{not json"])
PREDICTIONS = [json.dumps({"message_id": "p%d@x" % number, "score": number / 10,
                           "label": int(number >= 7), "source": None})
               for number in range(10)] + ["[1, 2]", "{broken"]


def run(inputs, args, tmp_path, runner="inline", extra=()):
    """Run the job on files of lines -> (output lines, its counters)."""
    paths = []
    for number, lines in enumerate(inputs):
        path = tmp_path / ("input-%d" % number)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(str(path))
    switches = ["-r", runner] + (["--no-conf"] if runner == "inline"
                                 else ["-c", MRJOB_CONF] + task_code_args(runner))
    job = MRSelectRows(args=switches + list(args) + list(extra) + paths)
    job.sandbox()
    with job.make_runner() as runner_:
        runner_.run()
        lines = b"".join(runner_.cat_output()).decode("utf-8").splitlines()
        counters = runner_.counters()[0].get("select_rows", {})
    return lines, counters


def test_empty_input(tmp_path):
    assert run([[]], ["--key", "message"], tmp_path)[0] == []


def test_parse_output_to_message_records(tmp_path):
    lines, counters = run([PARSE_OUTPUT[:3], PARSE_OUTPUT[3:]], ["--key", "message"], tmp_path)
    # the records' JSON text, byte for byte, as OUT/messages/ holds them
    assert sorted(lines) == sorted(json.dumps(record) for record in RECORDS[:5])
    assert counters == {"selected": 5, "skipped": 1, "invalid_json": 1}


def test_bare_lines_are_rows_of_the_unkeyed_kind(tmp_path):
    # mr_parse_emails --bare-messages: records bare, quarantine rows keyed
    bare = [json.dumps(record) for record in RECORDS[:3]] + [PARSE_OUTPUT[4]]
    lines, counters = run([bare], ["--key", "message", "--unkeyed", "message"], tmp_path)
    assert sorted(lines) == sorted(json.dumps(record) for record in RECORDS[:3])
    assert counters == {"selected": 3, "skipped": 1}
    lines, counters = run([bare], ["--key", "quarantine", "--unkeyed", "message"], tmp_path)
    assert [json.loads(line)["reason"] for line in lines] == ["not_an_email"]
    # without --unkeyed a bare line has no key and --key never keeps it
    assert run([bare], ["--key", "message"], tmp_path)[0] == []


def test_flagged_predictions(tmp_path):
    lines, counters = run([PREDICTIONS], ["--field", "label", "--equals", "1"], tmp_path)
    assert sorted(json.loads(line)["message_id"] for line in lines) == ["p7@x", "p8@x", "p9@x"]
    assert counters == {"selected": 3, "skipped": 8, "invalid_json": 1}


def test_a_string_value_and_both_tests(tmp_path):
    lines, _ = run([PARSE_OUTPUT], ["--key", "message", "--field", "subject", "--equals", "s2"],
                   tmp_path)
    assert lines == [json.dumps(RECORDS[2])]


def test_field_needs_equals():
    with pytest.raises(ValueError, match="--field and --equals go together"):
        MRSelectRows(args=["--field", "label"])


def test_local_runner_with_two_reducers_equals_inline(tmp_path):
    inputs = [PARSE_OUTPUT[:3], PARSE_OUTPUT[3:], PREDICTIONS]
    args = ["--key", "message"]
    inline, _ = run(inputs, args, tmp_path)
    local, counters = run(inputs, args, tmp_path, runner="local",
                          extra=["--num-cores", "2", "--jobconf", "mapreduce.job.reduces=2"])
    assert sorted(local) == sorted(inline) and len(inline) == 5
    assert counters["selected"] == 5


SVMLIGHT = ['0 %d:0.5 %d:0.25 # "v%d@x"' % (number % 7, 7 + number % 5, number)
            for number in range(400)]


def test_a_hash_sample_is_the_same_rows_for_any_split_and_runner(tmp_path):
    from jeeves.jobs.mr_select_rows import sampled

    expected = [line for line in SVMLIGHT if sampled(line, 0.25)]
    # about a quarter, and not a prefix: the hash decides
    assert 60 <= len(expected) <= 140 and expected != SVMLIGHT[:len(expected)]
    for name in ("one", "two", "all"):
        (tmp_path / name).mkdir()
    one, counters = run([SVMLIGHT], ["--sample", "0.25"], tmp_path / "one")
    assert sorted(one) == sorted(expected)
    assert counters == {"selected": len(expected), "skipped": 400 - len(expected)}
    two, _ = run([SVMLIGHT[:150], SVMLIGHT[150:]], ["--sample", "0.25"], tmp_path / "two",
                 runner="local", extra=["--num-cores", "2"])
    assert sorted(two) == sorted(expected)
    assert sorted(run([SVMLIGHT], ["--sample", "1"], tmp_path / "all")[0]) == sorted(SVMLIGHT)


def test_a_sample_with_a_field_test_keeps_json_rows_only(tmp_path):
    lines, counters = run([PREDICTIONS], ["--sample", "1", "--field", "label", "--equals", "1"],
                          tmp_path)
    assert len(lines) == 3 and counters["invalid_json"] == 1


@pytest.mark.parametrize("value", ["0", "1.5", "x"])
def test_a_sample_share_outside_0_1_is_refused(value):
    with pytest.raises((ValueError, SystemExit)):
        MRSelectRows(args=["--sample", value])
