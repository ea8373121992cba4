"""Build the vocabulary on the cluster: df pruning, collocations and max_features.

Input: the output of mr_count_ngrams; only its ``["terms", partition] ->
{term: [term_count, df]}`` rows are read (the ``["message", ...]`` rows, the
bulk of it, and the ``["documents", ""]`` row are skipped undecoded). Each
term is in one partition row only, so a term's totals are final where they
are read. With ``--min-llr`` the output of mr_score_collocations (``"w1 w2"
-> LLR``) is a second input: a bigram is kept only when its LLR is at least
--min-llr (jeeves.features.collocations.collocation_filter).

Arguments: ``--documents N`` (the ``n`` of the df fractions: the count job's
``count_ngrams.messages`` counter), ``--min-df`` / ``--max-df`` (an int is a
document count, a float a fraction, as jeeves.features.vocabulary.parse_df_bound),
``--max-features K``, ``--min-llr X``, ``--hash-features N`` (hashing mode:
every bucket is kept, nothing pruned, as build_hashed_table).

Output: the kept terms only, ``"term" -> [term_count, df]`` (JSON key and
value), or, from the map-only step, one row per partition of the count job,
``["kept", partition] -> {"term": [term_count, df], ...}``, in no particular
order across part files: the driver reads both with
jeeves.features.vocabulary.read_kept_terms and gives the ids (sorted term order)
with vocabulary_rows_from_kept, so it holds the kept vocabulary, never the
corpus' distinct terms. The result equals jeeves.features.vocabulary.build_vocabulary
(and so scikit-learn's) with any number of reducers.

Steps, by options:
- no --min-llr, no --max-features: map-only; the mapper writes the terms
  whose df is within [min_df, max_df], a row per partition (filtered and
  written natively when the kernel is built: jeeves.features.kernel
  ``filter_terms``, the bytes ujson would write).
- --max-features K without --min-llr: each mapper keeps its top K terms
  (jeeves.features.vocabulary.TopTerms: count descending, then term ascending, the
  order of select_terms) and writes them at its end as ``None -> [term,
  count, df]``; one reducer key merges at most K x mappers candidates into
  the final K.
- --min-llr: the mapper sends each term in the df range as ``term -> [0,
  count, df]`` and each collocation row as ``"w1 w2" -> [1, LLR]``; the
  reducer of a term joins them and keeps unigrams (and other n-gram orders)
  and the bigrams scoring at least --min-llr. With --max-features each
  reducer task keeps its top K and a second step with one key merges them.

Counters (group ``build_vocabulary``): ``terms`` (distinct terms read),
``terms_out_of_df_range``, ``bigrams_under_min_llr``, ``terms_in_range``
(past df and LLR, before max_features), ``terms_kept`` (written),
``invalid_row``.
"""

from __future__ import annotations

import argparse

from mrjob.job import MRJob
from mrjob.protocol import JSONProtocol, RawValueProtocol
from mrjob.step import MRStep

from jeeves.features.collocations import split_bigram
from jeeves.features.kernel import filter_terms
from jeeves.features.vocabulary import (
    HASH_FEATURES,
    MAX_DF,
    MAX_FEATURES,
    MIN_DF,
    MIN_LLR,
    TopTerms,
    df_limits,
)
from jeeves.jobs import CountedJob
from jeeves.jobs.protocols import EncodedJSON, TupleKeyJSONProtocol
from jeeves.settings import add_settings

try:
    import ujson as json
except ImportError:  # pragma: no cover - ujson is a dependency
    import json

COUNTERS = "build_vocabulary"
TERMS_ROW_PREFIX = '["terms"'
COUNT_ROW_PREFIX = "["
COLLOCATION_ROW_PREFIX = '"'
# the key of a map-only task's block of kept terms: ["kept", partition]
KEPT = "kept"
# value tags of the collocation join
TERM, SCORE = 0, 1


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % (text,)) from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, not %d" % value)
    return value


