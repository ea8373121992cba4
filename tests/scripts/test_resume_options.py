"""Every option of `jeeves run` is classified by the stages whose output it
changes (scripts/pipeline/fingerprint.py's OPTION_STAGES), and changing it
changes the fingerprints of exactly those stages and of the stages that read
them. No run: the fingerprints of two configurations are compared.

A new option of `jeeves run` fails ``test_every_option_is_classified`` until
it is in the table, and ``test_every_option_has_an_alternative`` until it has
an alternative value here: it cannot be silently left out of the
fingerprints.
"""

import argparse
import os

import pytest

from jeeves import cmd_run
from jeeves.pipeline.fingerprint import OPTION_STAGES, stage_fingerprints
from jeeves.storage import Storage
from tests.fixtures.tiny_corpus import write_corpus

# what a stage's output change reaches: the stage and those that read it, directly or not
CONSEQUENCES = {
    "parse": {"parse", "features", "graph", "labels", "test", "train", "score"},
    "features": {"features", "labels", "test", "train", "score"},
    "graph": {"graph"},
    "labels": {"labels", "train", "score"},
    "test": {"test", "train", "score"},
    "train": {"train", "score"},
    "score": {"score"},
}
LABELLED = "labelled"  # the base with --labels, a held-out set and --score
UNLABELLED = "unlabelled"  # without --labels: parse, features and graph


def alternatives(root):
    """{option dest: (base, arguments added to it)}: another value of each option
    (``None`` as arguments: the base without --score)."""
    other = os.path.join(root, "other-corpus")
    stop_words = os.path.join(root, "stop.txt")
    intent = os.path.join(root, "intent.txt")
    return {
        "input": (LABELLED, ["--input", other]),
        "output": (LABELLED, ["--output", os.path.join(root, "out2")]),
        "runner": (LABELLED, ["--runner", "local"]),
        "mrjob_conf": (LABELLED, ["--mrjob-conf", stop_words]),
        "force": (LABELLED, ["--force"]),
        "labels": (LABELLED, ["--labels", "other*=0,meeting*=1"]),
        "dedupe_by": (LABELLED, ["--dedupe-by", "content"]),
        "models": (LABELLED, ["--models", "logistic_regression"]),
        "select_by": (LABELLED, ["--select-by", "roc_auc"]),
        "target_recall": (LABELLED, ["--target-recall", "0.8"]),
        "folds": (LABELLED, ["--folds", "3"]),
        "seed": (LABELLED, ["--seed", "1"]),
        "n_jobs": (LABELLED, ["--n-jobs", "2"]),
        "train_on_cluster": (LABELLED, ["--train-on-cluster"]),
        "feature_groups": (LABELLED, ["--feature-groups", "text,headers"]),
        "ablation": (LABELLED, ["--no-ablation"]),
        "intent_data": (LABELLED, ["--intent-data", intent]),
        "test_input": (LABELLED, ["--test-input", other]),
        "test_labels": (LABELLED, ["--test-labels", "other*=0,meeting*=1"]),
        "graph": (LABELLED, ["--no-graph"]),
        "score": (LABELLED, None),
        "fields": (LABELLED, ["--fields", "subject"]),
        "ngram_min": (LABELLED, ["--ngram-min", "2"]),
        "ngram_max": (LABELLED, ["--ngram-max", "3"]),
        "stop_words": (LABELLED, ["--stop-words", "english"]),
        "stop_words_file": (LABELLED, ["--stop-words-file", stop_words]),
        "strip_accents": (LABELLED, ["--strip-accents", "ascii"]),
        "unicode_form": (LABELLED, ["--unicode-form", "NFC"]),
        "token_pattern": (LABELLED, ["--token-pattern", r"(?u)\b\w+\b"]),
        "lowercase": (LABELLED, ["--no-lowercase"]),
        "placeholders": (LABELLED, ["--placeholders"]),
        "lemmatize": (LABELLED, ["--no-lemmatize"]),
        "min_df": (LABELLED, ["--min-df", "3"]),
        "max_df": (LABELLED, ["--max-df", "0.9"]),
        "max_features": (LABELLED, ["--max-features", "100"]),
        "smooth_idf": (LABELLED, ["--no-smooth-idf"]),
        "use_idf": (LABELLED, ["--no-idf"]),
        "sublinear_tf": (LABELLED, ["--no-sublinear-tf"]),
        "norm": (LABELLED, ["--norm", "l1"]),
        # vectors without a vocabulary cannot be trained on: a run without labels
        "hash_features": (UNLABELLED, ["--hash-features", "1024"]),
        "min_llr": (LABELLED, ["--min-llr", "10"]),
        "flush_size": (LABELLED, ["--flush-size", "1000"]),
        "max_list": (LABELLED, ["--max-list", "5"]),
        "top_k": (LABELLED, ["--top-k", "3"]),
        "max_degree": (LABELLED, ["--max-degree", "5"]),
        "reciprocal_only": (LABELLED, ["--reciprocal-only"]),
        "pseudonymize": (LABELLED, ["--pseudonymize"]),
    }


def run_parser():
    parser = argparse.ArgumentParser()
    cmd_run.add_arguments(parser)
    return parser


