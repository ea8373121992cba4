"""`jeeves features`: parsed messages -> vocabulary.tsv and tf-idf svmlight vectors.

    jeeves features --input OUT/messages --output OUT [--runner R] [options]

writes, under OUT/features/:
- ``counts/``        mr_count_ngrams output (per-message term counts + totals)
- ``collocations/``  mr_score_collocations output, with --min-llr
- ``vocabulary.tsv`` term, id, df, idf (built here, from the totals)
- ``tfidf/``         mr_tfidf_vectors output, svmlight lines
- ``analyzer.json``  the analyzer configuration, to rebuild the same analyzer
- ``summary.json``   documents, distinct terms, vocabulary size, job counters

The directory is built as OUT/features.partial/ and renamed when complete.

See docs/features.md for what each pass reads and writes.
"""

import argparse
import json
import os
import shutil
import time

import ujson

from features.collocations import collocation_filter
from features.text import (
    Analyzer,
    add_analyzer_args,
    analyzer_args,
    analyzer_config_from_options,
    config_with_defaults,
)
from features.tfidf import NORMS
from features.vocabulary import (
    build_hashed_table,
    build_vocabulary,
    df_limits,
    parse_df_bound,
    write_vocabulary,
)
from scripts.cli import UserError
from scripts.runjob import RUNNERS, output_files, run_job

MESSAGE_ROW_PREFIX = b'["message"'


def df_bound(value):
    """argparse type of --min-df/--max-df: the ValueError text becomes the message."""
    try:
        return parse_df_bound(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser):
    parser.add_argument("--input", required=True, nargs="+",
                        help="parsed message records (a messages/ directory or files)")
    parser.add_argument("--output", required=True, help="output root; writes OUTPUT/features/")
    parser.add_argument("--runner", choices=RUNNERS, default="inline", help="mrjob runner")
    add_feature_arguments(parser)


def add_feature_arguments(parser):
    """The analyzer and vocabulary options (shared with `jeeves run`)."""
    add_analyzer_args(parser.add_argument, parser.add_argument)
    parser.add_argument("--min-df", type=df_bound, default=1,
                        help="drop terms in fewer documents (int: count, float: fraction)")
    parser.add_argument("--max-df", type=df_bound, default=1.0,
                        help="drop terms in more documents (int: count, float: fraction)")
    parser.add_argument("--max-features", type=int, default=None,
                        help="keep only this many terms, the most frequent")
    parser.add_argument("--no-smooth-idf", dest="smooth_idf", action="store_false",
                        help="idf = ln(n/df) + 1 instead of ln((1+n)/(1+df)) + 1")
    parser.add_argument("--no-idf", dest="use_idf", action="store_false",
                        help="term frequencies only (idf = 1)")
    parser.add_argument("--sublinear-tf", action="store_true", help="tf = 1 + ln(count)")
    parser.add_argument("--norm", choices=NORMS, default="l2", help="row normalization")
    parser.add_argument("--hash-features", type=int, default=0,
                        help="hashing mode with this many buckets (no vocabulary pruning)")
    parser.add_argument("--min-llr", type=float, default=None,
                        help="keep only bigrams whose log-likelihood ratio is at least this")
    parser.add_argument("--flush-size", type=int, default=200000,
                        help="terms the counting mapper holds before it flushes")


def feature_settings(args):
    """(analyzer config, build_features keyword arguments) of parsed options."""
    try:
        config = analyzer_config_from_options(args)
        Analyzer(config)
    except (OSError, ValueError) as error:
        raise UserError(str(error)) from None
    return config, {
        "min_df": args.min_df, "max_df": args.max_df, "max_features": args.max_features,
        "smooth_idf": args.smooth_idf, "use_idf": args.use_idf,
        "sublinear_tf": args.sublinear_tf, "norm": args.norm,
        "hash_features": args.hash_features, "min_llr": args.min_llr,
        "flush_size": args.flush_size,
    }


def read_totals(counts_dir):
    """(term_stats {term: [count, df]}, n_docs) from mr_count_ngrams output."""
    term_stats = {}
    n_docs = 0
    for path in output_files(counts_dir):
        with open(path, "rb") as handle:
            for line in handle:
                # the per-message rows are the bulk of the output: skip them undecoded
                if line.startswith(MESSAGE_ROW_PREFIX) or not line.strip():
                    continue
                key, value = line.split(b"\t", 1)
                kind, _ = ujson.loads(key)
                if kind == "terms":
                    # partitions hold disjoint sets of terms
                    term_stats.update(ujson.loads(value))
                elif kind == "documents":
                    n_docs += ujson.loads(value)
    return term_stats, n_docs


def read_collocations(collocations_dir):
    """{bigram: LLR} from mr_score_collocations output."""
    scores = {}
    for path in output_files(collocations_dir):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    key, value = line.split("\t", 1)
                    scores[json.loads(key)] = json.loads(value)
    return scores


