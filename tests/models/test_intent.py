import os

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from jeeves.models.documents import Documents
from jeeves.models.intent import (
    DEFAULT_INTENT_DATA,
    IntentFeatures,
    IntentModel,
    load_intent_model,
    read_intent_sentences,
    train_intent_model,
)
from tests.models.test_email_features import INTENT_LABELS, INTENT_SENTENCES


def test_reading_the_yes_no_format(tmp_path):
    path = tmp_path / "intent.txt"
    path.write_text("Yes\tCan we meet?\n\nNo\tThe deal closed.\n", encoding="utf-8")
    texts, labels = read_intent_sentences(str(path))
    assert texts == ["Can we meet?", "The deal closed."]
    assert labels.tolist() == [1, 0]
    path.write_text("Maybe\tsomething\n", encoding="utf-8")
    with pytest.raises(ValueError, match="intent.txt:1: expected 'Yes' or 'No'"):
        read_intent_sentences(str(path))


def test_messages_pool_their_sentence_scores():
    model = train_intent_model(INTENT_SENTENCES, INTENT_LABELS)
    records = [{"subject": "", "body": "Can we meet on Friday? The deal closed."},
               {"subject": "prices", "body": "Prices rose today. The report is attached.",
                "quoted": "Are you free at 3pm?"},
               {}]
    docs = Documents(sp.csr_matrix((3, 1)), records)
    rows = IntentFeatures(model).fit(docs).transform(docs)
    assert rows.shape == (3, 4)
    ask, plain, empty = rows
    assert ask[0] > 0.5 > plain[0]          # max
    assert ask[0] >= ask[1]                  # max >= mean
    assert ask[2] == 0.5                     # one of the two sentences asks
    assert plain[3] > 0.5 and ask[3] == 0    # the quoted history's max
    assert empty.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_the_trained_model_survives_clone():
    model = train_intent_model(INTENT_SENTENCES, INTENT_LABELS)
    copy = clone(IntentFeatures(model)).model
    assert isinstance(copy, IntentModel) and copy.key == model.key
    np.testing.assert_array_equal(copy.scores(["Can we meet?"]), model.scores(["Can we meet?"]))


def test_a_missing_model_is_refused():
    with pytest.raises(ValueError, match="IntentFeatures needs model=IntentModel"):
        IntentFeatures().fit(Documents(sp.csr_matrix((1, 1)), [{}]))


def test_the_parakweet_model_tells_asks_from_statements():
    assert os.path.isfile(DEFAULT_INTENT_DATA)  # package data
    model = load_intent_model()
    asks = model.scores(["Can you send me the contract by Friday?",
                         "Please schedule a meeting with the legal team next week."])
    statements = model.scores(["The contract was signed yesterday.",
                               "Gas prices rose again in California."])
    assert asks.min() > statements.max()
