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


def test_no_profile_ships_code_or_names_a_checkout():
    # the driver ships the running package itself (jeeves.taskcode): profiles
    # that uploaded folders of a checkout would shadow it or need one
    text = open(MRJOB_CONF).read()
    assert "JEEVES_HOME" not in text.split("runners:", 1)[1]
    for runner, profile in load_conf()["runners"].items():
        assert not {"upload_dirs", "py_files", "upload_archives"} & set(profile or {}), runner


def test_the_package_ships_this_file():
    from jeeves.runners import MRJOB_CONF as packaged
    from jeeves.runners import PACKAGED_MRJOB_CONF, default_mrjob_conf

    assert os.path.samefile(PACKAGED_MRJOB_CONF, MRJOB_CONF)
    assert default_mrjob_conf({}) == PACKAGED_MRJOB_CONF
    assert os.path.samefile(packaged, MRJOB_CONF) or "JEEVES_HOME" in os.environ


ENGINE_SETTING_PREFIXES = ("spark.", "mapreduce.", "yarn.", "dfs.", "hadoop.")


def test_no_algorithm_settings():
    # algorithm settings are job arguments: profiles pass no extra job args,
    # and any jobconf is an engine setting (bind addresses, memory, ...)
    for runner, profile in load_conf()["runners"].items():
        assert "args" not in profile, runner
        for key in profile.get("jobconf", {}):
            assert key.startswith(ENGINE_SETTING_PREFIXES), (runner, key)