def build_features(inputs, output_root, analyzer_config=None, runner="inline",
                   min_df=1, max_df=1.0, max_features=None, smooth_idf=True, use_idf=True,
                   sublinear_tf=False, norm="l2", hash_features=0, min_llr=None,
                   flush_size=200000):
    """Run counting, (collocations), vocabulary and vectors; return a summary dict."""
    from jobs.mr_count_ngrams import MRCountNgrams
    from jobs.mr_score_collocations import MRScoreCollocations
    from jobs.mr_tfidf_vectors import MRTfidfVectors

    config = config_with_defaults(analyzer_config)
    final_dir = os.path.join(output_root, "features")
    # built aside and moved in place at the end: a failed run never looks finished
    features_dir = final_dir + ".partial"
    shutil.rmtree(features_dir, ignore_errors=True)
    os.makedirs(features_dir)
    stop_words_file = None
    if config["stop_words"] not in (None, "english"):
        stop_words_file = os.path.join(features_dir, "stop_words.txt")
        with open(stop_words_file, "w", encoding="utf-8") as handle:
            handle.write("".join(word + "\n" for word in config["stop_words"]))
    with open(os.path.join(features_dir, "analyzer.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=1, sort_keys=True)

    counts_dir = os.path.join(features_dir, "counts")
    count_args = analyzer_args(config, stop_words_file) + ["--flush-size", str(flush_size)]
    if hash_features:
        count_args += ["--hash-features", str(hash_features)]
    elif isinstance(min_df, int) and min_df > 1 and min_llr is None:
        # terms under min_df never reach the vocabulary: the reducer drops them
        count_args += ["--min-df", str(min_df)]
    started = time.perf_counter()
    counting = run_job(MRCountNgrams, inputs, counts_dir, count_args, runner=runner)
    timings = {"count_ngrams": time.perf_counter() - started}
    started = time.perf_counter()
    term_stats, n_docs = read_totals(counts_dir)
    under_min_df = counting.counters.get("count_ngrams", {}).get("terms_under_min_df", 0)
    summary = {"documents": n_docs, "distinct_terms": len(term_stats) + under_min_df,
               "counters": {"count_ngrams": counting.counters}, "seconds": timings}

    if hash_features:
        rows = build_hashed_table(term_stats, n_docs, smooth_idf, use_idf)
    else:
        keep = None
        if min_llr is not None:
            if config["ngram_min"] != 1 or config["ngram_max"] < 2:
                raise UserError("--min-llr needs unigrams and bigrams (--ngram-max 2 or more)")
            total_tokens = sum(count for term, (count, _) in term_stats.items()
                               if " " not in term)
            collocations_dir = os.path.join(features_dir, "collocations")
            collocations_started = time.perf_counter()
            run_job(MRScoreCollocations, output_files(counts_dir), collocations_dir,
                    ["--total-tokens", str(max(total_tokens, 1)), "--min-llr", repr(min_llr)],
                    runner=runner)
            timings["score_collocations"] = time.perf_counter() - collocations_started
            scores = read_collocations(collocations_dir)
            summary["collocations"] = len(scores)
            keep = collocation_filter(scores, min_llr)
        if n_docs:
            try:
                df_limits(n_docs, min_df, max_df)
            except ValueError as error:
                raise UserError(str(error)) from None
        rows = build_vocabulary(term_stats, n_docs, min_df, max_df, max_features,
                                smooth_idf, use_idf, keep)
    vocabulary_path = os.path.join(features_dir, "vocabulary.tsv")
    write_vocabulary(vocabulary_path, rows)
    summary["vocabulary"] = len(rows)
    timings["vocabulary"] = time.perf_counter() - started - timings.get("score_collocations", 0)
    started = time.perf_counter()

    vector_args = ["--vocabulary", vocabulary_path, "--norm", norm]
    if sublinear_tf:
        vector_args.append("--sublinear-tf")
    vectors = run_job(MRTfidfVectors, output_files(counts_dir),
                      os.path.join(features_dir, "tfidf"), vector_args, runner=runner)
    summary["counters"]["tfidf_vectors"] = vectors.counters
    timings["tfidf_vectors"] = time.perf_counter() - started
    with open(os.path.join(features_dir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1, sort_keys=True)
    shutil.rmtree(final_dir, ignore_errors=True)
    os.rename(features_dir, final_dir)
    return summary


def run(args):
    for path in args.input:
        if not os.path.exists(path):
            raise UserError("input not found: %s" % path)
    config, settings = feature_settings(args)
    summary = build_features(args.input, args.output, config, runner=args.runner, **settings)
    print("features: %d messages, %d distinct terms, vocabulary of %d -> %s"
          % (summary["documents"], summary["distinct_terms"], summary["vocabulary"],
             os.path.join(args.output, "features")))
    return 0
