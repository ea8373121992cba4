"""Benchmark the text-feature stage against scikit-learn and a naive mrjob job.

    NLTK_DATA=.nltk_data .venv/bin/python tools/bench_features.py --mb 64

On a prefix of ``../shared/data/enron-mbox`` (``--mb`` MB of uncompressed
mbox, cut at a message boundary, parsed by `jeeves parse` once and cached in
``.cache/bench/``), all in the same run (docs/features.md, ../shared/docs/perf.md):

- **jeeves**: counting + vocabulary + tf-idf (1-2-grams, lemmatized,
  min_df=2) with ``jeeves.pipeline.features.build_features`` on the chosen runner
  (``local`` by default: 2 processes);
- **scikit-learn**: ``TfidfVectorizer(analyzer=<the same Analyzer>, min_df=2)
  .fit_transform`` in this process, WordNet loaded beforehand (and the load
  time, which every counting map task pays too, reported apart);
- **naive mrjob**: one (term, 1) pair per term of the same analyzer plus a
  combiner and a summing reducer, inline (the perf.md reference);
- **lemmatization share**: in this process, the stop-word filter and
  lemmatization step timed alone from a cold memo, against the counting
  mapper's time;
- **peak task RSS**: the largest resident size of any mrjob task process
  (``--mapper`` / ``--reducer`` / ``--combiner``) of the jeeves run, sampled
  from /proc every 50 ms.

Prints a Markdown table and merges the figures into bench/results.json under
``"features"`` (keyed by size). Speeds are ratios measured in the same run;
MB/s are of subject+body text and of raw mbox.
"""

import argparse
import gzip
import json
import os
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mrjob.job import MRJob  # noqa: E402
from mrjob.protocol import JSONProtocol, JSONValueProtocol  # noqa: E402

from jeeves.features.text import Analyzer, analyzer_args  # noqa: E402

ENRON_MBOX = os.path.join(os.path.dirname(REPO), "shared", "data", "enron-mbox")
CACHE = os.path.join(REPO, ".cache", "bench")
RESULTS = os.path.join(REPO, "bench", "results.json")
ANALYZER_CONFIG = {"ngram_max": 2}
MIN_DF = 2


class MRNaiveCountNgrams(MRJob):
    """The naive reference: one (term, 1) pair per term, a combiner, a reducer."""

    INPUT_PROTOCOL = JSONValueProtocol
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self):
        super().configure_args()
        from jeeves.features.text import add_analyzer_args

        add_analyzer_args(self.add_passthru_arg, self.add_file_arg)

    def mapper_init(self):
        from jeeves.features.text import analyzer_config_from_options

        self.analyze = Analyzer(analyzer_config_from_options(self.options)).load()

    def mapper(self, _, record):
        for term in self.analyze(record):
            yield term, 1

    def combiner(self, term, counts):
        yield term, sum(counts)

    def reducer(self, term, counts):
        yield term, sum(counts)


def mbox_messages(path):
    """Raw messages (bytes, with their "From " line) of one gzip'd mbox file."""
    with gzip.open(path, "rb") as mbox:
        message = []
        for line in mbox:
            if line.startswith(b"From ") and message:
                yield b"".join(message)
                message = []
            message.append(line)
        if message:
            yield b"".join(message)


def enron_messages():
    """Raw messages of the Enron mbox files, in name order."""
    for name in sorted(os.listdir(ENRON_MBOX)):
        if name.endswith(".mbox.gz"):
            yield from mbox_messages(os.path.join(ENRON_MBOX, name))


def mbox_prefix(megabytes):
    """Path of an mbox of the first ``megabytes`` MB of Enron messages, cached."""
    path = os.path.join(CACHE, "enron-%dmb.mbox" % megabytes)
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    budget = megabytes * 1024 * 1024
    with open(path + ".tmp", "wb") as out:
        for message in enron_messages():
            if len(message) > budget:
                break
            out.write(message)
            budget -= len(message)
    os.rename(path + ".tmp", path)
    return path


