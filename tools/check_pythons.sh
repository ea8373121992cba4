#!/bin/sh
# Smoke run on every supported Python other than the main one (`make test`
# runs the whole suite on that one): for each of 3.11, 3.12, 3.13 found on the
# machine (pythonX.Y on PATH, else pyenv's), a venv .venv-X.Y with the project
# and its smoke extra (a stamp skips the install the next time), the fast unit
# tests, `jeeves run` inline on the tiny labelled corpus, and `jeeves parse`
# under the local runner, whose tasks are subprocesses of that Python.
#
#   tools/check_pythons.sh [MAIN_PYTHON]    (default python3)
#
# Needs the provisioned WordNet of the main setup (NLTK_DATA, as make exports).
set -eu

main_python=${1:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${NLTK_DATA:=$root/.nltk_data}"
export NLTK_DATA

SUPPORTED="3.11 3.12 3.13"
# the unit tests of what differs between Pythons: the email package and
# tarfile (parsing, salvage, fuzzing, valid text), mrjob's protocols, the
# CLI's errors, scikit-learn's metrics (a minute or so on an idle machine;
# `jeeves run` below exercises the rest)
SMOKE_TESTS="tests/features/test_parsing.py tests/features/test_parsing_formats.py
tests/features/test_salvage.py tests/features/test_fuzz_parsing.py
tests/features/test_validtext.py tests/features/test_mbox_ranges.py tests/jobs/test_protocols.py
tests/models/test_metrics.py tests/scripts/test_cli.py tests/scripts/test_user_errors.py"

version_of() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

# an interpreter of version $1 that runs (a pyenv shim of a version that is
# not selected fails), or nothing
find_python() {
    if command -v "python$1" >/dev/null 2>&1 && [ "$(version_of "python$1")" = "$1" ]; then
        command -v "python$1"
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        prefix=$(pyenv prefix "$1" 2>/dev/null | head -n 1) || prefix=
        if [ -n "$prefix" ] && [ "$(version_of "$prefix/bin/python$1")" = "$1" ]; then
            echo "$prefix/bin/python$1"
        fi
    fi
}

setup_venv() {  # $1 version, $2 interpreter
    venv=".venv-$1"
    if [ -f "$venv/.installed" ] && [ "$venv/.installed" -nt pyproject.toml ]; then
        return
    fi
    echo "python$1: installing the project into $venv"
    [ -x "$venv/bin/python" ] || "$2" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e '.[smoke]'
    touch "$venv/.installed"
}

smoke() {  # $1 version
    venv=".venv-$1"
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/jeeves-smoke-$1.XXXXXX")
    trap 'rm -rf "$scratch"' EXIT
    # shellcheck disable=SC2086  # the test list splits on purpose
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" $SMOKE_TESTS
    "$venv/bin/python" -c 'import sys; from tests.fixtures.tiny_corpus import write_corpus
write_corpus(sys.argv[1])' "$scratch/corpus"
    "$venv/bin/jeeves" run --input "$scratch/corpus" --output "$scratch/run" \
        --labels 'meeting*=1,other*=0' --runner inline > "$scratch/run.log"
    tail -n 3 "$scratch/run.log"
    "$venv/bin/jeeves" parse --input "$scratch/corpus" --output "$scratch/local" \
        --runner local > "$scratch/local.log"
    tail -n 1 "$scratch/local.log"
    test -f "$scratch/run/summary.json"
    rm -rf "$scratch"
    trap - EXIT
}

main_version=$(version_of "$main_python") || main_version=
for version in $SUPPORTED; do
    if [ "$version" = "$main_version" ]; then
        continue
    fi
    interpreter=$(find_python "$version")
    if [ -z "$interpreter" ]; then
        echo "python$version: not found, smoke run skipped"
        continue
    fi
    setup_venv "$version" "$interpreter"
    started=$(date +%s)
    smoke "$version"
    echo "python$version: smoke run passed in $(( $(date +%s) - started ))s ($interpreter)"
done
