import json
import random
from collections import defaultdict

import pytest

from jeeves.jobs.mr_common_contacts import MRCommonContacts
from jeeves.runjob import run_job as run_driver_job
from tests.helpers import canonical, run_both, run_job


def record(message_id, sender, to=(), cc=(), bcc=()):
    return json.dumps({
        "schema_version": 1, "message_id": message_id, "date": "2001-05-14T23:39:00+00:00",
        "from": {"address": sender, "name": ""},
        "to": list(to), "cc": list(cc), "bcc": list(bcc)})


def edges_to_records(edges):
    """"A B" lines -> one record per line, A writing to B."""
    return [record("m%d" % n, *line.split()) for n, line in enumerate(edges)]


def suggestions(pairs):
    out = {}
    for (kind, address), value in pairs:
        if kind == "suggestions":
            out[address] = value["suggestions"]
    return out


# a-b, a-c, b-d, c-d, a-e: a square a,b,d,c plus e hanging off a
SQUARE = ["a b", "c a", "b d", "d c", "a e", "e a"]


def test_empty_input_gives_no_output():
    assert run_job(MRCommonContacts, [""]) == []


def test_square_with_a_tail():
    got = suggestions(run_job(MRCommonContacts, [edges_to_records(SQUARE)]))
    # unconnected pairs and their shared contacts, counted by hand:
    # b-c: a, d; a-d: b, c; b-e: a; c-e: a; d-e: none
    assert got == {
        "a": [["d", 2]],
        "b": [["c", 2], ["e", 1]],
        "c": [["b", 2], ["e", 1]],
        "d": [["a", 2]],
        "e": [["b", 1], ["c", 1]],
    }


def test_reciprocal_only_uses_two_way_edges():
    # two-way: a-b, b-c, c-d; one-way: a->c, d->a
    edges = ["a b", "b a", "b c", "c b", "c d", "d c", "a c", "d a"]
    lines = edges_to_records(edges)
    assert suggestions(run_job(MRCommonContacts, [lines], args=["--reciprocal-only"])) == {
        "a": [["c", 1]], "c": [["a", 1]], "b": [["d", 1]], "d": [["b", 1]]}
    # in any direction a is connected to b, c and d: only b-d remain (via a and c)
    assert suggestions(run_job(MRCommonContacts, [lines])) == {
        "b": [["d", 2]], "d": [["b", 2]]}


def test_top_k_bounds_the_suggestions():
    # x knows a, b, c; a knows d, b knows d, e; c knows d, e, f
    edges = ["x a", "x b", "x c", "a d", "b d", "b e", "c d", "c e", "c f"]
    pairs = run_job(MRCommonContacts, [edges_to_records(edges)], args=["--top-k", "2"])
    values = {address: value for (kind, address), value in pairs if kind == "suggestions"}
    # x: d via a, b, c (3); e via b, c (2); f via c (1)
    assert values["x"] == {"address": "x", "suggestions": [["d", 3], ["e", 2]],
                           "n_candidates": 3}


def test_recipients_of_one_message_share_the_sender():
    lines = [record("m1", "boss", to=["ann", "bob"], cc=["cy"])]
    assert suggestions(run_job(MRCommonContacts, [lines])) == {
        "ann": [["bob", 1], ["cy", 1]], "bob": [["ann", 1], ["cy", 1]],
        "cy": [["ann", 1], ["bob", 1]]}


def test_output_does_not_depend_on_record_order():
    lines = edges_to_records(SQUARE)
    shuffled = list(lines)
    random.Random(7).shuffle(shuffled)
    assert canonical(run_job(MRCommonContacts, [lines])) == canonical(
        run_job(MRCommonContacts, [shuffled[:3], shuffled[3:]]))


def test_inline_equals_local():
    got = suggestions(run_both(MRCommonContacts, [edges_to_records(SQUARE)]))
    assert got["a"] == [["d", 2]]


def test_hub_is_skipped_counted_and_reported(tmp_path):
    recipients = ["r%05d" % n for n in range(10000)]
    lines = [record("broadcast", "hub", to=recipients),
             # x is an ordinary address with two of the hub's recipients
             record("m1", "x", to=["r00001", "r00002"])]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = run_driver_job(MRCommonContacts, [str(source)], str(tmp_path / "out"),
                            args=["--max-degree", "1000"])
    counters = result.counters["common_contacts"]
    assert counters["hubs_skipped"] == 1
    # only x's pair (r00001, r00002) and the r's pairs of their own two
    # neighbours (hub and x): 1 + 2 * 1; without the cap it would be ~5e7
    assert counters["candidate_pairs"] == 3
    pairs = [json.loads(line.split("\t")[0]) + [json.loads(line.split("\t")[1])]
             for part in sorted((tmp_path / "out").glob("part-*"))
             for line in part.read_text().splitlines()]
    hubs = [value for kind, _, value in pairs if kind == "hub"]
    assert hubs == [{"address": "hub", "degree": 10000}]
    got = {address: value["suggestions"] for kind, address, value in pairs
           if kind == "suggestions"}
    # r00001 and r00002 share hub and x, but a hub makes no pairs: only x
    # counts; hub and x share r00001 and r00002
    assert got == {"r00001": [["r00002", 1]], "r00002": [["r00001", 1]],
                   "hub": [["x", 2]], "x": [["hub", 2]]}


