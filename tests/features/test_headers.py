import math

from jeeves.features.headers import HEADER_FEATURE_NAMES, header_features, subject_prefixes


def features_of(record):
    values = header_features(record)
    assert len(values) == len(HEADER_FEATURE_NAMES)
    return dict(zip(HEADER_FEATURE_NAMES, values))


def test_recipients_and_the_to_cc_split():
    row = features_of({"to": ["a@x.com", "b@x.com"], "cc": ["c@x.com"], "bcc": ["c@x.com"]})
    assert row["recipients_log"] == math.log1p(3)  # c@x.com counted once
    assert (row["to_count"], row["cc_count"], row["bcc_count"]) == (2, 1, 1)
    assert row["cc_share"] == 0.5
    assert row["single_recipient"] == 0
    assert features_of({"to": ["a@x.com"]})["single_recipient"] == 1


def test_reply_forward_and_thread_depth():
    reply = features_of({"subject": "RE: RE: lunch", "in_reply_to": None, "references": []})
    assert reply["is_reply"] == 1 and reply["is_forward"] == 0
    assert reply["thread_depth_log"] == math.log1p(2)
    threaded = features_of({"subject": "lunch", "in_reply_to": "a@b",
                            "references": ["r1@b", "r2@b", "a@b"]})
    assert threaded["is_reply"] == 1
    assert threaded["thread_depth_log"] == math.log1p(3)
    forward = features_of({"subject": "Fwd: the deck",
                           "body": "FYI\n---------------------- Forwarded by Kay on 5/1/01"})
    assert forward["is_forward"] == 1 and forward["is_reply"] == 0
    banner_only = features_of({"subject": "deck",
                               "body": "-------- Forwarded message --------\nhello"})
    assert banner_only["is_forward"] == 1
    assert subject_prefixes("Re[2]: fw : FWD:x") == ["re", "fw", "fwd"]


def test_weekday_one_hot_and_cyclic_hour():
    # 2001-05-14 was a Monday
    row = features_of({"date": "2001-05-14T23:30:00+00:00"})
    assert [row["weekday_%d" % day] for day in range(7)] == [1, 0, 0, 0, 0, 0, 0]
    assert row["has_date"] == 1
    just_after_midnight = features_of({"date": "2001-05-15T00:30:00+00:00"})
    # 23:30 and 00:30 are an hour apart on the circle
    distance = math.hypot(row["hour_sin"] - just_after_midnight["hour_sin"],
                          row["hour_cos"] - just_after_midnight["hour_cos"])
    assert distance < 0.3
    noon = features_of({"date": "2001-05-15T12:00:00+00:00"})
    assert noon["hour_cos"] == -1.0


def test_attachments_and_quoted_history():
    row = features_of({"attachments": [{"name": "a.xls", "type": "x", "size": 2048},
                                       {"name": None, "type": "y", "size": 1024}],
                       "quoted": "> earlier"})
    assert row["attachments_log"] == math.log1p(2)
    assert row["attachment_kb_log"] == math.log1p(3)
    assert row["has_quoted"] == 1


def test_odd_records_give_the_empty_row():
    empty = header_features({})
    for odd in (None, "text", {"to": "a@x.com", "date": "yesterday", "attachments": [3],
                               "quoted": 5, "subject": None, "references": "x"}):
        assert header_features(odd) == empty
    assert features_of({})["has_date"] == 0
