"""`jeeves run` into an OUT an earlier run left: the stages kept and recomputed.

Runs `jeeves run --score` (inline, in this process) on the hand-written corpus
again and again into one OUT, one change at a time, and checks summary.json's
``resumed`` and the progress lines (scripts/pipeline/fingerprint.py):

- the same command: every stage kept, the same output;
- ``--models``: train and score recomputed;
- ``--min-df``: features and what reads it (labels, train, score), not
  parse or graph; then a graph option: graph alone; the result equals a
  fresh run with those options;
- ``--force``: every stage; new mail in the input: every stage.

Then, with no run, what a marker must be for its stage to be kept: not
empty, not another format, with every output file it lists (kills in every
stage: tests/scripts/test_killed_runs.py).
"""

import argparse
import contextlib
import io
import json
import os

import pytest

from jeeves import cli, cmd_run
from jeeves.pipeline.fingerprint import FORMAT, Resume
from jeeves.storage import Storage
from tests.scripts.run_outputs import differences, snapshot, write_inputs

ALL = ["parse", "features", "graph", "labels", "train", "score"]
BASE = ["--labels", "meeting*=1,other*=0", "--models", "multinomial_nb", "--folds", "2",
        "--target-recall", "0.9", "--score"]
# the changes, one run each, in order: (name, options added to BASE, stages recomputed)
CHANGES = [
    ("first", [], ALL),
    ("again", [], []),
    ("models", ["--models", "logistic_regression"], ["train", "score"]),
    ("min_df", ["--min-df", "3"], ["features", "labels", "train", "score"]),
    ("max_list", ["--min-df", "3", "--max-list", "1"], ["graph"]),
    ("force", ["--min-df", "3", "--max-list", "1", "--force"], ALL),
    ("new_mail", ["--min-df", "3", "--max-list", "1"], ALL),
]


def jeeves_run(corpus, out, options):
    """`jeeves run` in this process -> (exit status, stdout)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli.main(["run", "--input", corpus, "--output", out] + BASE + options)
    return status, printed.getvalue()


def without_resume(found):
    """A snapshot without summary.json's ``resumed`` and ``driver_bytes`` (a kept
    stage moves no bytes)."""
    summary = json.loads(found["summary.json"])
    for key in ("resumed", "driver_bytes"):
        summary.pop(key)
    return dict(found, **{"summary.json": json.dumps(summary, sort_keys=True).encode()})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{change name: (status, stdout, summary, snapshot)}, plus "fresh": a run
    of the "max_list" options into an empty OUT."""
    root = tmp_path_factory.mktemp("resume")
    corpus = str(root / "corpus")
    write_inputs(corpus)
    out = str(root / "out")
    found = {}
    for name, options, _ in CHANGES:
        if name == "new_mail":
            with open(os.path.join(corpus, "other", "zz-new.eml"), "w") as handle:
                handle.write("Message-ID: <new@example.com>\nFrom: a@example.com\n"
                             "To: b@example.com\nSubject: Gas prices\n\nthe report again\n")
        status, printed = jeeves_run(corpus, out, options)
        with open(os.path.join(out, "summary.json")) as handle:
            found[name] = (status, printed, json.load(handle), without_resume(snapshot(out)))
        if name == "max_list":
            fresh = str(root / "fresh")
            status, printed = jeeves_run(corpus, fresh, options)
            found["fresh"] = (status, printed, None, without_resume(snapshot(fresh)))
    found["root"] = str(root)
    return found


@pytest.mark.parametrize("name, options, recomputed", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_change_recomputes_exactly_its_stages(runs, name, options, recomputed):
    status, printed, summary, _ = runs[name]
    assert status == 0, printed
    kept = [stage for stage in ALL if stage not in recomputed]
    assert summary["resumed"] == {"kept": kept, "recomputed": recomputed}
    said = [line.split("]", 1)[1].split()[0] for line in printed.splitlines()
            if line.startswith("[") and " kept (" in line]
    assert said == kept
    assert set(summary["stages"]) == set(ALL)


def test_the_same_command_again_gives_the_same_output(runs):
    assert differences(runs["again"][3], runs["first"][3]) == []


def test_kept_and_recomputed_stages_together_equal_a_fresh_run(runs):
    """After --min-df then --max-list: parse kept from the first run, features
    from the --min-df run, the graph recomputed; all as a fresh run's."""
    assert runs["fresh"][0] == 0
    assert differences(runs["max_list"][3], runs["fresh"][3]) == []


def test_an_option_change_changes_the_output(runs):
    """(or the comparisons above prove little)"""
    assert runs["min_df"][3]["features/vocabulary.tsv"] != \
        runs["first"][3]["features/vocabulary.tsv"]
    assert runs["max_list"][3]["graph/contacts.tsv"] != runs["min_df"][3]["graph/contacts.tsv"]


def test_new_mail_is_parsed(runs):
    assert runs["new_mail"][2]["stages"]["parse"]["read"] == \
        runs["force"][2]["stages"]["parse"]["read"] + 1


# what a marker must be for its stage to be kept (no run: Resume reads OUT)

def kept_after(runs, damage):
    """The stages a run of the last options would keep after ``damage(out)``."""
    out = os.path.join(runs["root"], "out")
    parser = argparse.ArgumentParser()
    cmd_run.add_arguments(parser)
    config = cmd_run.config_from(parser.parse_args(
        ["--input", os.path.join(runs["root"], "corpus"), "--output", out] + BASE
        + CHANGES[-1][1]))
    saved = {}
    for root, _, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                saved[path] = handle.read()
    try:
        damage(out)
        return Resume(Storage(), out, config).kept
    finally:
        for path, data in saved.items():
            with open(path, "wb") as handle:
                handle.write(data)


def test_the_fresh_output_is_kept_whole(runs):
    """(the baseline of the damage below)"""
    assert kept_after(runs, lambda out: None) == ALL


def rewrite_marker(directory, data):
    def damage(out):
        with open(os.path.join(out, directory, "_SUCCESS"), "wb") as handle:
            handle.write(data)
    return damage


def test_an_empty_marker_is_not_trusted(runs):
    assert kept_after(runs, rewrite_marker("features", b"")) == ["parse", "graph"]


def test_a_marker_of_another_format_is_not_trusted(runs):
    def damage(out):
        path = os.path.join(out, "graph", "_SUCCESS")
        with open(path) as handle:
            record = json.load(handle)
        record["format"] = FORMAT - 1
        rewrite_marker("graph", json.dumps(record).encode())(out)
    assert kept_after(runs, damage) == ["parse", "features", "labels", "train", "score"]


def test_a_marker_that_does_not_parse_is_not_trusted(runs):
    assert kept_after(runs, rewrite_marker("quarantine", b"{\"format\": 1, ")) == []


def test_a_missing_output_file_recomputes_its_stage(runs):
    def damage(out):
        os.remove(os.path.join(out, "features", "vocabulary.tsv"))
    assert kept_after(runs, damage) == ["parse", "graph"]


def test_a_cut_output_file_recomputes_its_stage(runs):
    def damage(out):
        path = os.path.join(out, "model", "metadata.json")
        with open(path, "rb") as handle:
            data = handle.read()
        with open(path, "wb") as handle:
            handle.write(data[:-10])
    assert kept_after(runs, damage) == ["parse", "features", "graph", "labels"]


def test_a_missing_marker_in_one_directory_of_a_stage_recomputes_it(runs):
    def damage(out):
        os.remove(os.path.join(out, "report", "_SUCCESS"))
    assert kept_after(runs, damage) == ["parse", "features", "graph", "labels"]
