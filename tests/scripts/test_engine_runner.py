"""jeeves.pipeline.engine.Engine.run with another runner: a local engine runs a
job in the driver (mrjob's inline runner) when asked, with the same output;
no other runner than its own or inline."""

import os
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


@pytest.mark.parametrize("option", ["python_bin", "task_python_bin"])
def test_a_profile_that_names_the_tasks_python_keeps_it(tmp_path, option):
    conf = tmp_path / "mrjob.conf"
    conf.write_text("runners:\n  local:\n    %s: %s\n" % (option, sys.executable))
    args = Engine(runner="local", conf=str(conf)).code_args()
    assert "--task-python-bin" not in args
    # the project's profile names none: its tasks start through jeeves.jobs.task_start
    default = Engine(runner="local").code_args()
    assert default[default.index("--task-python-bin") + 1].endswith(
        "-m jeeves.jobs.task_start")
