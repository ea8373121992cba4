"""Contact graph: per-record functions behind the graph jobs.

Pure functions (no mrjob) that turn a parsed message record (docs/records.md)
into contact edges, pseudonymize addresses, keep bounded top-k lists and
compute the per-message contact features. The jobs in
`jobs/mr_contact_lists.py` and `jobs/mr_common_contacts.py` are thin adapters
over them; docs/graph.md explains the choices.

Recipients of a message are the distinct addresses of `to`, `cc` and `bcc`
other than the sender; an address listed in several fields counts once, in
the first of to, cc, bcc.
"""

from __future__ import annotations

import functools
import heapq
import hmac
import os
from collections import namedtuple
from datetime import datetime, timezone
from hashlib import sha256
from itertools import compress

from jeeves.settings import Setting

# The contact-graph settings, declared once (jeeves.settings): the jobs'
# arguments, `jeeves graph`/`jeeves run`'s options and GraphConfig come from these.
MAX_LIST = Setting(
    "--max-list", 1000, int, minimum=1,
    help="longest contacts/followers list kept per address (top by count); longer lists "
         "are truncated and flagged (default: %(default)s)")
TOP_K = Setting("--top-k", 10, int, minimum=1,
                help="suggestions kept per address (default: %(default)s)")
MAX_DEGREE = Setting(
    "--max-degree", 1000, int, minimum=1,
    help="addresses with more contacts than this (mailing lists, broadcast senders) count "
         "as nobody's shared contact; they are counted and listed as hubs "
         "(default: %(default)s)")
RECIPROCAL_ONLY = Setting(
    "--reciprocal-only", False,
    help="connect two addresses only when both wrote to each other (default: either "
         "direction)")
PSEUDONYMIZE = Setting(
    "--pseudonymize", False,
    help="replace addresses with a keyed hash (HMAC-SHA256); the key is read by the tasks "
         "from $JEEVES_PSEUDONYM_KEY and never written")
CONTACT_LISTS_SETTINGS = (MAX_LIST, PSEUDONYMIZE)
COMMON_CONTACTS_SETTINGS = (TOP_K, MAX_DEGREE, RECIPROCAL_ONLY, PSEUDONYMIZE)
GRAPH_SETTINGS = (MAX_LIST, TOP_K, MAX_DEGREE, RECIPROCAL_ONLY, PSEUDONYMIZE)

RECIPIENT_FIELDS = ("to", "cc", "bcc")
TO, CC, BCC = range(3)

PSEUDONYM_KEY_ENV = "JEEVES_PSEUDONYM_KEY"
# 16 hex digits = 64 bits: collisions stay negligible (~1e-9) for a million addresses.
PSEUDONYM_HEX_DIGITS = 16

MessageContacts = namedtuple("MessageContacts", "message_id sender time recipients")
MessageContacts.__doc__ = (
    "The contact part of a record: recipients is [(address, field), ...] with "
    "field TO, CC or BCC; time is a sortable UTC string or None.")


