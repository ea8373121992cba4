import json
import random

import pytest

from jeeves.jobs.mr_contact_lists import MRContactLists
from jeeves.runjob import run_job as run_driver_job
from tests.helpers import canonical, run_both, run_job


def record(message_id, sender, to=(), cc=(), bcc=(), date="2001-05-14T23:39:00+00:00"):
    return json.dumps({
        "schema_version": 1, "message_id": message_id, "date": date,
        "from": {"address": sender, "name": ""},
        "to": list(to), "cc": list(cc), "bcc": list(bcc), "subject": "", "body": ""})


def by_kind(pairs):
    """[(["kind", id], value), ...] -> {kind: {id: value}}."""
    kinds = {}
    for (kind, key), value in pairs:
        assert key not in kinds.setdefault(kind, {}), "duplicate output key"
        kinds[kind][key] = value
    return kinds


def addresses(entries):
    return [entry[0] for entry in entries]


def test_empty_input_gives_no_output():
    assert run_job(MRContactLists, [""]) == []


def test_textbook_follower_list():
    # `A B`, `A C`, `A Z`, `A W`: one message per line
    lines = [record("m%d" % n, "A", to=[recipient])
             for n, recipient in enumerate(["B", "C", "Z", "W"])]
    out = by_kind(run_job(MRContactLists, [lines]))
    contacts = out["contacts"]["A"]
    # every count is 1, so the documented tie-break (address) orders them
    assert addresses(contacts["contacts"]) == ["B", "C", "W", "Z"]
    assert contacts["n_contacts"] == 4 and not contacts["truncated"]
    assert set(out["contacts"]) == {"A"}
    assert {key: value["senders"] for key, value in out["followers"].items()} == {
        recipient: [["A", 1, 0, 0]] for recipient in "BCZW"}


HAND_GRAPH = [
    record("m1", "a@x", to=["b@x", "c@x"], cc=["z@x"], date="2001-05-14T23:39:00+00:00"),
    record("m2", "b@x", to=["a@x"], bcc=["b@x"], date="2001-05-15T10:00:00+00:00"),
    record("m3", "a@x", to=["b@x", "w@x"], cc=["b@x"], date="2001-05-16T09:00:00+02:00"),
    record("m4", "a@x", date=None),
    record("m5", "c@x", cc=["b@x"], bcc=["a@x"], date="2001-05-13T00:00:00+00:00"),
]


def test_hand_graph_lists_totals_and_reciprocity():
    out = by_kind(run_job(MRContactLists, [HAND_GRAPH]))
    assert out["contacts"]["a@x"]["contacts"] == [
        ["b@x", 2, 0, 0], ["c@x", 1, 0, 0], ["w@x", 1, 0, 0], ["z@x", 0, 1, 0]]
    assert out["contacts"]["c@x"]["contacts"] == [["a@x", 0, 0, 1], ["b@x", 0, 1, 0]]
    assert out["followers"]["a@x"]["senders"] == [["b@x", 1, 0, 0], ["c@x", 0, 0, 1]]
    assert out["totals"]["a@x"] == {
        "address": "a@x", "sent": 3, "received": 2, "contacts_out": 4,
        "contacts_in": 2, "reciprocal_contacts": 2}
    assert out["totals"]["b@x"] == {
        "address": "b@x", "sent": 1, "received": 3, "contacts_out": 1,
        "contacts_in": 2, "reciprocal_contacts": 1}
    assert out["totals"]["w@x"]["received"] == 1
    assert out["totals"]["w@x"]["sent"] == 0
    assert set(out["totals"]) == {"a@x", "b@x", "c@x", "w@x", "z@x"}


