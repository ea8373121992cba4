import math

from jeeves.features.cues import CUE_FEATURE_NAMES, cue_features, sentences


def cues(subject="", body="", quoted=""):
    values = cue_features({"subject": subject, "body": body, "quoted": quoted})
    assert len(values) == len(CUE_FEATURE_NAMES)
    # counts are log1p'd: undo it to compare with hand counts
    return {name: round(math.expm1(value)) for name, value in zip(CUE_FEATURE_NAMES, values)}


def test_temporal_expressions():
    found = cues(body="Can we meet Thurs. May 14 at 10:30 am, or 5/15 at noon? "
                      "Otherwise next week, or tomorrow at 3pm. Not 2001 or 1,000 units.")
    assert found["weekday_mentions"] == 1
    assert found["date_mentions"] == 2
    assert found["time_mentions"] == 3
    assert found["relative_mentions"] == 2


def test_numbers_are_not_dates_or_times():
    found = cues(body="We sold 1,000 MW at $35.50 in 2001; call 713-853-1234.")
    assert found["date_mentions"] == 0 and found["time_mentions"] == 0


def test_questions_requests_and_imperatives():
    found = cues(subject="lunch?",
                 body="Are you free on Friday? Please let me know.\n\n"
                      "Call me when you land. Send the deck to Kay. The deck is fine.")
    assert found["question_marks"] == 2
    assert found["question_sentences"] == 2
    assert found["question_openings"] == 1
    assert found["request_cues"] == 2  # please, let me know
    assert found["imperative_openings"] == 2  # Call, Send
    assert found["availability_cues"] == 1  # free on
    assert found["sentences_log"] == 6


def test_quoted_history_is_not_this_messages_ask():
    assert cues(body="Thanks.", quoted="Can you meet tomorrow at 3pm?") == cues(body="Thanks.")


def test_sentences_split_on_punctuation_and_paragraphs():
    assert sentences("One. Two?  Three!\n\nFour\nstill four\n- five\n1. six") == [
        "One.", "Two?", "Three!", "Four still four", "- five", "1. six"]
    assert sentences(None) == []
    assert len(sentences("a. " * 500, max_sentences=7)) == 7


def test_odd_records_give_zeros():
    for odd in (None, {}, {"subject": 3, "body": ["x"]}):
        assert cue_features(odd) == [0.0] * len(CUE_FEATURE_NAMES)
