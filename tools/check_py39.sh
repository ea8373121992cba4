#!/bin/sh
# Task-side code (shipped to the nodes) must run on Python 3.9, EMR 7's.
# ruff rejects newer syntax (match, parenthesized context managers, ...) and
# PEP 604 unions in annotations without `from __future__ import annotations`;
# vermin rejects newer library use (zip(strict=...), itertools.pairwise, ...).
# Usage: tools/check_py39.sh DIR... (run from the virtualenv's bin on PATH)
set -e
bin=$(dirname "$0")/../.venv/bin
[ -x "$bin/ruff" ] || bin=$(dirname "$(command -v ruff)")
"$bin/ruff" check --no-cache --target-version py39 --select E9,F,FA "$@"
"$bin/vermin" --target=3.9- --violations --no-tips --quiet "$@"
