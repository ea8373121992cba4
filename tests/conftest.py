"""How `make test` spreads the suite over two workers (pytest-xdist, ``-n 2
--dist loadgroup``).

Each test file is one group, so a file's module fixtures are built once, on
one worker. The tests of one session-wide server share a group, so each
server starts once: tests/engines (the Hadoop cluster and Spark), tests/emr
(the moto server) and tests/mailbox (Dovecot). The Hadoop tests spend much
of their time waiting on YARN, which the other worker fills with the rest of
the suite. Without ``-n`` (plain ``pytest``) the groups mean nothing.
"""

import os

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
SERVER_GROUPS = ("engines", "emr", "mailbox")


def pytest_collection_modifyitems(items):
    for item in items:
        relative = os.path.relpath(str(item.path), TESTS).replace(os.sep, "/")
        top = relative.split("/", 1)[0]
        item.add_marker(pytest.mark.xdist_group(top if top in SERVER_GROUPS else relative))
