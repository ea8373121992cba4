"""How `make test` spreads the suite over two workers (pytest-xdist, ``-n 2``).

``pytest_xdist_make_scheduler`` gives xdist a scheduler whose unit of work
is a test file, so a file's module fixtures are built once, on one worker,
and whose tests of one session-wide server form one unit, so each server
starts once: tests/engines (the Hadoop cluster and Spark), tests/emr (the
moto server) and tests/mailbox (Dovecot). The Hadoop tests spend much of
their time waiting on YARN, which the other worker fills with the rest of
the suite. (xdist's own ``xdist_group`` marks do not group under this
pytest: tests/test_conftest.py checks what this scheduler does.) Without
``-n`` (plain ``pytest``) nothing changes.
"""

import importlib.util

SERVER_GROUPS = ("engines", "emr", "mailbox")


def unit_of(nodeid):
    """The unit of work of a test id: its server's group, else its file."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in SERVER_GROUPS:
        return parts[1]
    return path


def _make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFileAndServer(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return unit_of(nodeid)

    return ByFileAndServer(config, log)


# the hook exists only with pytest-xdist, which the smoke runs on other
# Pythons (scripts/check_pythons.sh, the `smoke` extra) do not install
if importlib.util.find_spec("xdist") is not None:
    pytest_xdist_make_scheduler = _make_scheduler
