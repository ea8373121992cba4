import os
import re

import yaml

from tests.helpers import MRJOB_CONF

RUNNERS = {"inline", "local", "hadoop", "spark", "emr"}


def load_conf():
    with open(MRJOB_CONF) as handle:
        return yaml.safe_load(handle)


def test_has_the_five_runner_profiles():
    assert set(load_conf()["runners"]) == RUNNERS


SECRET_KEY = re.compile(r"secret|password|token|access_key|credential", re.IGNORECASE)
SECRET_VALUE = re.compile(r"AKIA[0-9A-Z]{16}|[A-Za-z0-9/+=]{40}")


def walk(node, path=()):
    """Yield (path of keys, leaf value) for every leaf of a YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (str(key),))
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, path)
    else:
        yield path, node


def test_no_secrets():
    for path, value in walk(load_conf()):
        assert not any(SECRET_KEY.search(key) for key in path), path
        assert not SECRET_VALUE.search(str(value)), path


def test_secret_check_would_catch_a_key():
    planted = {"runners": {"emr": {"aws_secret_access_key": "x"}}}
    assert any(SECRET_KEY.search(key) for path, _ in walk(planted) for key in path)


def test_cluster_profiles_ship_task_side_packages():
    conf = load_conf()["runners"]
    for runner in ("local", "hadoop", "spark", "emr"):
        shipped = [os.path.basename(path.split("#")[0]) for path in conf[runner]["upload_dirs"]]
        assert {"features", "jobs"} <= set(shipped), runner


ENGINE_SETTING_PREFIXES = ("spark.", "mapreduce.", "yarn.", "dfs.", "hadoop.")


def test_no_algorithm_settings():
    # algorithm settings are job arguments: profiles pass no extra job args,
    # and any jobconf is an engine setting (bind addresses, memory, ...)
    for runner, profile in load_conf()["runners"].items():
        assert "args" not in profile, runner
        for key in profile.get("jobconf", {}):
            assert key.startswith(ENGINE_SETTING_PREFIXES), (runner, key)
