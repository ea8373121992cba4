"""The train stage's fingerprint holds the intent sentences' sha256 only when the
run's email model has the intent group, the one reader of that file: other runs
do not read it (its bytes were 0.3 MB of every Hadoop run's driver)."""

import argparse

from jeeves import cmd_run
from jeeves.pipeline.fingerprint import stage_fingerprints
from jeeves.storage import Storage
from tests.fixtures.tiny_corpus import write_corpus


def train_fingerprint(tmp_path, intent, *options):
    parser = argparse.ArgumentParser()
    cmd_run.add_arguments(parser)
    arguments = ["--input", str(tmp_path / "corpus"), "--output", str(tmp_path / "out"),
                 "--labels", "meeting*=1,other*=0", "--intent-data", str(intent), *options]
    return stage_fingerprints(cmd_run.config_from(parser.parse_args(arguments)),
                              Storage())["train"]


def test_the_intent_file_is_digested_only_for_the_intent_group(tmp_path, monkeypatch):
    write_corpus(str(tmp_path / "corpus"))
    intent = tmp_path / "intent.txt"
    intent.write_text("Yes\tcan we meet\nNo\tthanks\n")
    read = []
    original_open = open

    def tracked_open(path, *args, **kwargs):
        read.append(str(path))
        return original_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", tracked_open)
    email = ("--models", "email_logistic_regression", "--feature-groups", "text,intent")
    plain = ("--models", "logistic_regression", "--feature-groups", "none")
    with_intent = train_fingerprint(tmp_path, intent, *email)
    without_intent = train_fingerprint(tmp_path, intent, *plain)
    assert read.count(str(intent)) == 1  # read for the email model's run only
    intent.write_text("Yes\tcan we talk\nNo\tthanks\n")
    assert train_fingerprint(tmp_path, intent, *email) != with_intent
    assert train_fingerprint(tmp_path, intent, *plain) == without_intent
    # another file named is another run still
    assert train_fingerprint(tmp_path, tmp_path / "other.txt", *plain) != without_intent
