"""Every `make TARGET` the README and docs name is a target of the Makefile
(`make bench-full` was named for sessions before the Makefile had it)."""

import glob
import os
import re

from tests.helpers import REPO


def named_targets():
    paths = [os.path.join(REPO, "README.md")] + glob.glob(os.path.join(REPO, "docs", "*.md"))
    named = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for target in re.findall(r"`make ([a-z][a-z0-9-]*)", handle.read()):
                named.setdefault(target, os.path.relpath(path, REPO))
    return named


def makefile_targets():
    with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as handle:
        return set(re.findall(r"^([a-z][a-z0-9-]*)\s*:(?!=)", handle.read(), re.MULTILINE))


def test_every_make_target_the_docs_name_exists():
    named = named_targets()
    assert {"test", "demo", "bench", "bench-full"} <= set(named)
    missing = {target: path for target, path in named.items()
               if target not in makefile_targets()}
    assert missing == {}
