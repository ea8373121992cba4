"""Common contacts, "people you may know": for each pair of addresses that
never wrote to each other, the number of contacts they share, and the top-k
such suggestions per address.

Input: parsed, deduplicated message records (JSON lines from
`jeeves parse`, OUT/messages/; schema in docs/records.md). Uses `from.address`,
`to`, `cc`, `bcc`.

Output (JSONProtocol), key [kind, address]:
- ["suggestions", A] {"address", "suggestions": [[B, n_common], ...],
  "n_candidates"}: at most --top-k, most shared contacts first, then address;
  n_candidates is the number of unconnected addresses sharing at least one
  contact with A (no row when there are none);
- ["hub", A] {"address", "degree"}: addresses with more than --max-degree
  contacts, which count as nobody's shared contact (also counted).

Contacts are undirected: A and B are connected when either wrote to the other,
or, with --reciprocal-only, when both did. A sender is not its own contact.

Three steps, the "stripes" pattern rather than one row per pair: undirected
edges; adjacency per middle address W, which sends each of its contacts one
row holding W and W's whole (sorted) contact list, a "stripe" (a hub sends
only W, so that its contacts still know they are connected to it, and pairs
none: that would be quadratic in its degree); per address A, the stripes it
received counted with a Counter (in C), less A and its own contacts (A
received one row from each), give its shared-contact counts and the top k
(jeeves.features.graph.top_suggestions).

Memory: the mappers' edge dict is flushed past a bound; the adjacency
reducer holds at most --max-degree contacts of one address; the reducer at A
holds one Counter of A's two-hop neighbourhood and the set of A's contacts.
For an address with at most --max-degree contacts the Counter has at most
max_degree**2 entries; for a hub of degree D at most D * max_degree (and never
more than there are addresses).
"""

import json
from collections import Counter

from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol
from mrjob.step import MRStep

from jeeves.features.graph import (
    COMMON_CONTACTS_SETTINGS,
    BoundedNeighbours,
    InvalidRecord,
    message_contacts,
    pseudonym_key,
    pseudonymizer,
    top_suggestions,
)
from jeeves.jobs import CountedJob
from jeeves.jobs.protocols import EncodedJSON, TupleKeyJSONProtocol, ValidBytesValueProtocol
from jeeves.settings import add_settings, check_settings

COUNTER_GROUP = "common_contacts"
# The mappers' edge dict is flushed past this many edges, so task memory
# stays bounded.
FLUSH_AFTER = 100000
# Direction bits of an undirected edge (low, high): who wrote to whom.
LOW_TO_HIGH, HIGH_TO_LOW = 1, 2
BOTH_WAYS = LOW_TO_HIGH | HIGH_TO_LOW