def parsed_prefix(megabytes):
    """The messages/ directory of the prefix, parsed by `jeeves parse` once."""
    from jeeves.cli import main

    out = os.path.join(CACHE, "enron-%dmb" % megabytes)
    messages = os.path.join(out, "messages")
    if not os.path.isdir(messages):
        mbox = mbox_prefix(megabytes)
        if main(["parse", "--input", mbox, "--output", out, "--runner", "local"]) != 0:
            sys.exit("bench: parsing the prefix failed")
    return messages


def load_records(messages_dir):
    records = []
    for name in sorted(os.listdir(messages_dir)):
        if name.startswith("part-"):
            with open(os.path.join(messages_dir, name), encoding="utf-8") as handle:
                records.extend(json.loads(line) for line in handle if line.strip())
    return records


class TaskMemorySampler(threading.Thread):
    """Peak VmRSS (kB) of mrjob task processes, sampled from /proc."""

    TASK_FLAGS = ("--mapper", "--reducer", "--combiner")

    def __init__(self, interval=0.05):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    self.sample(pid)
            self.stopped.wait(self.interval)

    def sample(self, pid):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                args = handle.read().split(b"\0")
            if not any(flag.encode() in args for flag in self.TASK_FLAGS):
                return
            if not any(b"mr_count_ngrams" in arg or b"mr_tfidf_vectors" in arg for arg in args):
                return
            with open("/proc/%s/status" % pid) as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except OSError:
            pass  # the process ended between listing and reading

    def stop(self):
        self.stopped.set()
        self.join()


def time_jeeves(messages_dir, runner):
    from jeeves.pipeline.features import build_features

    sampler = TaskMemorySampler()
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="bench-features-") as out:
        started = time.perf_counter()
        summary = build_features([messages_dir], out, ANALYZER_CONFIG, runner=runner,
                                 min_df=MIN_DF)
        seconds = time.perf_counter() - started
    sampler.stop()
    return seconds, summary, sampler.peak_kb


def time_sklearn(records):
    from sklearn.feature_extraction.text import TfidfVectorizer

    started = time.perf_counter()
    analyzer = Analyzer(ANALYZER_CONFIG)
    analyzer.load()
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    matrix = TfidfVectorizer(analyzer=analyzer, min_df=MIN_DF).fit_transform(records)
    return time.perf_counter() - started, load_seconds, matrix.shape


def time_naive(messages_dir):
    from jeeves.runjob import run_job

    with tempfile.TemporaryDirectory(prefix="bench-naive-") as out:
        started = time.perf_counter()
        run_job(MRNaiveCountNgrams, [messages_dir], os.path.join(out, "counts"),
                analyzer_args(ANALYZER_CONFIG), runner="inline")
        return time.perf_counter() - started


def lemmatization_share(records):
    """(seconds in the stop-word filter and lemmatization step, counting mapper
    seconds), in-process.

    The step is timed by itself, over tokens prepared beforehand, from a cold
    memo as in a fresh task: so it includes every WordNet lookup a task makes
    and the memo lookups after them (an upper bound on the lemmatization
    cost, since the stop-word test is part of the same step).
    """
    from jeeves.features.text import (
        build_lemma_filter,
        build_preprocessor,
        build_text_getter,
        build_tokenizer,
        config_with_defaults,
    )
    from jeeves.jobs.mr_count_ngrams import MRCountNgrams

    config = config_with_defaults(ANALYZER_CONFIG)
    get_text, preprocess = build_text_getter(config), build_preprocessor(config)
    tokenize = build_tokenizer(config)
    tokens = [tokenize(preprocess(get_text(record))) for record in records]
    filter_and_lemmatize = build_lemma_filter(config)
    started = time.perf_counter()
    for message_tokens in tokens:
        filter_and_lemmatize(message_tokens)
    lemma_seconds = time.perf_counter() - started
    # the counting job's mapper as a task runs it: decode, analyze, count, encode
    job = MRCountNgrams(args=analyzer_args(ANALYZER_CONFIG))
    job.sandbox()  # counters go to an in-memory stderr
    job.mapper_init()
    encode = JSONProtocol().write
    lines = [json.dumps(record) for record in records]
    started = time.perf_counter()
    for line in lines:
        for key, value in job.mapper_analyze_message(None, line):
            encode(key, value)
    for key, value in job.mapper_final_flush():
        encode(key, value)
    return lemma_seconds, time.perf_counter() - started


