import hmac
import random
from collections import Counter
from hashlib import sha256

import pytest

from jeeves.features.graph import (
    BCC,
    CC,
    CONTACT_FEATURE_NAMES,
    TO,
    BoundedNeighbours,
    InvalidRecord,
    bounded_top,
    contact_feature_row,
    contact_rank,
    message_contacts,
    message_features,
    pair_history,
    pseudonym_key,
    pseudonymizer,
    suggestion_rank,
    summarize_contacts,
    top_suggestions,
    utc_timestamp,
)


def record(sender, to=(), cc=(), bcc=(), message_id="m1", date="2001-05-14T23:39:00+00:00"):
    return {"message_id": message_id, "date": date, "from": {"address": sender, "name": ""},
            "to": list(to), "cc": list(cc), "bcc": list(bcc)}


def test_recipients_are_distinct_first_field_wins_and_exclude_the_sender():
    message = message_contacts(record("a@x", to=["b@x", "a@x"], cc=["b@x", "c@x"],
                                      bcc=["c@x", "d@x"]))
    assert message.sender == "a@x"
    assert message.recipients == [("b@x", TO), ("c@x", CC), ("d@x", BCC)]
    assert message.message_id == "m1"
    assert message.time == "2001-05-14T23:39:00.000000"


@pytest.mark.parametrize("bad, reason", [
    (["not", "a", "dict"], "not_a_record"),
    ({"from": {"address": "a@x"}, "to": ["b@x"]}, "no_message_id"),
    ({"message_id": "m", "from": None, "to": ["b@x"]}, "no_sender"),
    ({"message_id": "m", "from": {"address": ""}, "to": ["b@x"]}, "no_sender"),
])
def test_unusable_records_raise_with_a_reason(bad, reason):
    with pytest.raises(InvalidRecord) as raised:
        message_contacts(bad)
    assert raised.value.reason == reason


def test_missing_recipient_fields_mean_no_recipients():
    message = message_contacts({"message_id": "m", "from": {"address": "a@x"}, "to": None})
    assert message.recipients == []
    assert message.time is None


def test_timestamps_are_utc_and_sort_in_time_order():
    assert utc_timestamp("2001-05-14T20:39:00-03:00") == "2001-05-14T23:39:00.000000"
    assert utc_timestamp("2001-05-14T23:39:00") == "2001-05-14T23:39:00.000000"
    assert utc_timestamp("not a date") is None
    assert utc_timestamp(None) is None
    dates = ["0999-01-01T00:00:00+00:00", "2001-05-14T23:39:00.5+00:00",
             "2001-05-14T23:39:00+00:00", "1979-12-31T23:00:00-02:00"]
    by_string = sorted(dates, key=utc_timestamp)
    assert by_string == [dates[0], dates[3], dates[2], dates[1]]


def test_pseudonyms_are_truncated_hmac_sha256_of_the_address():
    pseudonym = pseudonymizer(b"secret")
    expected = hmac.new(b"secret", b"a@x.com", sha256).hexdigest()[:16]
    assert pseudonym("a@x.com") == expected
    assert pseudonymizer(b"other")("a@x.com") != expected
    message = message_contacts(record("a@x.com", to=["b@x.com"]), pseudonym)
    assert message.sender == expected
    assert message.recipients == [(pseudonym("b@x.com"), TO)]


def test_pseudonym_key_comes_from_the_environment():
    assert pseudonym_key({"JEEVES_PSEUDONYM_KEY": "k3y"}) == b"k3y"
    with pytest.raises(ValueError, match="JEEVES_PSEUDONYM_KEY"):
        pseudonym_key({})
    with pytest.raises(ValueError, match="JEEVES_PSEUDONYM_KEY"):
        pseudonym_key({"JEEVES_PSEUDONYM_KEY": ""})


def test_bounded_top_equals_a_full_sort_and_counts_everything():
    rng = random.Random(5)
    entries = [("addr%03d" % rng.randrange(1000), rng.randrange(4), rng.randrange(3), 0)
               for _ in range(500)]
    best, total = bounded_top(iter(entries), 7, contact_rank)
    by_hand = sorted(entries, key=lambda e: (-(e[1] + e[2] + e[3]), e[0]))[:7]
    assert best == by_hand
    assert total == 500


def test_bounded_top_holds_at_most_k_entries():
    held = []

    class Tracked:
        live = 0

        def __init__(self, n):
            self.n = n
            Tracked.live += 1
            held.append(Tracked.live)

        def __del__(self):
            Tracked.live -= 1

    best, total = bounded_top((Tracked(n) for n in range(10000)), 5, lambda t: -t.n)
    assert [t.n for t in best] == [9999, 9998, 9997, 9996, 9995]
    assert total == 10000
    # k kept + the one being compared + the generator's current item
    assert max(held) <= 5 + 2