def test_flushing_the_mappers_edges_does_not_change_the_output(monkeypatch):
    import jeeves.jobs.mr_common_contacts as job_module

    lines = edges_to_records(SQUARE + ["x a", "x b", "x c", "c f", "b f", "f g"])
    unbounded = run_job(MRCommonContacts, [lines], args=["--top-k", "2"])
    monkeypatch.setattr(job_module, "FLUSH_AFTER", 2)
    flushed = run_job(MRCommonContacts, [lines], args=["--top-k", "2"])
    assert canonical(flushed) == canonical(unbounded)
    # x knows a, b, c; d knows b, c; f knows b, c, g; e knows a
    assert suggestions(flushed)["x"] == [["d", 2], ["f", 2]]


def random_messages(rng, n_addresses=60, n_messages=50, n_hubs=3):
    """Ordinary messages to 1-3 recipients, half of them answered, plus hubs
    writing to many."""
    addresses = ["a%02d" % n for n in range(n_addresses)]
    messages = []
    for _ in range(n_messages):
        sender = rng.choice(addresses)
        recipients = rng.sample(addresses, rng.randint(1, 3))
        messages.append((sender, recipients))
        if rng.random() < 0.5:
            messages.append((recipients[0], [sender]))
    for hub in range(n_hubs):
        recipients = rng.sample(addresses, 25)
        messages.append(("hub%d" % hub, recipients))
        # some write back, so the hub stays one with --reciprocal-only
        messages.extend((address, ["hub%d" % hub]) for address in recipients[:10])
    return messages


def brute_force(messages, max_degree, top_k, reciprocal_only):
    """Suggestions, hubs and candidate pairs by definition (docs/graph.md),
    pair by pair, independently of the job's code."""
    wrote = {(sender, recipient) for sender, recipients in messages
             for recipient in recipients if recipient != sender}
    neighbours = defaultdict(set)
    for sender, recipient in wrote:
        if not reciprocal_only or (recipient, sender) in wrote:
            neighbours[sender].add(recipient)
            neighbours[recipient].add(sender)
    hubs = {address: len(contacts) for address, contacts in neighbours.items()
            if len(contacts) > max_degree}
    candidate_pairs = sum(len(contacts) * (len(contacts) - 1) // 2
                          for address, contacts in neighbours.items() if address not in hubs)
    expected = {}
    for address in neighbours:
        found = []
        for other in neighbours:
            if other == address or other in neighbours[address]:
                continue
            shared = len((neighbours[address] & neighbours[other]) - set(hubs))
            if shared:
                found.append([other, shared])
        if found:
            found.sort(key=lambda entry: (-entry[1], entry[0]))
            expected[address] = {"address": address, "suggestions": found[:top_k],
                                 "n_candidates": len(found)}
    return expected, hubs, candidate_pairs


@pytest.mark.parametrize("reciprocal_only", [False, True])
def test_suggestions_equal_a_brute_force_count_on_a_random_graph(tmp_path, reciprocal_only):
    rng = random.Random(2024)
    messages = random_messages(rng)
    lines = [record("m%d" % n, sender, to=recipients[:1], cc=recipients[1:])
             for n, (sender, recipients) in enumerate(messages)]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    args = ["--max-degree", "8", "--top-k", "3"] + (
        ["--reciprocal-only"] if reciprocal_only else [])
    result = run_driver_job(MRCommonContacts, [str(source)], str(tmp_path / "out"), args=args)
    rows = [(json.loads(key), json.loads(value))
            for part in sorted((tmp_path / "out").glob("part-*"))
            for key, value in (line.split("\t") for line in part.read_text().splitlines())]
    expected, hubs, candidate_pairs = brute_force(messages, 8, 3, reciprocal_only)
    # the graph is big enough to have hubs, ties and cut lists
    assert len(hubs) >= 3
    assert any(value["n_candidates"] > 3 for value in expected.values())
    got = {address: value for (kind, address), value in rows if kind == "suggestions"}
    assert got == expected
    assert {address: value["degree"] for (kind, address), value in rows
            if kind == "hub"} == hubs
    counters = result.counters["common_contacts"]
    assert counters.get("hubs_skipped", 0) == len(hubs)
    assert counters["candidate_pairs"] == candidate_pairs