class InvalidRecord(ValueError):
    """A record the graph cannot use; ``reason`` is a short counter name."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def utc_timestamp(date):
    """ISO-8601 date -> fixed-width UTC string that sorts in time order, or None.

    The record's `date` is already UTC ISO-8601; rewriting it to one width
    (microseconds, 4-digit year, no offset) makes string order time order,
    which the secondary sort in the contact-lists job relies on.
    """
    if not isinstance(date, str):
        return None
    try:
        moment = datetime.fromisoformat(date)
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return moment.isoformat(timespec="microseconds")


def message_contacts(record, address=None):
    """Parsed record -> MessageContacts; raises InvalidRecord(reason).

    ``address`` maps every address (e.g. a pseudonymizer); identity when None.
    """
    if not isinstance(record, dict):
        raise InvalidRecord("not_a_record")
    message_id = record.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise InvalidRecord("no_message_id")
    sender = record.get("from")
    sender = sender.get("address") if isinstance(sender, dict) else None
    if not isinstance(sender, str) or not sender:
        raise InvalidRecord("no_sender")
    if address is not None:
        sender = address(sender)
    seen = {sender}
    recipients = []
    for field, name in enumerate(RECIPIENT_FIELDS):
        for recipient in record.get(name) or ():
            if not isinstance(recipient, str) or not recipient:
                continue
            if address is not None:
                recipient = address(recipient)
            if recipient not in seen:
                seen.add(recipient)
                recipients.append((recipient, field))
    return MessageContacts(message_id, sender, utc_timestamp(record.get("date")), recipients)


def pseudonym_key(environ=None):
    """The pseudonymization key (bytes) from $JEEVES_PSEUDONYM_KEY.

    Raises ValueError naming the variable when it is unset or empty.
    """
    value = (os.environ if environ is None else environ).get(PSEUDONYM_KEY_ENV, "")
    if not value:
        raise ValueError("%s is not set; --pseudonymize needs a secret key there"
                         % PSEUDONYM_KEY_ENV)
    return value.encode("utf-8")


def pseudonymizer(key, cache_size=1 << 17):
    """address -> hex HMAC-SHA256(key, address), truncated; memoized.

    A keyed hash, not a plain one: without the key nobody can confirm a guess
    of who an address is by hashing it.
    """

    @functools.lru_cache(maxsize=cache_size)
    def pseudonym(address):
        digest = hmac.new(key, address.encode("utf-8"), sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_DIGITS]

    return pseudonym


def contact_rank(entry):
    """Sort key of a contact entry (address, n_to, n_cc, n_bcc, ...):
    most messages first, then address."""
    return (-(entry[1] + entry[2] + entry[3]), entry[0])


def suggestion_rank(entry):
    """Sort key of a suggestion (address, n_common): most shared contacts first."""
    return (-entry[1], entry[0])


def bounded_top(entries, k, key):
    """(the k smallest entries by ``key``, sorted; number of entries).

    Streams ``entries`` holding at most k of them (heapq.nsmallest keeps a
    k-heap over an iterator), so a hub's millions of contacts never sit in
    memory. The key must be a total order for the result not to depend on
    input order. k must be at least 1.
    """
    if k < 1:
        raise ValueError("k must be at least 1, got %r" % (k,))
    seen = [0]

    def counted():
        for entry in entries:
            seen[0] += 1
            yield entry

    best = heapq.nsmallest(k, counted(), key=key)
    return best, seen[0]


def top_suggestions(shared, k):
    """{address: n_common} -> (the k best (address, n_common) by
    suggestion_rank, sorted; number of addresses). k must be at least 1.

    An address has tens of thousands of candidates, and a ranking that
    calls a Python key per entry costs more than counting them. So the work
    is done in C: a sort of the counts gives the k-th best count; the
    addresses above it (fewer than k) are ranked, and the free places go to
    the addresses tied at it, smallest first, as suggestion_rank orders them.
    """
    if k < 1:
        raise ValueError("k must be at least 1, got %r" % (k,))
    if len(shared) <= k:
        return sorted(shared.items(), key=suggestion_rank), len(shared)
    threshold = sorted(shared.values(), reverse=True)[k - 1]
    best = sorted(compress(shared.items(), map(threshold.__lt__, shared.values())),
                  key=suggestion_rank)
    tied = sorted(compress(shared.keys(), map(threshold.__eq__, shared.values())))
    best.extend((address, threshold) for address in tied[:k - len(best)])
    return best, len(shared)


def summarize_contacts(entries, k):
    """Entries (address, n_to, n_cc, n_bcc, reciprocal) of one address ->
    (top k as [address, n_to, n_cc, n_bcc], distinct count, reciprocal count)."""
    reciprocal = [0]

    def counted():
        for entry in entries:
            if entry[4]:
                reciprocal[0] += 1
            yield entry

    best, total = bounded_top(counted(), k, contact_rank)
    return [list(entry[:4]) for entry in best], total, reciprocal[0]


def pair_history(events):
    """Per-message history of one pair of addresses, streamed in time order.

    ``events`` are (time, message_id, direction) for every message between
    addresses a < b (direction 0: a wrote to b, 1: b wrote to a), sorted by
    time with undated (None) events anywhere. Yields (message_id, direction,
    reciprocal, prior): whether the recipient had written to the sender
    strictly earlier, and how many messages the two exchanged strictly
    earlier. Messages with the same time do not count as each other's
    history; undated messages neither see nor make history.
    """
    committed = [0, 0]
    pending = [0, 0]
    current_time = None
    for time, message_id, direction in events:
        if time is None:
            yield message_id, direction, False, 0
            continue
        if time != current_time:
            committed[0] += pending[0]
            committed[1] += pending[1]
            pending = [0, 0]
            current_time = time
        yield message_id, direction, committed[1 - direction] > 0, committed[0] + committed[1]
        pending[direction] += 1


def message_features(contributions):
    """Per-recipient contributions (n_recipients, reciprocal, prior) of one
    message -> (recipients, any recipient wrote to the sender before, most
    earlier messages exchanged with one recipient)."""
    recipients, reciprocal, prior = 0, False, 0
    for count, was_reciprocal, earlier in contributions:
        recipients += count
        reciprocal = reciprocal or bool(was_reciprocal)
        prior = max(prior, earlier)
    return recipients, reciprocal, prior


class BoundedNeighbours:
    """Neighbours of one address, kept only while there are at most max_degree.

    Past the cap the list is dropped (the address is a hub: a mailing list or
    a broadcast sender) and only the degree is counted on, so memory stays
    bounded and no step goes quadratic in a hub's degree.
    """

    def __init__(self, max_degree):
        self.max_degree = max_degree
        self.degree = 0
        self.neighbours = []

    @property
    def is_hub(self):
        return self.degree > self.max_degree

    def add(self, neighbour):
        """Count a neighbour; returns the neighbours no longer kept: none
        under the cap, all so far when passing it, then each new one. So
        every neighbour of a hub is handed back exactly once."""
        self.degree += 1
        if self.neighbours is None:
            return (neighbour,)
        self.neighbours.append(neighbour)
        if self.degree > self.max_degree:
            dropped, self.neighbours = self.neighbours, None
            return dropped
        return ()


# Columns the driver appends to a message's text features (docs/graph.md).
CONTACT_FEATURE_NAMES = ("sender_out_degree", "reciprocal", "prior_messages")


def contact_feature_row(features):
    """A message_features.jsonl record (or None, for a message the graph
    did not see) -> numeric values in CONTACT_FEATURE_NAMES order."""
    if not features:
        return [0.0] * len(CONTACT_FEATURE_NAMES)
    return [float(features.get(name) or 0) for name in CONTACT_FEATURE_NAMES]