def test_suggestions_rank_most_shared_first_then_address():
    entries = [("d", 1), ("b", 2), ("c", 2), ("a", 1), ("e", 3)]
    assert bounded_top(iter(entries), 4, suggestion_rank) == (
        [("e", 3), ("b", 2), ("c", 2), ("a", 1)], 5)


@pytest.mark.parametrize("k", [1, 3, 10, 39, 40, 50])
def test_top_suggestions_equal_a_full_sort(k):
    rng = random.Random(k)
    # few distinct counts: many ties at the cut
    shared = Counter({"b%03d" % n: rng.randint(1, 4) for n in rng.sample(range(1000), 40)})
    best, candidates = top_suggestions(shared, k)
    assert best == sorted(shared.items(), key=lambda e: (-e[1], e[0]))[:k]
    assert candidates == 40


def test_top_suggestions_of_few_candidates_and_k_below_one():
    assert top_suggestions(Counter({"b": 1, "a": 1, "c": 2}), 5) == (
        [("c", 2), ("a", 1), ("b", 1)], 3)
    assert top_suggestions(Counter(), 2) == ([], 0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_suggestions(Counter({"a": 1}), 0)


def test_bounded_top_rejects_k_below_one():
    with pytest.raises(ValueError, match="k must be at least 1"):
        bounded_top([], 0, contact_rank)


def test_summarize_contacts_orders_by_count_then_address_and_counts_reciprocal():
    entries = [("c", 1, 0, 0, True), ("b", 0, 0, 1, False), ("a", 1, 0, 0, False),
               ("d", 2, 1, 0, True)]
    top, distinct, reciprocal = summarize_contacts(iter(entries), 3)
    assert top == [["d", 2, 1, 0], ["a", 1, 0, 0], ["b", 0, 0, 1]]
    assert distinct == 4
    assert reciprocal == 2


def test_pair_history_counts_strictly_earlier_messages():
    # a < b; direction 0: a wrote to b, 1: b wrote to a
    events = [
        ("2001-01-01", "m1", 0),   # a->b, nothing before
        ("2001-01-02", "m2", 0),   # a->b, one before, b never wrote
        ("2001-01-03", "m3", 1),   # b->a, a wrote before: reciprocal
        ("2001-01-03", "m4", 0),   # same time as m3: m3 does not count yet
        ("2001-01-04", "m5", 0),   # now b has written
        (None, "m6", 1),           # undated: no history
    ]
    assert list(pair_history(events)) == [
        ("m1", 0, False, 0),
        ("m2", 0, False, 1),
        ("m3", 1, True, 2),
        ("m4", 0, False, 2),
        ("m5", 0, True, 4),
        ("m6", 1, False, 0),
    ]


def test_message_features_aggregate_recipients():
    assert message_features([(1, False, 3), (1, True, 1), (1, False, 0)]) == (3, True, 3)
    assert message_features([(0, False, 0)]) == (0, False, 0)


def test_bounded_neighbours_keep_the_list_under_the_cap():
    kept = BoundedNeighbours(3)
    assert [list(kept.add(neighbour)) for neighbour in ["c", "a", "b"]] == [[], [], []]
    assert not kept.is_hub
    assert kept.neighbours == ["c", "a", "b"]
    assert kept.degree == 3


def test_bounded_neighbours_drop_a_hub_and_hand_back_each_neighbour_once():
    kept = BoundedNeighbours(1000)
    handed_back = []
    for n in range(10000):
        handed_back.extend(kept.add("r%05d" % n))
        assert kept.neighbours is None or len(kept.neighbours) <= 1000
        # nothing is let go before the cap is passed
        assert handed_back == [] if n < 1000 else len(handed_back) == n + 1
    assert kept.is_hub
    assert kept.degree == 10000
    assert handed_back == ["r%05d" % n for n in range(10000)]


def test_contact_feature_row_for_the_driver():
    features = {"message_id": "m", "sender": "a@x", "recipients": 2,
                "sender_out_degree": 7, "reciprocal": True, "prior_messages": 3}
    assert CONTACT_FEATURE_NAMES == ("sender_out_degree", "reciprocal", "prior_messages")
    assert contact_feature_row(features) == [7.0, 1.0, 3.0]
    assert contact_feature_row(None) == [0.0, 0.0, 0.0]
