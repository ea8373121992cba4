"""Contact lists: who writes to whom, the inverse, per-address totals, and
per-message contact features for the classifier.

Input: parsed, deduplicated message records (JSON lines from
`jeeves parse`, OUT/messages/; schema in docs/records.md). Uses `message_id`,
`date`, `from.address`, `to`, `cc`, `bcc`.

Output (JSONProtocol), key [kind, id]:
- ["contacts", A]  {"address", "contacts": [[recipient, n_to, n_cc, n_bcc], ...],
  "n_contacts", "truncated"}: A's recipients, most messages first, then address,
  at most --max-list of them;
- ["followers", A] {"address", "senders": [[sender, n_to, n_cc, n_bcc], ...],
  "n_senders", "truncated"}: the inverse list;
- ["totals", A]    {"address", "sent", "received", "contacts_out",
  "contacts_in", "reciprocal_contacts"};
- ["message", M]   {"message_id", "sender", "recipients", "sender_out_degree",
  "reciprocal", "prior_messages"}: features the driver joins on message_id.

Two steps. Step 1 counts edges and totals (aggregated in the mapper) and
orders each pair's messages in time (secondary sort: SORT_VALUES). It has no
combiner on purpose: Hadoop streaming splits a combiner's output lines on
one key field (its combiner is a PipeReducer, which reads
stream.num.reduce.output.key.fields, default 1), not on the two that
SORT_VALUES sorts by, so the values would reach the reducer unsorted. Step 2
meets everything about one address in one streaming reducer; its values
arrive sorted by a leading tag so totals, inbound edges, outbound edges and
messages come in that order and no list larger than --max-list is held.
"""

import json
from itertools import groupby
from operator import itemgetter

from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol
from mrjob.step import MRStep

from jeeves.features.graph import (
    CONTACT_LISTS_SETTINGS,
    InvalidRecord,
    message_contacts,
    message_features,
    pair_history,
    pseudonym_key,
    pseudonymizer,
    summarize_contacts,
)
from jeeves.jobs import CountedJob
from jeeves.jobs.protocols import ValidBytesValueProtocol
from jeeves.settings import add_settings, check_settings

COUNTER_GROUP = "contact_lists"
# In-mapper aggregation is flushed past this many distinct keys (bounded memory).
FLUSH_AFTER = 100000

# Step-2 value tags; values sort by them (SORT_VALUES), fixing the arrival order.
TOTALS, IN_EDGE, OUT_EDGE, MESSAGE = range(4)


