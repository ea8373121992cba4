"""The features stage: parsed messages -> vocabulary.tsv and tf-idf vectors.

Writes, under OUTPUT/features/ (a local directory or a URI):

- ``counts/``        jobs/mr_count_ngrams.py: the corpus totals of the terms
- ``collocations/``  jobs/mr_score_collocations.py, with ``min_llr``
- ``kept/``          jobs/mr_build_vocabulary.py: the terms that pass min_df,
                     max_df, max_features (and the collocation filter), with df;
                     under the local runner this job runs in the driver (mrjob's
                     inline runner), which costs less than its task processes
- ``vocabulary.tsv`` term, id, df, idf: the driver numbers the kept terms
- ``tfidf/``         jobs/mr_tfidf_vectors.py: svmlight lines (from the messages,
                     analyzed again: cheaper than carrying their counts)
- ``analyzer.json``  the analyzer configuration, to rebuild the same analyzer
- ``summary.json``   documents, distinct terms, vocabulary size, job counters
- ``_SUCCESS``       last

The totals of the distinct terms never reach the driver: pruning runs in a
job, and the driver reads only the kept terms, so its memory is bounded by
the vocabulary, not by the distinct n-grams (most are bigrams under min_df).
See docs/features.md for each pass.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Optional, Union

from jeeves.errors import UserError
from jeeves.features.kernel import kept_vocabulary_bytes
from jeeves.features.text import analyzer_args, config_with_defaults
from jeeves.features.tfidf import NORM, SUBLINEAR_TF
from jeeves.features.vocabulary import (
    FLUSH_SIZE,
    HASH_FEATURES,
    MAX_DF,
    MAX_FEATURES,
    MIN_DF,
    MIN_LLR,
    SMOOTH_IDF,
    USE_IDF,
    df_limits,
)
from jeeves.settings import check_settings
from jeeves.storage import is_remote, join

DfBound = Union[int, float]
# declared in jeeves.features.vocabulary and .tfidf: `jeeves features`/`run`'s options
VECTORIZER_SETTINGS = (MIN_DF, MAX_DF, MAX_FEATURES, SMOOTH_IDF, USE_IDF, SUBLINEAR_TF, NORM,
                       HASH_FEATURES, MIN_LLR, FLUSH_SIZE)


@dataclass(frozen=True)
class VectorizerConfig:
    """Vocabulary and weighting settings (scikit-learn's TfidfVectorizer names)."""

    min_df: DfBound = MIN_DF.default
    max_df: DfBound = MAX_DF.default
    max_features: Optional[int] = MAX_FEATURES.default
    smooth_idf: bool = SMOOTH_IDF.default
    use_idf: bool = USE_IDF.default
    sublinear_tf: bool = SUBLINEAR_TF.default
    norm: str = NORM.default
    hash_features: int = HASH_FEATURES.default
    min_llr: Optional[float] = MIN_LLR.default
    flush_size: int = FLUSH_SIZE.default

    def __post_init__(self):
        try:
            check_settings(self, VECTORIZER_SETTINGS)
        except ValueError as error:
            raise UserError(str(error)) from None
        if type(self.min_df) is type(self.max_df) and self.max_df < self.min_df:
            # both counts or both fractions: wrong whatever the corpus
            raise UserError("max_df corresponds to < documents than min_df")

    @property
    def vectors(self):
        """What prediction needs to build the same vectors (stored in the bundle)."""
        return {"sublinear_tf": self.sublinear_tf, "norm": self.norm,
                "hash_features": self.hash_features}


def features_stage(engine, messages, output, analyzer_config=None, settings=None):
    """Run counting, (collocations), vocabulary and vectors -> the stage summary dict."""
    from jeeves.jobs.mr_build_vocabulary import MRBuildVocabulary
    from jeeves.jobs.mr_count_ngrams import MRCountNgrams
    from jeeves.jobs.mr_score_collocations import MRScoreCollocations
    from jeeves.jobs.mr_tfidf_vectors import MRTfidfVectors

    settings = settings or VectorizerConfig()
    config = config_with_defaults(analyzer_config)
    storage = engine.storage
    features_dir = join(output, "features")
    storage.clear(features_dir)
    timings = {}
    with tempfile.TemporaryDirectory(prefix="jeeves-features-") as scratch:
        stop_words_file = write_stop_words(config, scratch)
        storage.write_bytes(join(features_dir, "analyzer.json"),
                            json.dumps(config, indent=1, sort_keys=True).encode("utf-8"))

        counts_dir = join(features_dir, "counts")
        count_args = (analyzer_args(config, stop_words_file)
                      + FLUSH_SIZE.job_args(settings.flush_size)
                      + HASH_FEATURES.job_args(settings.hash_features))
        if (not settings.hash_features and isinstance(settings.min_df, int)
                and settings.min_df > 1 and settings.min_llr is None):
            # terms under min_df never reach the vocabulary: the reducer drops them
            count_args += MIN_DF.job_args(settings.min_df)
        if engine.runner in ("inline", "local"):
            # each task's rows go to one sort on this machine anyway; a cluster's
            # combiner cuts what crosses the network (jobs/mr_count_ngrams.py)
            count_args += ["--no-combiner"]
        started = time.perf_counter()
        counting = engine.run(MRCountNgrams, messages, counts_dir, count_args)
        timings["count_ngrams"] = time.perf_counter() - started
        counters = counting.counters.get("count_ngrams", {})
        n_docs = counters.get("messages", 0)
        summary = {"documents": n_docs, "counters": {"count_ngrams": counting.counters},
                   "seconds": timings, "tasks": {"count_ngrams": counting.tasks}}
        if n_docs and not settings.hash_features:
            try:
                df_limits(n_docs, settings.min_df, settings.max_df)
            except ValueError as error:
                storage.clear(features_dir)
                raise UserError(str(error)) from None

        vocabulary_args = ["--documents", str(n_docs)]
        vocabulary_inputs = [join(counts_dir, "part-*")]
        if settings.hash_features:
            vocabulary_args += HASH_FEATURES.job_args(settings.hash_features)
        else:
            vocabulary_args += (MIN_DF.job_args(settings.min_df)
                                + MAX_DF.job_args(settings.max_df)
                                + MAX_FEATURES.job_args(settings.max_features))
        if settings.min_llr is not None and not settings.hash_features:
            if config["ngram_min"] != 1 or config["ngram_max"] < 2:
                raise UserError("--min-llr needs unigrams and bigrams (--ngram-max 2 or more)")
            total_tokens = counters.get("unigram_tokens", 0)
            collocations_dir = join(features_dir, "collocations")
            started = time.perf_counter()
            collocations = engine.run(
                MRScoreCollocations, [join(counts_dir, "part-*")], collocations_dir,
                ["--total-tokens", str(max(total_tokens, 1))]
                + MIN_LLR.job_args(settings.min_llr))
            timings["score_collocations"] = time.perf_counter() - started
            # the bigrams kept (scoring at least min_llr), the lines of collocations/
            summary["collocations"] = collocations.counter("score_collocations", "bigrams_kept")
            summary["counters"]["score_collocations"] = collocations.counters
            summary["tasks"]["score_collocations"] = collocations.tasks
            vocabulary_inputs.append(join(collocations_dir, "part-*"))
            vocabulary_args += MIN_LLR.job_args(settings.min_llr)

        started = time.perf_counter()
        kept_dir = join(features_dir, "kept")
        # on this machine the job runs in the driver (mrjob's inline runner): it
        # reads the count job's totals, a few MB, natively, where the local
        # runner would start a task process per part file (about 1 s in all)
        vocabulary_job = engine.run(MRBuildVocabulary, vocabulary_inputs, kept_dir,
                                    vocabulary_args,
                                    runner="inline" if engine.runner == "local" else None)
        summary["distinct_terms"] = vocabulary_job.counter("build_vocabulary", "terms") + \
            counters.get("terms_under_min_df", 0)
        summary["counters"]["build_vocabulary"] = vocabulary_job.counters
        summary["tasks"]["build_vocabulary"] = vocabulary_job.tasks
        vocabulary, summary["vocabulary"] = kept_vocabulary_bytes(
            storage.iter_lines(kept_dir), n_docs, settings.smooth_idf, settings.use_idf,
            hashed=bool(settings.hash_features))
        # written once, where OUT is; the tf-idf job is given that file (a
        # cluster's tasks fetch it where it lies), or, for tasks on this machine
        # with OUT elsewhere, a local copy
        shipped = join(features_dir, "vocabulary.tsv")
        storage.write_bytes(shipped, vocabulary)
        if is_remote(features_dir) and not engine.on_cluster:
            shipped = os.path.join(scratch, "vocabulary.tsv")
            with open(shipped, "wb") as handle:
                handle.write(vocabulary)
        del vocabulary
        timings["vocabulary"] = time.perf_counter() - started

        started = time.perf_counter()
        vectors = engine.run(MRTfidfVectors, messages, join(features_dir, "tfidf"),
                             analyzer_args(config, stop_words_file)
                             + vector_job_args(shipped, settings))
        summary["counters"]["tfidf_vectors"] = vectors.counters
        summary["tasks"]["tfidf_vectors"] = vectors.tasks
        timings["tfidf_vectors"] = time.perf_counter() - started
    storage.write_bytes(join(features_dir, "summary.json"),
                        json.dumps(summary, indent=1, sort_keys=True).encode("utf-8"))
    storage.mark_complete(features_dir)
    return summary


def write_stop_words(config, directory):
    """A custom stop-word list of an analyzer config as a file for the counting
    job (one word a line) -> its path; None for no list or the built-in one."""
    if config["stop_words"] in (None, "english"):
        return None
    path = os.path.join(directory, "stop_words.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(word + "\n" for word in config["stop_words"]))
    return path


def vector_job_args(vocabulary, settings):
    """The tf-idf job's arguments but the analyzer's: the vocabulary it ships
    and a VectorizerConfig's weighting and hashing."""
    return (["--vocabulary", vocabulary] + NORM.job_args(settings.norm)
            + SUBLINEAR_TF.job_args(settings.sublinear_tf)
            + HASH_FEATURES.job_args(settings.hash_features))


def build_features(inputs, output, analyzer_config=None, runner="inline", **settings):
    """``features_stage`` in keyword form: VectorizerConfig fields as keywords."""
    from jeeves.pipeline.engine import Engine

    return features_stage(Engine(runner), list(inputs), output, analyzer_config,
                          VectorizerConfig(**settings))