class MRBuildVocabulary(CountedJob, MRJob):
    INPUT_PROTOCOL = RawValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    # JSONProtocol's lines; a block of kept terms filtered natively is
    # written as the JSON text it is (EncodedJSON)
    OUTPUT_PROTOCOL = TupleKeyJSONProtocol

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg(
            "--documents", type=non_negative_int, required=True,
            help="messages counted (the count job's count_ngrams.messages counter)")
        add_settings(self.add_passthru_arg,
                     (MIN_DF, MAX_DF, MAX_FEATURES, MIN_LLR, HASH_FEATURES))

    def load_args(self, args):
        super().load_args(args)
        if self.options.documents:
            try:
                df_limits(self.options.documents, self.options.min_df, self.options.max_df)
            except ValueError as error:
                # on the driver, when the job is built: one usage line
                self.arg_parser.error("%s (--min-df %r, --max-df %r)"
                                      % (error, self.options.min_df, self.options.max_df))

    # --- step 1 mapper: the terms rows, df pruning --------------------------

    def mapper_init(self):
        if self.options.hash_features:
            self.low, self.high = 0, float("inf")
        elif self.options.documents:
            self.low, self.high = df_limits(self.options.documents, self.options.min_df,
                                            self.options.max_df)
        else:
            # no documents, no terms: nothing can be in range
            self.low, self.high = 1, 0
        self.join = self.options.min_llr is not None and not self.options.hash_features
        self.top = None
        if self.options.max_features and not self.options.hash_features:
            self.top = TopTerms(self.options.max_features)

    def mapper_read_terms(self, _, line):
        """A count job line -> terms in the df range: ``term -> [count, df]``
        (map-only), kept in the task's top K (--max-features), or ``term ->
        [0, count, df]`` / collocation ``"w1 w2" -> [1, LLR]`` (--min-llr)."""
        if not line.startswith(TERMS_ROW_PREFIX):
            if line.startswith(COLLOCATION_ROW_PREFIX):
                if self.join:
                    yield from self.route_collocation(line)
            elif not line.startswith(COUNT_ROW_PREFIX) and line.strip():
                self.increment_counter(COUNTERS, "invalid_row")
            return
        _, _, value = line.partition("\t")
        low, high = self.low, self.high
        if not self.join and self.top is None:
            # map-only: the row filtered and written natively, when it can be
            filtered = filter_terms(value, low, high)
            if filtered is not None:
                yield from self.kept_row(line, *filtered)
                return
        try:
            totals = json.loads(value)
            in_range = [(term, count, df) for term, (count, df) in totals.items()
                        if low <= df <= high]
        except (ValueError, TypeError, AttributeError):
            self.increment_counter(COUNTERS, "invalid_row")
            return
        self.increment_counter(COUNTERS, "terms", len(totals))
        if len(in_range) < len(totals):
            self.increment_counter(COUNTERS, "terms_out_of_df_range", len(totals) - len(in_range))
        if self.join:
            for term, count, df in in_range:
                yield term, [TERM, count, df]
            return
        self.increment_counter(COUNTERS, "terms_in_range", len(in_range))
        if self.top is not None:
            for term, count, df in in_range:
                self.top.add(term, count, df)
            return
        self.increment_counter(COUNTERS, "terms_kept", len(in_range))
        if in_range:
            # one row per partition: a single JSON object costs far less to
            # write and read than a row per term
            key = json.loads(line.partition("\t")[0])
            yield [KEPT, key[1]], {term: [count, df] for term, count, df in in_range}

    def kept_row(self, line, encoded, terms, in_range):
        """``mapper_read_terms``' counters and row for a row ``filter_terms``
        read: ``["kept", partition] -> {term: [count, df], ...}`` as it is."""
        self.increment_counter(COUNTERS, "terms", terms)
        if in_range < terms:
            self.increment_counter(COUNTERS, "terms_out_of_df_range", terms - in_range)
        self.increment_counter(COUNTERS, "terms_in_range", in_range)
        self.increment_counter(COUNTERS, "terms_kept", in_range)
        if encoded is not None:
            key = json.loads(line.partition("\t")[0])
            yield [KEPT, key[1]], EncodedJSON(encoded)

    def route_collocation(self, line):
        """A collocation row -> ``"w1 w2" -> [1, LLR]`` when it scores enough."""
        key, _, value = line.partition("\t")
        try:
            bigram, score = json.loads(key), float(json.loads(value))
        except (ValueError, TypeError):
            self.increment_counter(COUNTERS, "invalid_row")
            return
        if not isinstance(bigram, str):
            self.increment_counter(COUNTERS, "invalid_row")
        elif score >= self.options.min_llr:
            yield bigram, [SCORE, score]

    def mapper_final_top(self):
        """The task's top K -> ``None -> [term, count, df]`` each."""
        for term, count, df in self.top.top():
            yield None, [term, count, df]

    # --- collocation join (--min-llr) ---------------------------------------

    def reducer_init_join(self):
        self.top = TopTerms(self.options.max_features) if self.options.max_features else None
        # counted per task, not per term: each update is a line the runner parses
        self.counts = {"terms_in_range": 0, "bigrams_under_min_llr": 0, "terms_kept": 0}

    def reducer_join_collocations(self, term, values):
        """``term, [[0, count, df]] + [[1, LLR]]?`` -> ``term -> [count, df]``
        for a kept term (or into the task's top K)."""
        stats, scored = None, False
        for value in values:
            if value[0] == TERM:
                stats = value[1:]
            else:
                scored = True
        if stats is None:
            return  # a collocation outside the df range
        if not scored and split_bigram(term) is not None:
            self.counts["bigrams_under_min_llr"] += 1
            return
        self.counts["terms_in_range"] += 1
        if self.top is not None:
            self.top.add(term, stats[0], stats[1])
        else:
            self.counts["terms_kept"] += 1
            yield term, stats

    def reducer_final_join(self):
        """The task's counters and, with --max-features, its top K ->
        ``None -> [term, count, df]`` each."""
        for name, value in self.counts.items():
            if value:
                self.increment_counter(COUNTERS, name, value)
        if self.top is not None:
            for term, count, df in self.top.top():
                yield None, [term, count, df]

    # --- the final top K (--max-features) -----------------------------------

    def reducer_merge_top(self, _, candidates):
        """``None, [[term, count, df], ...]`` (K per task) -> the K kept terms."""
        top = TopTerms(self.options.max_features)
        for term, count, df in candidates:
            top.add(term, count, df)
        kept = top.top()
        self.increment_counter(COUNTERS, "terms_kept", len(kept))
        for term, count, df in kept:
            yield term, [count, df]

    def steps(self):
        join = self.options.min_llr is not None and not self.options.hash_features
        top = bool(self.options.max_features) and not self.options.hash_features
        if not join:
            if not top:
                return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_read_terms)]
            return [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_read_terms,
                           mapper_final=self.mapper_final_top,
                           reducer=self.reducer_merge_top)]
        steps = [MRStep(mapper_init=self.mapper_init, mapper=self.mapper_read_terms,
                        reducer_init=self.reducer_init_join,
                        reducer=self.reducer_join_collocations,
                        reducer_final=self.reducer_final_join)]
        if top:
            steps.append(MRStep(reducer=self.reducer_merge_top))
        return steps


if __name__ == "__main__":
    MRBuildVocabulary.run()
