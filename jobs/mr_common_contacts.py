"""Common contacts, "people you may know": for each pair of addresses that
never wrote to each other, the number of contacts they share, and the top-k
such suggestions per address.

Input: parsed, deduplicated message records (JSON lines from
`jeeves parse`, OUT/messages/; schema in docs/records.md). Uses `from.address`,
`to`, `cc`, `bcc`.

Output (JSONProtocol), key [kind, address]:
- ["suggestions", A] {"address", "suggestions": [[B, n_common], ...],
  "n_candidates"}: at most --top-k, most shared contacts first, then address;
- ["hub", A] {"address", "degree"}: addresses with more than --max-degree
  contacts, left out of pair generation (also counted).

Contacts are undirected: A and B are connected when either wrote to the other,
or, with --reciprocal-only, when both did. A sender is not its own contact.

Four steps: undirected edges; adjacency per address, which emits the pairs of
its contacts (none for a hub: that would be quadratic in its degree) and a
marker for each of its own edges; per pair, drop connected pairs and count
the shared contacts; per address, keep the top k in a bounded heap.
"""

import json

from mrjob.job import MRJob
from mrjob.protocol import BytesValueProtocol, JSONProtocol
from mrjob.step import MRStep

from features.graph import (
    BoundedNeighbours,
    InvalidRecord,
    bounded_top,
    message_contacts,
    pseudonym_key,
    pseudonymizer,
    suggestion_rank,
)

COUNTER_GROUP = "common_contacts"
# In-mapper aggregation is flushed past this many distinct edges (bounded memory).
FLUSH_AFTER = 100000
# Direction bits of an undirected edge (low, high): who wrote to whom.
LOW_TO_HIGH, HIGH_TO_LOW = 1, 2
BOTH_WAYS = LOW_TO_HIGH | HIGH_TO_LOW


class MRCommonContacts(MRJob):
    # Raw lines, decoded in the mapper, so a bad line is counted, not fatal.
    INPUT_PROTOCOL = BytesValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--top-k", type=int, default=10,
            help="suggestions kept per address (default: 10)")
        self.add_passthru_arg(
            "--max-degree", type=int, default=1000,
            help="addresses with more contacts than this (mailing lists, broadcast "
                 "senders) generate no pairs; they are counted and listed as hubs "
                 "(default: 1000)")
        self.add_passthru_arg(
            "--reciprocal-only", action="store_true",
            help="connect two addresses only when both wrote to each other "
                 "(default: either direction)")
        self.add_passthru_arg(
            "--pseudonymize", action="store_true",
            help="replace addresses with a keyed hash (HMAC-SHA256); the key is read "
                 "by the tasks from $JEEVES_PSEUDONYM_KEY")

    def steps(self):
        return [
            MRStep(mapper_init=self.mapper_init_edges,
                   mapper=self.mapper_get_edges,
                   mapper_final=self.mapper_final_flush,
                   combiner=self.combiner_merge_directions,
                   reducer=self.reducer_emit_adjacency),
            MRStep(reducer=self.reducer_emit_pairs),
            MRStep(combiner=self.combiner_count_common,
                   reducer=self.reducer_count_common),
            MRStep(reducer=self.reducer_top_suggestions),
        ]

    def mapper_init_edges(self):
        if self.options.top_k < 1 or self.options.max_degree < 1:
            raise ValueError("--top-k and --max-degree must be at least 1")
        self.address = (pseudonymizer(pseudonym_key())
                        if self.options.pseudonymize else None)
        self.edges = {}

    def mapper_get_edges(self, _, line):
        """line (a JSON record) -> nothing; its edges are kept in the mapper."""
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

    def reducer_emit_adjacency(self, edge, directions):
        """[low, high] bits -> low high and high low, for each kept edge."""
        if self.options.reciprocal_only and _merge_bits(directions) != BOTH_WAYS:
            self.increment_counter(COUNTER_GROUP, "one_way_edges_dropped")
            return
        self.increment_counter(COUNTER_GROUP, "edges")
        low, high = edge
        yield low, high
        yield high, low

    def reducer_emit_pairs(self, address, neighbours):
        """address neighbour -> ["pair", u, v] 1 for each two of its
        neighbours (u < v), ["pair", address, n] null for each of its edges
        (n > address), or ["hub", address] degree when over --max-degree."""
        kept = BoundedNeighbours(self.options.max_degree)
        for neighbour in neighbours:
            kept.add(neighbour)
            if address < neighbour:
                yield ["pair", address, neighbour], None
        if kept.is_hub:
            self.increment_counter(COUNTER_GROUP, "hubs_skipped")
            yield ["hub", address], kept.degree
            return
        pairs = 0
        for low, high in kept.pairs():
            pairs += 1
            yield ["pair", low, high], 1
        if pairs:
            self.increment_counter(COUNTER_GROUP, "candidate_pairs", pairs)

    def combiner_count_common(self, key, values):
        """["pair", u, v] 1|null -> null when connected, else the sum;
        ["hub", A] passes through."""
        if key[0] == "pair":
            yield key, _common_or_connected(values)
        else:
            for value in values:
                yield key, value

    def reducer_count_common(self, key, values):
        """["pair", u, v] counts -> ["suggestions", u] [v, n] and
        ["suggestions", v] [u, n] when u, v are not connected;
        ["hub", A] degree passes through."""
        if key[0] == "hub":
            for degree in values:
                yield key, degree
            return
        common = _common_or_connected(values)
        if common is None:
            return
        _, low, high = key
        yield ["suggestions", low], [high, common]
        yield ["suggestions", high], [low, common]

    def reducer_top_suggestions(self, key, values):
        """["suggestions", A] [B, n] -> ["suggestions", A] {...} (top k);
        ["hub", A] degree -> ["hub", A] {"address", "degree"}."""
        kind, address = key
        if kind == "hub":
            for degree in values:
                yield key, {"address": address, "degree": degree}
            return
        best, candidates = bounded_top(values, self.options.top_k, suggestion_rank)
        yield key, {"address": address, "suggestions": best, "n_candidates": candidates}


def _merge_bits(directions):
    merged = 0
    for bits in directions:
        merged |= bits
    return merged


def _common_or_connected(values):
    """None (connected: some value is null) or the sum of the counts."""
    common = 0
    for value in values:
        if value is None:
            return None
        common += value
    return common


if __name__ == "__main__":
    MRCommonContacts.run()
