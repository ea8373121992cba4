"""A fixture job for the engine tests: per sender, its terms and their share.

Input: parsed message records (docs/records.md), one JSON object per line.
Output: (sender address, [term count, share of the sender's terms]) for each
of the sender's terms, key ``[address, term]``. It touches what the real jobs
need on a cluster: the shipped ``features`` package, WordNet (the analyzer
lemmatizes), counters, a combiner and floats.
"""

import sys

from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol, JSONValueProtocol

from jeeves.features.text import Analyzer


class MRFixtureSenderTerms(MRJob):
    INPUT_PROTOCOL = JSONValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--fail-on-subject", default=None,
            help="raise in the mapper on a record with this subject (tests the error path)",
        )

    def mapper_init(self):
        self.analyze = Analyzer()
        self.analyze.load()
        # how the task started (tests/engines/test_engines.py): through
        # jeeves.jobs.task_start, with none of the modules it keeps out
        try:
            with open("/proc/self/cmdline", "rb") as handle:
                command = handle.read().split(b"\0")
        except OSError:
            command = []
        self.increment_counter("fixture", "map_tasks")
        if b"jeeves.jobs.task_start" in command:
            self.increment_counter("fixture", "tasks_started_by_task_start")
        for name in ("setuptools", "distutils", "yaml"):
            if name in sys.modules:
                self.increment_counter("fixture", "tasks_with_" + name)

    def mapper(self, _, record):
        """record -> (sender, {term: count}) for one message."""
        sender = (record.get("from") or {}).get("address")
        if not sender:
            self.increment_counter("fixture", "no_sender")
            return
        if record.get("subject") == self.options.fail_on_subject:
            raise ValueError("deliberate failure on %r" % record.get("message_id"))
        counts = {}
        for term in self.analyze(record):
            counts[term] = counts.get(term, 0) + 1
        self.increment_counter("fixture", "messages")
        yield sender, counts

    def combiner(self, sender, term_counts):
        """(sender, [{term: count}, ...]) -> (sender, {term: count})."""
        yield sender, _merge(term_counts)

    def reducer(self, sender, term_counts):
        """(sender, [{term: count}, ...]) -> ([sender, term], [count, share])."""
        totals = _merge(term_counts)
        all_terms = sum(totals.values())
        for term, count in totals.items():
            yield [sender, term], [count, count / all_terms]


def _merge(term_counts):
    merged = {}
    for counts in term_counts:
        for term, count in counts.items():
            merged[term] = merged.get(term, 0) + count
    return merged


if __name__ == "__main__":
    MRFixtureSenderTerms.run()