class MRContactLists(CountedJob, MRJob):
    # Raw lines, decoded in the mapper, so a bad line is counted, not fatal.
    # lines with invalid UTF-8 or escapes of lone surrogates are repaired and counted
    INPUT_PROTOCOL = ValidBytesValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol
    SORT_VALUES = True

    def configure_args(self):
        super().configure_args()
        add_settings(self.add_passthru_arg, CONTACT_LISTS_SETTINGS)

    def steps(self):
        return [
            MRStep(mapper_init=self.mapper_init_counts,
                   mapper=self.mapper_count_contacts,
                   mapper_final=self.mapper_final_flush,
                   reducer=self.reducer_by_address),
            MRStep(reducer=self.reducer_build_lists),
        ]

    def mapper_init_counts(self):
        check_settings(self.options, CONTACT_LISTS_SETTINGS)
        self.address = (pseudonymizer(pseudonym_key())
                        if self.options.pseudonymize else None)
        self.totals = {}
        self.edges = {}
        self.messages = 0

    def mapper_count_contacts(self, repaired, line):
        """line (a JSON record) -> ["m", a, b] [time, message_id, direction] per
        recipient (a < b; direction 0 when a is the sender), or ["n", sender]
        [message_id] when there is none; totals and edge counts are kept in
        the mapper."""
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
        self.messages += 1
        sender = message.sender
        self._add_totals(sender, 0)
        if not message.recipients:
            yield ["n", sender], [message.message_id]
        for recipient, field in message.recipients:
            self._add_totals(recipient, 1)
            low, high = sorted((sender, recipient))
            direction = 0 if low == sender else 1
            counts = self.edges.setdefault((low, high, direction), [0, 0, 0])
            counts[field] += 1
            yield ["m", low, high], [message.time, message.message_id, direction]
        if len(self.edges) + len(self.totals) > FLUSH_AFTER:
            yield from self.mapper_final_flush()

    def _add_totals(self, address, column):
        self.totals.setdefault(address, [0, 0])[column] += 1

    def mapper_final_flush(self):
        """Emit the aggregated ["t", A] [sent, received] and
        ["e", a, b] [direction, n_to, n_cc, n_bcc], and start afresh."""
        if self.messages:
            # one counter update per flush, not per message: each is a line to parse
            self.increment_counter(COUNTER_GROUP, "messages", self.messages)
            self.messages = 0
        for address, counts in self.totals.items():
            yield ["t", address], counts
        for (low, high, direction), counts in self.edges.items():
            yield ["e", low, high], [direction] + counts
        self.totals = {}
        self.edges = {}

    def reducer_by_address(self, key, values):
        """Step-1 keys -> address [tag, ...]: ["t", A] -> A [TOTALS, sent,
        received]; ["e", a, b] -> a and b [OUT_EDGE|IN_EDGE, other, n_to,
        n_cc, n_bcc, reciprocal]; ["m", a, b] (values in time order) and
        ["n", S] -> sender [MESSAGE, message_id, n_recipients, reciprocal,
        prior]."""
        kind = key[0]
        if kind == "t":
            yield key[1], [TOTALS] + _sum_columns(values, 2)
        elif kind == "e":
            pair = key[1:]
            by_direction = {counts[0]: counts[1:] for counts in _sum_directions(values)}
            reciprocal = len(by_direction) == 2
            for direction, counts in by_direction.items():
                sender, recipient = pair[direction], pair[1 - direction]
                yield sender, [OUT_EDGE, recipient] + counts + [reciprocal]
                yield recipient, [IN_EDGE, sender] + counts + [reciprocal]
        elif kind == "m":
            pair = key[1:]
            for message_id, direction, reciprocal, prior in pair_history(values):
                yield pair[direction], [MESSAGE, message_id, 1, reciprocal, prior]
        else:
            for (message_id,) in values:
                yield key[1], [MESSAGE, message_id, 0, False, 0]

    def reducer_build_lists(self, address, values):
        """address [tag, ...] (sorted by tag) -> ["totals"|"contacts"|"followers",
        address] {...} and ["message", message_id] {...} for its messages."""
        max_list = self.options.max_list
        sent = received = contacts_out = contacts_in = reciprocal_contacts = 0
        for tag, group in groupby(values, key=itemgetter(0)):
            if tag == TOTALS:
                sent, received = _sum_columns((value[1:] for value in group), 2)
            elif tag == IN_EDGE:
                senders, contacts_in, _ = summarize_contacts(
                    (value[1:] for value in group), max_list)
                yield ["followers", address], {
                    "address": address, "senders": senders, "n_senders": contacts_in,
                    "truncated": contacts_in > len(senders)}
            elif tag == OUT_EDGE:
                recipients, contacts_out, reciprocal_contacts = summarize_contacts(
                    (value[1:] for value in group), max_list)
                yield ["contacts", address], {
                    "address": address, "contacts": recipients, "n_contacts": contacts_out,
                    "truncated": contacts_out > len(recipients)}
            else:
                for message_id, parts in groupby(group, key=itemgetter(1)):
                    recipients, reciprocal, prior = message_features(
                        value[2:] for value in parts)
                    yield ["message", message_id], {
                        "message_id": message_id, "sender": address,
                        "recipients": recipients, "sender_out_degree": contacts_out,
                        "reciprocal": reciprocal, "prior_messages": prior}
        yield ["totals", address], {
            "address": address, "sent": sent, "received": received,
            "contacts_out": contacts_out, "contacts_in": contacts_in,
            "reciprocal_contacts": reciprocal_contacts}


def _sum_columns(rows, width):
    totals = [0] * width
    for row in rows:
        for column in range(width):
            totals[column] += row[column]
    return totals


def _sum_directions(values):
    """[direction, n_to, n_cc, n_bcc] values -> one summed value per direction."""
    sums = {}
    for direction, *counts in values:
        column_sums = sums.setdefault(direction, [0, 0, 0])
        for column, count in enumerate(counts):
            column_sums[column] += count
    return [[direction] + counts for direction, counts in sorted(sums.items())]


if __name__ == "__main__":
    MRContactLists.run()
