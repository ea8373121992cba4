"""jeeves.models.online: the online learner over hashed character 4-grams, on raw
messages and on records, its thick-threshold updates, explanations and saved state."""

import json
import os

import numpy as np
import pytest

from jeeves.models.online import OnlineModel, message_text, render_record

SPAM_WORDS = ["cheap pills", "win money now", "casino bonus", "free viagra offer",
              "lowest mortgage rate", "hot singles", "click here to claim", "act now"]
HAM_WORDS = ["meeting agenda", "quarterly report", "code review notes", "lunch tomorrow",
             "project deadline", "minutes attached", "build failure", "team offsite"]


def raw(sender, subject, body):
    return ("From: %s\nTo: me@example.org\nSubject: %s\n\n%s\n"
            % (sender, subject, body)).encode("utf-8")


def corpus(count, seed):
    """Alternating spam and ham raw messages, words drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    messages, labels = [], []
    for index in range(count):
        label = index % 2
        words = SPAM_WORDS if label else HAM_WORDS
        sender = "deals@promo-%d.biz" % index if label else "colleague%d@example.org" % index
        picked = [words[i] for i in rng.integers(0, len(words), 3)]
        messages.append(raw(sender, picked[0], " ".join(picked)))
        labels.append(label)
    return messages, labels


def test_a_fresh_model_scores_even_odds():
    model = OnlineModel.new()
    assert model.score([b"Subject: hi\n\nhello", {"subject": "hi", "body": "hello"}]).tolist() \
        == [0.5, 0.5]
    assert model.n_seen == [0, 0]
    assert model.score([]).shape == (0,)


def test_it_learns_to_separate_unseen_messages():
    model = OnlineModel.new()
    messages, labels = corpus(60, seed=1)
    model.learn(messages, labels)
    test_messages, test_labels = corpus(20, seed=2)
    scores = model.score(test_messages)
    spam = scores[np.array(test_labels) == 1]
    ham = scores[np.array(test_labels) == 0]
    assert spam.min() > ham.max()
    assert model.n_seen == [30, 30]
    assert 0 < model.n_updates <= 60


def test_records_are_read_as_rendered_messages():
    record = {"from": {"address": "a@b.org", "name": "Ann"}, "to": ["c@d.org"], "cc": [],
              "subject": "Lunch", "body": "At noon?"}
    text = render_record(record)
    assert text == "From: Ann <a@b.org>\nTo: c@d.org\nSubject: Lunch\n\nAt noon?"
    assert message_text(record, 8) == "From: An"
    # one character per byte: non-ASCII bytes are read as they are, not decoded
    assert message_text("é".encode("utf-8") + b"x", 100) == "\xc3\xa9x"
    model = OnlineModel.new()
    model.learn([record], [1])
    assert model.score([record])[0] > 0.5
    with pytest.raises(TypeError, match="records .dict. or raw messages .bytes."):
        model.score(["a string"])


def test_only_the_first_max_bytes_count():
    model = OnlineModel.new(max_bytes=40)
    head = b"Subject: same head for both\n\n"
    model.learn([head + b"x" * 20 + b"spam spam spam"], [1])
    # differ only after byte 40: the same features, the same score
    first, second = model.score([head + b"y" * 20, head + b"y" * 20 + b"ham ham ham"])
    assert first == second


def test_confident_messages_are_not_learned_again():
    message = raw("deals@promo.biz", "win money", "cheap pills casino bonus")
    always = OnlineModel.new(confident=1.0, learning_rate=0.05)
    margin = OnlineModel.new(confident=0.6, learning_rate=0.05)
    for _ in range(20):
        always.learn([message], [1])
        margin.learn([message], [1])
    assert always.n_updates == 20
    assert margin.n_updates < 20
    assert margin.score([message])[0] >= 0.6
    assert always.score([message])[0] > margin.score([message])[0]
    assert always.n_seen == margin.n_seen == [0, 20]


def test_a_wrong_label_is_always_learned():
    message = raw("deals@promo.biz", "win money", "cheap pills casino bonus")
    model = OnlineModel.new(learning_rate=0.05)
    for _ in range(30):
        model.learn([message], [1])
    updates = model.n_updates
    before = model.score([message])[0]
    model.learn([message], [0])  # a correction: the message is on the wrong side
    assert model.n_updates == updates + 1
    assert model.score([message])[0] < before


def test_explain_names_the_message_ngrams_with_the_largest_weights():
    model = OnlineModel.new()
    messages, labels = corpus(60, seed=1)
    model.learn(messages, labels)
    message = raw("deals@promo-7.biz", "casino bonus", "casino bonus win money now")
    explained = model.explain(message, top=5)
    assert len(explained) == 5
    text = message_text(message, model.max_bytes)
    folded = " ".join(text.split())
    assert all(gram in folded and len(gram) == 4 for gram, _ in explained)
    sizes = [abs(weight) for _, weight in explained]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] > 0
    assert OnlineModel.new().explain(message) == []  # nothing learned, nothing to say


def test_save_and_load_keep_every_score_and_count(tmp_path):
    model = OnlineModel.new(n_features=2 ** 16, learning_rate=0.01)
    messages, labels = corpus(40, seed=3)
    model.learn(messages, labels)
    model.save(str(tmp_path / "online"))
    assert sorted(os.listdir(tmp_path / "online")) == ["online.json", "weights.npz"]
    loaded = OnlineModel.load(str(tmp_path / "online"))
    test_messages, _ = corpus(10, seed=4)
    assert np.array_equal(loaded.score(test_messages), model.score(test_messages))
    assert loaded.n_seen == model.n_seen and loaded.n_updates == model.n_updates
    assert loaded.settings() == model.settings()
    # learning goes on from the loaded state exactly as from the original
    loaded.learn(test_messages, [1] * 10)
    model.learn(test_messages, [1] * 10)
    assert np.array_equal(loaded.weights, model.weights)


def test_bad_options_and_bad_directories_are_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown OnlineModel option rate"):
        OnlineModel.new(rate=0.1)
    with pytest.raises(ValueError, match="confident"):
        OnlineModel.new(confident=0.4)
    with pytest.raises(ValueError, match="not an online model"):
        OnlineModel.load(str(tmp_path))
    model = OnlineModel.new(n_features=16)
    model.save(str(tmp_path))
    state = json.loads((tmp_path / "online.json").read_text())
    state["format_version"] = 99
    (tmp_path / "online.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="format 99"):
        OnlineModel.load(str(tmp_path))
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        model.learn([b"Subject: x\n\ny"], [2])
