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

Four steps: undirected edges; adjacency per address, which counts the pairs
of its contacts (none for a hub: that would be quadratic in its degree) and
marks its own edges; per pair, drop connected pairs and count the shared
contacts, keeping a partial top k per address; per address, merge the
partials into the top k with a bounded heap. Pair counts and partial top-k
lists are aggregated across a task's keys (flushed past a bound), the
reducer-side analogue of in-mapper combining: the pair step is the volume.
"""

import json

from mrjob.job import MRJob
from mrjob.protocol import BytesValueProtocol, JSONProtocol
from mrjob.step import MRStep

from features.graph import (
    BoundedNeighbours,
    InvalidRecord,
    PartialTopK,
    bounded_top,
    merge_common,
    message_contacts,
    pseudonym_key,
    pseudonymizer,
    suggestion_rank,
)
from jobs.protocols import TupleKeyJSONProtocol

COUNTER_GROUP = "common_contacts"
# In-task aggregation (edges, pair counts, partial top-k entries) is flushed
# past this many entries, so task memory stays bounded.
FLUSH_AFTER = 100000
# Direction bits of an undirected edge (low, high): who wrote to whom.
LOW_TO_HIGH, HIGH_TO_LOW = 1, 2
BOTH_WAYS = LOW_TO_HIGH | HIGH_TO_LOW


class MRCommonContacts(MRJob):
    # Raw lines, decoded in the mapper, so a bad line is counted, not fatal.
    INPUT_PROTOCOL = BytesValueProtocol
    # keys decode to tuples: mrjob's Spark harness hashes the combiner's keys
    INTERNAL_PROTOCOL = TupleKeyJSONProtocol
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
                   reducer_init=self.reducer_init_adjacency,
                   reducer=self.reducer_emit_adjacency,
                   reducer_final=self.reducer_final_adjacency),
            MRStep(reducer_init=self.reducer_init_pairs,
                   reducer=self.reducer_emit_pairs,
                   reducer_final=self.reducer_final_pairs),
            # no combiner: reducer_emit_pairs already sums its task's pairs
            MRStep(reducer_init=self.reducer_init_top,
                   reducer=self.reducer_count_common,
                   reducer_final=self.reducer_final_top),
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

    def reducer_init_pairs(self):
        self.pair_counts = {}

    def reducer_emit_pairs(self, address, neighbours):
        """address neighbour -> ["pair", u, v] n (u < v): n pairs of its
        neighbours, or null for an edge of its own; ["hub", address] degree
        when over --max-degree. Counts are summed across the task's keys."""
        kept = BoundedNeighbours(self.options.max_degree)
        for neighbour in neighbours:
            kept.add(neighbour)
            if address < neighbour:
                self.pair_counts[(address, neighbour)] = None
                if len(self.pair_counts) > FLUSH_AFTER:
                    yield from self.reducer_final_pairs()
        if kept.is_hub:
            self.increment_counter(COUNTER_GROUP, "hubs_skipped")
            yield ["hub", address], kept.degree
            return
        pairs = 0
        counts = self.pair_counts
        for pair in kept.pairs():
            pairs += 1
            counts[pair] = merge_common(counts.get(pair, 0), 1)
            if len(counts) > FLUSH_AFTER:
                yield from self.reducer_final_pairs()
                counts = self.pair_counts
        if pairs:
            self.increment_counter(COUNTER_GROUP, "candidate_pairs", pairs)

    def reducer_final_pairs(self):
        """Emit the task's summed ["pair", u, v] n|null and start afresh."""
        for (low, high), common in self.pair_counts.items():
            yield ["pair", low, high], common
        self.pair_counts = {}

    def reducer_init_top(self):
        self.partial_top = PartialTopK(self.options.top_k, suggestion_rank)

    def reducer_count_common(self, key, values):
        """["pair", u, v] n|null -> (u and v offered each other's suggestion
        when not connected; emitted by the task as ["suggestions", A]
        [[[B, n], ...], candidates]); ["hub", A] degree passes through."""
        if key[0] == "hub":
            for degree in values:
                yield key, degree
            return
        common = _common_or_connected(values)
        if common is None:
            return
        _, low, high = key
        self.partial_top.offer(low, [high, common])
        self.partial_top.offer(high, [low, common])
        if self.partial_top.entries > FLUSH_AFTER:
            yield from self.reducer_final_top()

    def reducer_final_top(self):
        """Emit the task's partial top k per address and start afresh."""
        for address, best, candidates in self.partial_top.drain():
            yield ["suggestions", address], [best, candidates]

    def reducer_top_suggestions(self, key, values):
        """["suggestions", A] [[[B, n], ...], candidates] partials ->
        ["suggestions", A] {...} (top k of all); ["hub", A] degree ->
        ["hub", A] {"address", "degree"}."""
        kind, address = key
        if kind == "hub":
            for degree in values:
                yield key, {"address": address, "degree": degree}
            return
        candidates = [0]

        def entries():
            for best, seen in values:
                candidates[0] += seen
                yield from best

        best, _ = bounded_top(entries(), self.options.top_k, suggestion_rank)
        yield key, {"address": address, "suggestions": best, "n_candidates": candidates[0]}


def _merge_bits(directions):
    merged = 0
    for bits in directions:
        merged |= bits
    return merged


def _common_or_connected(values):
    """None (connected: some value is null) or the sum of the counts."""
    common = 0
    for value in values:
        common = merge_common(common, value)
        if common is None:
            return None
    return common


if __name__ == "__main__":
    MRCommonContacts.run()
