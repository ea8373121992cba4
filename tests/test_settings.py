"""jeeves.settings: one declaration per option for the CLI, the jobs and the configs."""

import argparse

import pytest

from jeeves.errors import UserError
from jeeves.features.graph import GRAPH_SETTINGS, MAX_LIST, TOP_K
from jeeves.jobs.mr_common_contacts import MRCommonContacts
from jeeves.jobs.mr_contact_lists import MRContactLists
from jeeves.options import add_graph_arguments, graph_config
from jeeves.pipeline.graph import GraphConfig


def test_the_cli_the_jobs_and_the_config_share_defaults():
    parser = argparse.ArgumentParser()
    add_graph_arguments(parser)
    args = parser.parse_args([])
    config = graph_config(args)
    assert config == GraphConfig()
    for setting in GRAPH_SETTINGS:
        assert getattr(args, setting.name) == getattr(config, setting.name) == setting.default
    assert MRContactLists(args=[]).options.max_list == MAX_LIST.default
    assert MRCommonContacts(args=[]).options.top_k == TOP_K.default


def test_a_config_gives_the_jobs_its_values():
    config = GraphConfig(max_list=7, top_k=3, max_degree=20, reciprocal_only=True)
    lists = MRContactLists(args=config.lists_args()).options
    common = MRCommonContacts(args=config.common_args()).options
    assert (lists.max_list, lists.pseudonymize) == (7, False)
    assert (common.top_k, common.max_degree, common.reciprocal_only) == (3, 20, True)


def test_one_check_for_every_entry_point():
    with pytest.raises(UserError, match="--max-list must be at least 1, not 0"):
        GraphConfig(max_list=0)
    # mrjob's parser raises where argparse would exit
    with pytest.raises(ValueError, match="--max-list: must be at least 1, not 0"):
        MRContactLists(args=["--max-list", "0"])
    parser = argparse.ArgumentParser()
    add_graph_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--top-k", "x"])


def test_the_parse_job_knows_every_dedupe_choice():
    from jeeves.features.parsing import DEDUPE_BY
    from jeeves.jobs.mr_parse_emails import DEDUPE_KEYS

    assert set(DEDUPE_KEYS) == set(DEDUPE_BY.choices)