def test_hand_graph_message_features():
    features = by_kind(run_job(MRContactLists, [HAND_GRAPH]))["message"]
    assert set(features) == {"m1", "m2", "m3", "m4", "m5"}
    # m1 (May 14): c had written to a on May 13 (m5, bcc); 1 earlier message with c
    assert features["m1"] == {"message_id": "m1", "sender": "a@x", "recipients": 3,
                              "sender_out_degree": 4, "reciprocal": True,
                              "prior_messages": 1}
    # m2: a wrote to b in m1
    assert features["m2"]["reciprocal"] is True
    assert features["m2"]["prior_messages"] == 1
    # m3 (May 16 07:00 UTC): with b, m1 and m2 before it
    assert features["m3"]["reciprocal"] is True
    assert features["m3"]["prior_messages"] == 2
    assert features["m3"]["recipients"] == 2
    # m4: no recipients, no date
    assert features["m4"] == {"message_id": "m4", "sender": "a@x", "recipients": 0,
                              "sender_out_degree": 4, "reciprocal": False,
                              "prior_messages": 0}
    # m5 is the first message of the corpus
    assert features["m5"]["reciprocal"] is False
    assert features["m5"]["prior_messages"] == 0
    assert features["m5"]["sender_out_degree"] == 2


def test_output_does_not_depend_on_record_order():
    shuffled = list(HAND_GRAPH)
    random.Random(3).shuffle(shuffled)
    once = run_job(MRContactLists, [HAND_GRAPH])
    again = run_job(MRContactLists, [shuffled[:2], shuffled[2:]])
    assert canonical(once) == canonical(again)


def test_odd_records_are_counted_not_fatal(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([
        record("m1", "a@x", to=["b@x"]), "not json", json.dumps({"message_id": "m2"}),
        "", json.dumps([1, 2])]) + "\n")
    result = run_driver_job(MRContactLists, [str(source)], str(tmp_path / "out"))
    assert result.counters["contact_lists"] == {
        "messages": 1, "invalid_json": 1, "no_sender": 1, "not_a_record": 1}


def test_inline_equals_local():
    out = by_kind(run_both(MRContactLists, [HAND_GRAPH[:3], HAND_GRAPH[3:]]))
    assert out["totals"]["a@x"]["sent"] == 3


def test_hub_lists_stay_within_the_cap():
    recipients = ["r%05d@x" % n for n in range(10000)]
    lines = [record("broadcast", "hub@x", to=recipients[:6000], bcc=recipients[6000:]),
             record("again", "hub@x", to=["r09999@x", "r00042@x"])]
    out = by_kind(run_job(MRContactLists, [lines], args=["--max-list", "100"]))
    hub = out["contacts"]["hub@x"]
    assert len(hub["contacts"]) == 100
    assert hub["n_contacts"] == 10000 and hub["truncated"]
    # the two recipients with two messages come first, then addresses in order
    assert addresses(hub["contacts"][:3]) == ["r00042@x", "r09999@x", "r00000@x"]
    assert hub["contacts"][1] == ["r09999@x", 1, 0, 1]
    assert out["totals"]["hub@x"]["contacts_out"] == 10000
    assert len(out["followers"]) == 10000
    assert out["message"]["broadcast"]["recipients"] == 10000


def test_pseudonymized_output_hides_addresses(monkeypatch):
    monkeypatch.setenv("JEEVES_PSEUDONYM_KEY", "test-key")
    plain = by_kind(run_job(MRContactLists, [HAND_GRAPH]))
    hashed = by_kind(run_job(MRContactLists, [HAND_GRAPH], args=["--pseudonymize"]))
    text = json.dumps(hashed)
    assert "@x" not in text and "test-key" not in text
    assert len(hashed["totals"]) == len(plain["totals"])
    assert sorted(t["sent"] for t in hashed["totals"].values()) == sorted(
        t["sent"] for t in plain["totals"].values())
    assert set(hashed["message"]) == set(plain["message"])


def test_pseudonymize_without_a_key_fails(monkeypatch):
    monkeypatch.delenv("JEEVES_PSEUDONYM_KEY", raising=False)
    with pytest.raises(Exception, match="JEEVES_PSEUDONYM_KEY"):
        run_job(MRContactLists, [HAND_GRAPH], args=["--pseudonymize"])


def test_flushing_mapper_aggregates_does_not_change_the_output(monkeypatch):
    import jeeves.jobs.mr_contact_lists as job_module

    unbounded = run_job(MRContactLists, [HAND_GRAPH])
    monkeypatch.setattr(job_module, "FLUSH_AFTER", 2)
    assert canonical(run_job(MRContactLists, [HAND_GRAPH])) == canonical(unbounded)