class MRCommonContacts(CountedJob, MRJob):
    # Raw lines, decoded in the mapper, so a bad line is counted, not fatal.
    # lines with invalid UTF-8 or escapes of lone surrogates are repaired and counted
    INPUT_PROTOCOL = ValidBytesValueProtocol
    # keys decode to tuples: mrjob's Spark harness hashes the combiner's keys;
    # a stripe is encoded once and written to each of its addresses as it is
    INTERNAL_PROTOCOL = TupleKeyJSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self):
        super().configure_args()
        add_settings(self.add_passthru_arg, COMMON_CONTACTS_SETTINGS)

    def steps(self):
        return [
            MRStep(mapper_init=self.mapper_init_edges,
                   mapper=self.mapper_get_edges,
                   mapper_final=self.mapper_final_flush,
                   combiner=self.combiner_merge_directions,
                   reducer_init=self.reducer_init_adjacency,
                   reducer=self.reducer_emit_adjacency,
                   reducer_final=self.reducer_final_adjacency),
            MRStep(reducer_init=self.reducer_init_stripes,
                   reducer=self.reducer_emit_stripes,
                   reducer_final=self.reducer_final_stripes),
            MRStep(reducer=self.reducer_top_suggestions),
        ]

    def mapper_init_edges(self):
        check_settings(self.options, COMMON_CONTACTS_SETTINGS)
        self.address = (pseudonymizer(pseudonym_key())
                        if self.options.pseudonymize else None)
        self.edges = {}

    def mapper_get_edges(self, repaired, line):
        """line (a JSON record) -> nothing; its edges are kept in the mapper."""
        if repaired:
            self.increment_counter(COUNTER_GROUP, repaired)
        if not line.strip():
            return
        try:
            message = message_contacts(json.loads(line), self.address)
        except InvalidRecord as problem:
            self.increment_counter(COUNTER_GROUP, problem.reason)
            return
        except ValueError:  # includes invalid UTF-8
            self.increment_counter(COUNTER_GROUP, "invalid_json")
            return
        sender = message.sender
        for recipient, _field in message.recipients:
            if sender < recipient:
                edge, direction = (sender, recipient), LOW_TO_HIGH
            else:
                edge, direction = (recipient, sender), HIGH_TO_LOW
            self.edges[edge] = self.edges.get(edge, 0) | direction
        if len(self.edges) > FLUSH_AFTER:
            yield from self.mapper_final_flush()

    def mapper_final_flush(self):
        """Emit the aggregated [low, high] direction bits and start afresh."""
        for edge, directions in self.edges.items():
            yield list(edge), directions
        self.edges = {}

    def combiner_merge_directions(self, edge, directions):
        """[low, high] bits -> [low, high] OR of the bits."""
        yield edge, _merge_bits(directions)

    def reducer_init_adjacency(self):
        self.edges_kept = 0

    def reducer_emit_adjacency(self, edge, directions):
        """[low, high] bits -> low high and high low, for each kept edge."""
        if self.options.reciprocal_only and _merge_bits(directions) != BOTH_WAYS:
            self.increment_counter(COUNTER_GROUP, "one_way_edges_dropped")
            return
        self.edges_kept += 1
        low, high = edge
        yield low, high
        yield high, low

    def reducer_final_adjacency(self):
        """Nothing out; the task's kept edges as one counter update."""
        if self.edges_kept:
            self.increment_counter(COUNTER_GROUP, "edges", self.edges_kept)
        return iter(())

    def reducer_init_stripes(self):
        self.candidate_pairs = 0
        self.hubs = 0

    def reducer_emit_stripes(self, address, neighbours):
        """address neighbour -> ["suggestions", B] [address, [address's
        neighbours, sorted]] for each neighbour B (a stripe); for a hub,
        ["suggestions", B] [address, null] for each neighbour B and
        ["hub", address] {"address", "degree"}."""
        kept = BoundedNeighbours(self.options.max_degree)
        for neighbour in neighbours:
            # a hub's neighbours are let go as they pass the cap: each still
            # learns that it is connected to the hub
            for dropped in kept.add(neighbour):
                yield ("suggestions", dropped), [address, None]
        if kept.is_hub:
            self.hubs += 1
            yield ("hub", address), {"address": address, "degree": kept.degree}
            return
        contacts = sorted(kept.neighbours)
        self.candidate_pairs += len(contacts) * (len(contacts) - 1) // 2
        # one stripe, encoded once, written to every contact
        stripe = EncodedJSON(json.dumps([address, contacts], separators=(",", ":"))
                             .encode("utf-8"))
        for contact in contacts:
            yield ("suggestions", contact), stripe

    def reducer_final_stripes(self):
        """Nothing out; the task's hubs and candidate pairs (the pairs of
        contacts of each non-hub address) as one counter update each."""
        if self.hubs:
            self.increment_counter(COUNTER_GROUP, "hubs_skipped", self.hubs)
        if self.candidate_pairs:
            self.increment_counter(COUNTER_GROUP, "candidate_pairs", self.candidate_pairs)
        return iter(())

    def reducer_top_suggestions(self, key, values):
        """["suggestions", A] [W, [W's contacts]|null] stripes -> ["suggestions",
        A] {"address", "suggestions", "n_candidates"} (none when A has no
        candidate); ["hub", A] {...} passes through."""
        kind, address = key
        if kind == "hub":
            for hub in values:
                yield key, hub
            return
        shared = Counter()
        connected = {address}
        for middle, contacts in values:
            connected.add(middle)
            if contacts is not None:
                shared.update(contacts)
        for contact in connected:
            shared.pop(contact, None)
        if not shared:
            return
        best, candidates = top_suggestions(shared, self.options.top_k)
        yield key, {"address": address, "suggestions": best, "n_candidates": candidates}


def _merge_bits(directions):
    merged = 0
    for bits in directions:
        merged |= bits
    return merged


if __name__ == "__main__":
    MRCommonContacts.run()