def merge_results(megabytes, figures):
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    results = {}
    if os.path.exists(RESULTS):
        with open(RESULTS, encoding="utf-8") as handle:
            results = json.load(handle)
    results.setdefault("features", {})["%dmb" % megabytes] = figures
    with open(RESULTS + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
    os.replace(RESULTS + ".tmp", RESULTS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=64, help="MB of Enron mbox (default 64)")
    parser.add_argument("--runner", default="local", help="runner of the jeeves run")
    parser.add_argument("--skip-naive", action="store_true", help="leave the naive job out")
    args = parser.parse_args(argv)
    if not os.path.isdir(ENRON_MBOX):
        sys.exit("bench: %s not found" % ENRON_MBOX)

    messages_dir = parsed_prefix(args.mb)
    records = load_records(messages_dir)
    text_mb = sum(len((r.get("subject") or "").encode("utf-8"))
                  + len((r.get("body") or "").encode("utf-8")) for r in records) / 1e6
    mbox_mb = args.mb * 1024 * 1024 / 1e6

    jeeves_seconds, summary, peak_kb = time_jeeves(messages_dir, args.runner)
    sklearn_seconds, load_seconds, shape = time_sklearn(records)
    naive_seconds = None if args.skip_naive else time_naive(messages_dir)
    lemma_seconds, mapper_seconds = lemmatization_share(records)

    figures = {
        "messages": len(records), "text_mb": text_mb, "mbox_mb": mbox_mb,
        "runner": args.runner, "vocabulary": summary["vocabulary"],
        "sklearn_vocabulary": shape[1],
        "jeeves_seconds": jeeves_seconds, "stage_seconds": summary["seconds"],
        "sklearn_seconds": sklearn_seconds, "wordnet_load_seconds": load_seconds,
        "naive_inline_seconds": naive_seconds,
        "speedup_vs_sklearn": sklearn_seconds / jeeves_seconds,
        "speedup_vs_sklearn_with_load": (sklearn_seconds + load_seconds) / jeeves_seconds,
        "speedup_vs_naive": naive_seconds / jeeves_seconds if naive_seconds else None,
        "lemmatization_share_of_mapper": lemma_seconds / mapper_seconds,
        "peak_task_rss_mb": peak_kb / 1024,
    }
    merge_results(args.mb, figures)

    print("## Text features, %d MB Enron mbox prefix (%d messages, %.1f MB subject+body)\n"
          % (args.mb, len(records), text_mb))
    print("| run | seconds | MB/s text | msg/s | time / jeeves |")
    print("|---|---|---|---|---|")
    rows = [("jeeves count+vocabulary+tf-idf (%s)" % args.runner, jeeves_seconds),
            ("scikit-learn TfidfVectorizer, same analyzer (WordNet loaded)", sklearn_seconds),
            ("same, plus loading nltk + WordNet once", sklearn_seconds + load_seconds)]
    if naive_seconds:
        rows.append(("naive mrjob count (pair per term + combiner, inline)", naive_seconds))
    for name, seconds in rows:
        print("| %s | %.1f | %.2f | %.0f | %.2fx |" % (
            name, seconds, text_mb / seconds, len(records) / seconds, seconds / jeeves_seconds))
    print("\nstages (s): %s" % ", ".join("%s %.1f" % item for item in summary["seconds"].items()))
    print("vocabulary: %d terms (scikit-learn: %d)" % (summary["vocabulary"], shape[1]))
    print("stop words + lemmatization: %.1f%% of the counting mapper's time (%.1f s of %.1f s)"
          % (100 * figures["lemmatization_share_of_mapper"], lemma_seconds, mapper_seconds))
    print("nltk import + WordNet load: %.1f s per process (every counting map task pays it)"
          % load_seconds)
    print("peak task RSS: %.0f MB" % figures["peak_task_rss_mb"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