def run_options():
    return {action.dest for action in run_parser()._actions if action.dest != "help"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("options")
    for name in ("corpus", "other-corpus", "test-corpus"):
        write_corpus(str(root / name))
    (root / "other-corpus" / "meeting" / "extra.eml").write_text("Subject: one more\n\nhi\n")
    (root / "stop.txt").write_text("the\nmeeting\n")
    (root / "intent.txt").write_text("Yes\tcan we meet\nNo\tthanks\n")
    return str(root)


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch):
    monkeypatch.setenv("JEEVES_PSEUDONYM_KEY", "a test key")


def base(root, kind):
    arguments = ["--input", os.path.join(root, "corpus"), "--output", os.path.join(root, "out"),
                 "--models", "multinomial_nb", "--ngram-max", "2"]
    if kind == LABELLED:
        arguments += ["--labels", "meeting*=1,other*=0", "--score",
                      "--test-input", os.path.join(root, "test-corpus")]
    return arguments


def fingerprints(arguments):
    return stage_fingerprints(cmd_run.config_from(run_parser().parse_args(arguments)), Storage())


def changed(before, after):
    """The stages whose fingerprint differs, or that only one of the runs has."""
    return {stage for stage in set(before) | set(after) if before.get(stage) != after.get(stage)}


def test_every_option_is_classified():
    assert run_options() == set(OPTION_STAGES)


def test_every_option_has_an_alternative(root):
    assert set(alternatives(root)) == set(OPTION_STAGES)


@pytest.mark.parametrize("option", sorted(OPTION_STAGES))
def test_an_option_changes_exactly_its_stages_and_those_after(root, option):
    kind, added = alternatives(root)[option]
    arguments = base(root, kind)
    before = fingerprints(arguments)
    if added is None:
        after = fingerprints([argument for argument in arguments if argument != "--score"])
    else:
        after = fingerprints(arguments + added)
    expected = set().union(*(CONSEQUENCES[stage] for stage in OPTION_STAGES[option]))
    assert changed(before, after) == expected & (set(before) | set(after))


def test_the_same_options_give_the_same_fingerprints(root):
    assert changed(fingerprints(base(root, LABELLED)), fingerprints(base(root, LABELLED))) \
        == set()


def test_the_email_model_changes_the_labelled_records(root):
    """--models with the email model: the label jobs keep whole records."""
    arguments = base(root, LABELLED)
    assert changed(fingerprints(arguments), fingerprints(arguments + ["--models", "fast"])) == {
        "labels", "test", "train", "score"}


def test_new_or_rewritten_mail_changes_every_stage(root, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus))
    arguments = base(root, LABELLED) + ["--input", str(corpus)]
    before = fingerprints(arguments)
    (corpus / "other" / "new.eml").write_text("Subject: new\n\nnew mail\n")
    after = fingerprints(arguments)
    assert changed(before, after) == CONSEQUENCES["parse"]
    path = corpus / "other" / "new.eml"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert changed(after, fingerprints(arguments)) == CONSEQUENCES["parse"]


def test_a_completion_marker_in_the_input_is_not_mail(root, tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(str(corpus))
    arguments = base(root, LABELLED) + ["--input", str(corpus)]
    before = fingerprints(arguments)
    (corpus / "_SUCCESS").write_text("")
    assert changed(before, fingerprints(arguments)) == set()


def test_the_pseudonym_key_changes_the_graph(root, monkeypatch):
    arguments = base(root, LABELLED) + ["--pseudonymize"]
    before = fingerprints(arguments)
    monkeypatch.setenv("JEEVES_PSEUDONYM_KEY", "another key")
    assert changed(before, fingerprints(arguments)) == {"graph"}


def test_a_labels_file_is_fingerprinted_by_its_content(root, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("message_id,label\n<a@b>,1\n")
    arguments = base(root, LABELLED) + ["--labels", str(labels)]
    before = fingerprints(arguments)
    labels.write_text("message_id,label\n<a@b>,0\n")
    assert changed(before, fingerprints(arguments)) == CONSEQUENCES["labels"] | {"test"}


@pytest.mark.parametrize("option, stages", [
    ("models", {"train", "score"}),
    ("min_df", {"features", "labels", "test", "train", "score"}),
    ("max_list", {"graph"}),
    ("flush_size", set()),
    ("runner", set()),
    ("score", {"score"}),
])
def test_the_documented_examples(root, option, stages):
    """docs/pipeline.md's examples, stated here rather than read from the table."""
    kind, added = alternatives(root)[option]
    arguments = base(root, kind)
    after = (fingerprints(arguments + added) if added is not None
             else fingerprints([argument for argument in arguments if argument != "--score"]))
    assert changed(fingerprints(arguments), after) == stages


def test_an_input_spelled_relative_or_absolute_is_the_same(root, monkeypatch):
    monkeypatch.chdir(root)
    arguments = base(root, LABELLED)
    relative = [("corpus" if argument == os.path.join(root, "corpus") else argument)
                for argument in arguments]
    assert relative != arguments
    assert changed(fingerprints(arguments), fingerprints(relative)) == set()
