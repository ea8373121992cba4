"""jeeves.pipeline.engine.Engine.run with another runner: a local engine runs a
job in the driver (mrjob's inline runner) when asked, with the same output;
no other runner than its own or inline."""

import os
import shlex
import sys

import pytest

from jeeves.pipeline.engine import Engine
from tests.jobs.mr_fixture_task_code import MRFixtureTaskCode
from tests.jobs.mr_fixture_word_count import MRFixtureWordCount


def _lines(directory):
    return sorted(line for name in os.listdir(directory) if name.startswith("part-")
                  for line in open(os.path.join(directory, name), encoding="utf-8"))


def test_a_local_engine_runs_a_job_inline_when_asked(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("to be or not to be\n")
    engine = Engine(runner="local")
    engine.run(MRFixtureWordCount, [str(source)], str(tmp_path / "local"))
    engine.run(MRFixtureWordCount, [str(source)], str(tmp_path / "inline"), runner="inline")
    assert _lines(str(tmp_path / "inline")) == _lines(str(tmp_path / "local"))
    # inline: in the driver's process, on its own imports (no shipped zip)
    engine.run(MRFixtureTaskCode, [str(source)], str(tmp_path / "where"), runner="inline")
    module = [line for line in _lines(str(tmp_path / "where")) if line.startswith('"module"')]
    assert module and "jeeves.zip" not in module[0]


def test_no_other_runner_than_its_own_or_inline(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("word\n")
    with pytest.raises(ValueError, match="not on spark"):
        Engine(runner="local").run(MRFixtureWordCount, [str(source)], str(tmp_path / "x"),
                                   runner="spark")
    with pytest.raises(ValueError, match="not on local"):
        Engine(runner="inline").run(MRFixtureWordCount, [str(source)], str(tmp_path / "y"),
                                    runner="local")


@pytest.mark.parametrize("runner", ["local", "hadoop", "emr"])
def test_a_profile_that_names_the_tasks_command_keeps_it(tmp_path, runner):
    def start_of(conf=None):
        args = (Engine(runner=runner, conf=conf) if conf else Engine(runner=runner)).code_args()
        return args[args.index("--task-python-bin") + 1] if "--task-python-bin" in args else None

    conf = tmp_path / "mrjob.conf"
    conf.write_text("runners:\n  %s:\n    task_python_bin: /opt/tasks/python\n" % runner)
    assert start_of(str(conf)) is None
    # a profile's python_bin starts them through jeeves.jobs.task_start
    conf.write_text("runners:\n  %s:\n    python_bin: /opt/py/bin/python3 -X utf8\n" % runner)
    assert start_of(str(conf)) == "/opt/py/bin/python3 -X utf8 -m jeeves.jobs.task_start"
    conf.write_text("runners:\n  %s:\n    python_bin: [/opt/my py/python3]\n" % runner)
    assert start_of(str(conf)) == "'/opt/my py/python3' -m jeeves.jobs.task_start"
    # and the project's profile: mrjob's default Python (the driver's here,
    # python3 on the nodes; EMR's profile names python3.11)
    default = {"local": shlex.quote(sys.executable), "hadoop": "python3",
               "emr": "python3.11"}[runner]
    assert start_of() == default + " -m jeeves.jobs.task_start"


def test_spark_starts_its_own_tasks():
    assert "--task-python-bin" not in Engine(runner="spark").code_args()
