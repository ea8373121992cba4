"""The benchmark driver behind `make bench` and `python -m tools.run_bench --mb N`.

Input: whole ``.mbox.gz`` files of ``../shared/data/enron-mbox`` in name
order until their uncompressed size reaches N MB (MB = 2**20 bytes), read in
place, so runs of the same N are comparable. On that input, in one run
(../shared/docs/perf.md):

- the project's stages on each runner: parse, counts, vocabulary, tf-idf
  (the three with ``build_features``: 1-2-grams, lemmatized, min_df=2),
  contact lists (``build_graph``), training (logistic regression, 3 folds,
  label "in a sent folder") and end to end (the speed issue's command,
  ``jeeves run --runner R --ngram-max 2 --min-df 2 --no-graph``: raw mail
  to tf-idf vectors, no labels; under the local runner each run is
  followed by a fit of its target's reference, ``stage_end_to_end``);
- the references: a stdlib ``policy.default`` parse loop, scikit-learn
  ``TfidfVectorizer`` with the project's analyzer and a naive mrjob word
  count (both from tools/bench_features.py), and Spark ML
  (RegexTokenizer, NGram, HashingTF, IDF on ``local[2]``) when pyspark and
  Java are present;
- the mail latency on the training row's bundle (``mail_latency``): the
  cold start of `jeeves predict` on one message and one message in `jeeves
  watch` after warm-up (docs/mailbox.md);
- the scoring daemon on the same bundle (``daemon_latency``, the group
  ``daemon`` of results.json): `jeeves serve` on a unix socket, the warm
  round trip of one message to /score (p50, p99) and the mail filter's
  client (`jeeves predict --server ... --add-header -`) from start to finish.
  On its own: ``python -m tools.bench daemon --model DIR MAIL...``.

Every stage runs in its own child process (``python -m tools.bench
--stage ...``) so its peak RSS comes from the OS: ``RUSAGE_CHILDREN`` for
the local runner (its tasks are the child's subprocesses), ``RUSAGE_SELF``
otherwise. ``--scaling`` repeats the project's stages at 2x and 4x the input.
Prints Markdown tables; writes the figures to bench/results.json.

To profile one stage, run the child by hand with ``--profile stats.prof``
(a ``--work`` JSON of {inputs, runner: "inline", out, messages}).
"""

import argparse
import email
import email.policy
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from jeeves.errors import UserError
from tools import bench_features

ENRON_MBOX = bench_features.ENRON_MBOX
RESULTS = bench_features.RESULTS
MB = 1024 * 1024
LABELS = "*sent*=1,*=0"
TRAIN_MODEL = "logistic_regression"
TRAIN_FOLDS = 3
FEATURE_ARGS = ["--ngram-max", str(bench_features.ANALYZER_CONFIG["ngram_max"]),
                "--min-df", str(bench_features.MIN_DF)]
# rows of the report: project stage -> (reference it is compared with, how)
STAGES = ("parse", "counts", "vocabulary", "tfidf", "features", "contacts", "train",
          "end_to_end")
REFERENCES = ("stdlib_parse", "sklearn_tfidf", "sklearn_tfidf_default",
              "sklearn_tfidf_run_fields", "naive_mrjob", "kernel_python", "kernel_native",
              "spark_ml")
REFERENCE_RUNNERS = {"stdlib_parse": "one process", "sklearn_tfidf": "one process",
                     "sklearn_tfidf_default": "one process",
                     "sklearn_tfidf_run_fields": "one process", "naive_mrjob": "inline",
                     "kernel_python": "one process", "kernel_native": "one process",
                     "spark_ml": "local[2]"}
# project stage -> [(reference, target ratio)]; ratio = reference time / stage time.
# sklearn_tfidf is TfidfVectorizer with the project's analyzer, sklearn_tfidf_default
# with its own (1-2-grams, min_df=2) on the same pre-extracted subject+body text;
# sklearn_tfidf_run_fields the same on the text `jeeves run` analyzes by default
# (subject, body and the quoted history: scripts/cmd_run.py RUN_DEFAULTS), about
# 1.6 times as much: a comparison of the same work, with no target (None).
COMPARISONS = {
    "parse": [("stdlib_parse", 5.0)],
    "features": [("sklearn_tfidf", 2.0), ("naive_mrjob", 8.0)],
    "end_to_end": [("sklearn_tfidf_default", 1.5), ("sklearn_tfidf_run_fields", None),
                   ("spark_ml", 1.0)],
}
# the end-to-end run and its two references: the median of this many runs each
# (the run's CPU / wall moved between 1.71 and 1.82 over runs of one afternoon)
END_TO_END_REPEATS = 3
END_TO_END_REFERENCES = ("sklearn_tfidf_default", "sklearn_tfidf_run_fields")
# the end-to-end target, local runner against this reference: each
# run is paired with a fit of it (stage_end_to_end), the ratio their median
PAIRED_RUNNER, PAIRED_REFERENCE = "local", "sklearn_tfidf_default"
# the speed issue's absolute targets (throughput per core, cores kept busy)
TARGETS = {"kernel_mb_per_s": 25.0, "parse_mb_per_s_per_core": 12.0, "cpu_over_wall": 1.8}


def uncompressed_size(path):
    """Uncompressed bytes of a single-member gzip file (its ISIZE trailer)."""
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        return struct.unpack("<I", handle.read(4))[0]


def prefix_files(megabytes, corpus=ENRON_MBOX):
    """(paths, uncompressed bytes): whole .mbox.gz files in name order up to ``megabytes``."""
    paths, total = [], 0
    for name in sorted(os.listdir(corpus)):
        if total >= megabytes * MB:
            break
        if name.endswith(".mbox.gz"):
            path = os.path.join(corpus, name)
            paths.append(path)
            total += uncompressed_size(path)
    return paths, total


# --- the stages, each run in a child process --------------------------------

def driver_bytes(storage):
    """The bytes the driver read and wrote through its storage layer."""
    return {"driver_bytes_read": storage.bytes_read,
            "driver_bytes_written": storage.bytes_written}


def stage_parse(work, runner):
    from jeeves.pipeline.engine import Engine
    from jeeves.pipeline.parse import parse_stage

    engine = Engine(runner)
    summary = parse_stage(engine, work["inputs"], work["out"])
    return dict(driver_bytes(engine.storage), messages=summary["parsed"], read=summary["read"])


def stage_features(work, runner):
    from jeeves.pipeline.engine import Engine
    from jeeves.pipeline.features import VectorizerConfig, features_stage

    engine = Engine(runner)
    summary = features_stage(engine, [work["messages"]], work["out"],
                             bench_features.ANALYZER_CONFIG,
                             VectorizerConfig(min_df=bench_features.MIN_DF))
    return dict(driver_bytes(engine.storage), messages=summary["documents"],
                vocabulary=summary["vocabulary"], passes=summary["seconds"])


def stage_contacts(work, runner):
    from jeeves.pipeline.engine import Engine
    from jeeves.pipeline.graph import graph_stage

    engine = Engine(runner)
    summary = graph_stage(engine, [work["messages"]], work["out"])
    return dict(driver_bytes(engine.storage), messages=summary["messages"],
                addresses=summary["addresses"])


def stage_train(work, runner):
    from jeeves.models.labels import label_records, labeller_from_spec
    from jeeves.models.run import train_from_features
    from jeeves.models.training import TrainingSettings
    from jeeves.runjob import read_json_values

    labels, counts = label_records(read_json_values(work["messages"]), labeller_from_spec(LABELS))
    training = train_from_features(os.path.join(work["out"], "features"), labels, work["out"],
                                   bench_features.ANALYZER_CONFIG,
                                   TrainingSettings(models=TRAIN_MODEL, n_splits=TRAIN_FOLDS))
    return {"messages": training["samples"], "positives": counts["positive"]}


def cpu_between(before, after):
    """User and system CPU seconds between two ``resource.getrusage`` figures."""
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def lower_median(values, key=None):
    """The median of ``values`` (by ``key``), the lower of the middle two for
    an even count: one of the values, never a mean of two."""
    ordered = sorted(values, key=key)
    return ordered[(len(ordered) - 1) // 2]


def median_run(runs):
    """The run of median seconds (``lower_median``): a run that happened, so
    its seconds and CPU go together."""
    return lower_median(runs, key=lambda run: run["seconds"])


def stage_end_to_end(work, runner):
    """The speed issue's end-to-end command, exactly, as a user runs it: a
    ``jeeves run --runner R --ngram-max 2 --min-df 2 --no-graph`` process
    (``python -m jeeves.cli``; raw mail to records, vocabulary and tf-idf
    vectors; no labels, so no training: the `train` row times that), timed
    from its start to its exit. Its CPU (the driver's and its tasks') over
    that time is the issue's CPU / wall of the whole local run
    (``run_cpu_over_wall``); the stage's own process, which imports this
    harness first, is not part of the run.

    Run ``work["repeats"]`` times (each into an output of its own: a run
    into a finished output would resume it), the figures are the median
    run's, and ``runs`` lists every run's seconds and CPU / wall: one run
    of 5 s moves by 0.3-0.5 s with the machine.

    With ``work["paired"]`` (a reference's name), each run is followed at
    once by one fit of that reference, in a process of its own on
    ``work["messages"]``: its seconds are the run's ``paired_seconds``, and
    the comparison of the two is the median of the rounds' ratios
    (``paired_ratio``), so that a machine whose speed drifts between the
    project's runs and the references' (the reference's median moved from
    5.1 to 7.4 s between two ``make bench`` of one afternoon) moves both
    sides of each ratio alike."""
    runs = []
    paired = work.get("paired")
    for number in range(work.get("repeats", 1)):
        out = work["out"] if number == 0 else "%s-%d" % (work["out"], number)
        runs.append(_end_to_end_run(work["inputs"], out, runner))
        if number:
            shutil.rmtree(out, ignore_errors=True)
        if paired:
            runs[-1]["paired_seconds"] = _paired_fit(paired, work, number)
    figures = dict(median_run(runs))
    figures.pop("paired_seconds", None)
    figures["runs"] = [{key: run[key] for key in ("seconds", "run_cpu_over_wall",
                                                    "paired_seconds") if key in run}
                       for run in runs]
    if paired:
        figures["paired"] = paired
        figures["paired_ratio"] = paired_ratio(figures["runs"])
    return figures


def _paired_fit(reference, work, number):
    """One fit of ``reference`` in a stage process of its own: its seconds."""
    scratch = "%s-paired-%d" % (work["out"], number)
    os.makedirs(scratch, exist_ok=True)
    try:
        figures = run_stage(reference, {"inputs": work["inputs"], "runner": "inline",
                                        "messages": work["messages"], "repeats": 1}, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if "error" in figures:
        raise RuntimeError("%s, paired with the end-to-end run: %s" % (
            reference, figures["error"]))
    return figures["seconds"]


def paired_ratio(runs):
    """The median over rounds of (the paired reference's seconds / the run's);
    the lower of the middle two for an even count."""
    return lower_median(run["paired_seconds"] / run["seconds"] for run in runs)


def _end_to_end_run(inputs, out, runner):
    argv = [sys.executable, "-m", "jeeves.cli", "run", "--input"] + inputs + [
        "--output", out, "--runner", runner, "--no-graph"] + FEATURE_ARGS
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError("jeeves run failed: %s" % " / ".join(
            done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]))
    cpu = cpu_between(before, after)
    with open(os.path.join(out, "summary.json")) as handle:
        summary = json.load(handle)
    moved = summary["driver_bytes"].values()
    stages = summary["stages"]
    return {"messages": stages["parse"]["parsed"], "seconds": seconds,
            "run_cpu_seconds": cpu, "run_cpu_over_wall": cpu / seconds,
            "stage_seconds": {name: stage.get("seconds") for name, stage in stages.items()
                              if isinstance(stage, dict)},
            "driver_bytes_read": sum(stage["bytes_read"] for stage in moved),
            "driver_bytes_written": sum(stage["bytes_written"] for stage in moved)}


def stage_sklearn_tfidf_default(work, runner, fields=("subject", "body")):
    """TfidfVectorizer((1, 2), min_df=2) with its own analyzer on the
    pre-extracted subject+body text (the end-to-end reference), or the
    records' ``fields``; fitted ``work["repeats"]`` times, as the end-to-end
    run is run: the median seconds."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    records = bench_features.load_records(work["messages"])
    texts = ["\n".join(record.get(field) or "" for field in fields) for record in records]
    runs = []
    for _ in range(work.get("repeats", 1)):
        started = time.perf_counter()
        matrix = TfidfVectorizer(ngram_range=(1, 2), min_df=bench_features.MIN_DF).fit_transform(
            texts)
        runs.append({"seconds": time.perf_counter() - started, "vocabulary": matrix.shape[1]})
        del matrix
    return {"messages": len(records), "seconds": median_run(runs)["seconds"],
            "runs": runs, "vocabulary": runs[-1]["vocabulary"]}


def _kernel_stage(work, native):
    """Analyzer + counting of every record's text in one process (the count
    job's per-record work), by the native kernel (jeeves.features.kernel) or
    the Python reference (Counter of the Analyzer's terms): MB/s of text."""
    from collections import Counter

    from jeeves.features import kernel
    from jeeves.features.text import Analyzer

    records = bench_features.load_records(work["messages"])
    figures = {}
    if native:
        counter = kernel.MessageCounter(bench_features.ANALYZER_CONFIG)
        counter.load()
        count = counter.count
    else:
        analyze = Analyzer(bench_features.ANALYZER_CONFIG).load()

        def count(record):
            return Counter(analyze(record))
    text_bytes = sum(len((record.get("subject") or "").encode("utf-8"))
                     + len((record.get("body") or "").encode("utf-8")) + 1
                     for record in records)
    started = time.perf_counter()
    for record in records:
        count(record)
    seconds = time.perf_counter() - started
    if native:
        figures["kernel"] = counter.stats()
    return dict(figures, messages=len(records), seconds=seconds, text_bytes=text_bytes,
                text_mb_per_s=text_bytes / MB / seconds)


def stage_sklearn_tfidf_run_fields(work, runner):
    """The same on the fields `jeeves run` analyzes by default (RUN_DEFAULTS)."""
    from jeeves.cmd_run import RUN_DEFAULTS

    return stage_sklearn_tfidf_default(work, runner, fields=tuple(RUN_DEFAULTS["fields"]))


def stage_kernel_python(work, runner):
    return _kernel_stage(work, native=False)


def stage_kernel_native(work, runner):
    from jeeves.features import kernel

    if not kernel.native_available():
        return {"skipped": "the native module is not built (make setup)"}
    return _kernel_stage(work, native=True)


def stage_stdlib_parse(work, runner):
    """The reference parse: policy.default, headers, the preferred body decoded."""
    messages = errors = 0
    started = time.perf_counter()
    for path in work["inputs"]:
        for raw in bench_features.mbox_messages(path):
            messages += 1
            try:
                message = email.message_from_bytes(raw, policy=email.policy.default)
                for header in ("message-id", "from", "to", "cc", "date", "subject"):
                    message.get(header)
                body = message.get_body(preferencelist=("plain", "html"))
                if body is not None:
                    body.get_content()
            except Exception:  # noqa: BLE001  a reference loop counts what it cannot parse
                errors += 1
    return {"messages": messages, "errors": errors, "seconds": time.perf_counter() - started}


def stage_sklearn_tfidf(work, runner):
    records = bench_features.load_records(work["messages"])
    seconds, load_seconds, shape = bench_features.time_sklearn(records)
    return {"messages": len(records), "vocabulary": shape[1], "seconds": seconds,
            "wordnet_load_seconds": load_seconds}


def stage_naive_mrjob(work, runner):
    seconds = bench_features.time_naive(work["messages"])
    return {"seconds": seconds}


def spark_unavailable():
    """Why the Spark ML reference cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java (java on PATH or JAVA_HOME)"
    return None


def stage_spark_ml(work, runner):
    """RegexTokenizer, NGram, HashingTF, IDF over subject+body on local[2]."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.ml.feature import IDF, HashingTF, NGram, RegexTokenizer
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    started = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").appName("jeeves-bench")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started
    try:
        started = time.perf_counter()
        records = spark.read.json(os.path.join(work["messages"], "part-*"))
        text = records.select(F.concat_ws(" ", F.coalesce("subject", F.lit("")),
                                          F.coalesce("body", F.lit(""))).alias("text"))
        words = RegexTokenizer(inputCol="text", outputCol="words", pattern=r"\W+",
                               minTokenLength=2).transform(text)
        grams = NGram(n=2, inputCol="words", outputCol="bigrams").transform(words)
        terms = grams.select(F.concat("words", "bigrams").alias("terms"))
        tf = HashingTF(inputCol="terms", outputCol="tf", numFeatures=1 << 20).transform(terms)
        tf.cache()
        idf = IDF(inputCol="tf", outputCol="tfidf", minDocFreq=bench_features.MIN_DF).fit(tf)
        idf.transform(tf).select("tfidf").write.format("noop").mode("overwrite").save()
        messages = tf.count()
        seconds = time.perf_counter() - started
    finally:
        spark.stop()
    # the JVM's memory is not this process's, and it is not reaped as a child here
    return {"messages": messages, "seconds": seconds, "startup_seconds": startup,
            "peak_task_rss_mb": None}


STAGE_FUNCTIONS = {
    "parse": stage_parse, "features": stage_features, "contacts": stage_contacts,
    "train": stage_train, "end_to_end": stage_end_to_end,
    "stdlib_parse": stage_stdlib_parse, "sklearn_tfidf": stage_sklearn_tfidf,
    "sklearn_tfidf_default": stage_sklearn_tfidf_default,
    "sklearn_tfidf_run_fields": stage_sklearn_tfidf_run_fields,
    "kernel_python": stage_kernel_python, "kernel_native": stage_kernel_native,
    "naive_mrjob": stage_naive_mrjob, "spark_ml": stage_spark_ml,
}


def run_stage_here(name, work_path, result_path):
    """Child side: run one stage, write {seconds, peak_rss_mb, ...} to result_path."""
    with open(work_path) as handle:
        work = json.load(handle)
    runner = work["runner"]
    started = time.perf_counter()
    figures = STAGE_FUNCTIONS[name](work, runner)
    figures.setdefault("seconds", time.perf_counter() - started)
    # ru_maxrss is in kB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tasks = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures["driver_rss_mb"] = own
    figures.setdefault("peak_task_rss_mb", tasks if runner == "local" and tasks else own)
    with open(result_path, "w") as handle:
        json.dump(figures, handle)


def run_stage(name, work, scratch):
    """Run stage ``name`` in a child process; its figures, or {"error": ...}."""
    work_path = os.path.join(scratch, "work-%s.json" % name)
    result_path = os.path.join(scratch, "result-%s.json" % name)
    with open(work_path, "w") as handle:
        json.dump(work, handle)
    log_path = os.path.join(scratch, "log-%s.txt" % name)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        status = subprocess.call(
            [sys.executable, "-m", "tools.bench", "--stage", name, "--work", work_path,
             "--result", result_path],
            stdout=log, stderr=subprocess.STDOUT, cwd=bench_features.REPO)
    if status != 0:
        with open(log_path, errors="replace") as log:
            # the child's own last lines say why (a UserError line, then the traceback end)
            tail = log.read().strip().splitlines()[-3:] or ["exit status %d" % status]
        return {"error": " / ".join(tail)}
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(result_path) as handle:
        figures = json.load(handle)
    # the CPU of the stage's whole process tree (its tasks, the grid search's
    # workers), reaped by the time the child exits, over the child's wall time
    cpu = cpu_between(before, after)
    figures["tree_cpu_seconds"] = cpu
    figures["cpu_over_wall"] = cpu / wall if wall > 0 else None
    return figures


# --- latency of the mail filter and the watcher -------------------------------

# targets of issue 16: a fresh `jeeves predict` on one message; one message in `jeeves watch`
LATENCY_TARGETS = {"predict_cold_s": 1.5, "watch_warm_ms": 20.0}


def sample_messages(paths, count):
    """Up to ``count`` raw messages from the mail files ``paths``, in order."""
    from jeeves.features.mailformats import iter_found

    messages = []
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        for found in iter_found(data, "file://" + path, os.path.basename(path)):
            if found.kind == "rfc822":
                messages.append(found.data)
                if len(messages) == count:
                    return messages
    return messages


def mail_latency(bundle_dir, paths, repeats=3, warm_messages=200, warm_up=5):
    """Cold start and warm per-message time of scoring one email with ``bundle_dir``.

    Cold: ``python -m jeeves.cli predict --model BUNDLE one.eml`` in a fresh
    process, ``repeats`` times: the median wall seconds, and the median CPU
    seconds (user + system, from RUSAGE_CHILDREN: on a busy machine the wall
    time also counts waiting for a core). Warm: the watcher's scorer
    (jeeves.mailbox.watch.Scorer: bundle, analyzer and vocabulary loaded
    once) parsing and scoring one message per call, after ``warm_up`` calls:
    median and mean milliseconds over ``warm_messages`` messages of ``paths``.
    """
    from jeeves.mailbox.watch import Scorer

    messages = sample_messages(paths, warm_up + warm_messages)
    if not messages:
        raise UserError("no message found in %s" % ", ".join(paths))
    walls, cpus = [], []
    with tempfile.TemporaryDirectory(prefix="jeeves-latency-") as scratch:
        one = os.path.join(scratch, "one.eml")
        with open(one, "wb") as handle:
            handle.write(messages[0])
        for _ in range(repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "jeeves.cli", "predict", "--model",
                            bundle_dir, one], check=True, stdout=subprocess.DEVNULL,
                           cwd=bench_features.REPO)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(cpu_between(before, after))
    scorer = Scorer(bundle_dir)
    times = []
    for number, raw in enumerate(messages):
        started = time.perf_counter()
        records = [record for _, record, _ in scorer.records([(number, raw)], "bench:", [])
                   if record is not None]
        scorer.predict(records)
        if number >= warm_up:
            times.append((time.perf_counter() - started) * 1000)
    times = times or [0.0]
    return {"predict_cold_s": sorted(walls)[len(walls) // 2],
            "predict_cold_cpu_s": sorted(cpus)[len(cpus) // 2],
            "watch_warm_ms": sorted(times)[len(times) // 2],
            "watch_warm_mean_ms": sum(times) / len(times), "warm_messages": len(times),
            "repeats": repeats}


def format_latency(latency):
    """The Markdown table of mail_latency's figures against their targets."""
    return "\n".join([
        "| mail latency | wall | CPU | target |", "|---|---|---|---|",
        "| `jeeves predict` cold start, one message (median of %d) | %.2f s | %.2f s | "
        "< %.1f s |" % (latency["repeats"], latency["predict_cold_s"],
                        latency["predict_cold_cpu_s"], LATENCY_TARGETS["predict_cold_s"]),
        "| `jeeves watch` one message, warm (median of %d; mean %.1f ms) | %.1f ms | | "
        "< %.0f ms |" % (latency["warm_messages"], latency["watch_warm_mean_ms"],
                         latency["watch_warm_ms"], LATENCY_TARGETS["watch_warm_ms"])])


# --- the daemon group (`jeeves serve`) ------------------------------------------

DAEMON_TARGETS = {"warm_p50_ms": 10.0, "filter_cold_s": 0.150}


def _percentile(values, fraction):
    """The nearest-rank percentile of ``values`` (sorted here)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))]


def daemon_latency(bundle_dir, paths, warm_messages=500, warm_up=20, repeats=10):
    """The scoring daemon's figures on ``bundle_dir`` (a bundle or a model directory).

    `jeeves serve --socket` runs in a child process. Warm: one
    jeeves.serve_client.Client (one connection kept open) posts one message
    per request to /score over the unix socket, ``warm_up`` requests first,
    then ``warm_messages`` messages of ``paths``: p50, p99 and mean
    milliseconds per request, round trip (parse, score, the top five terms,
    JSON both ways). Cold: the mail filter, ``python -m jeeves.cli predict
    --model DIR --server unix:SOCKET --add-header -`` with one message on
    stdin, from start to finish in a fresh process, ``repeats`` times: the
    median wall seconds and the median CPU seconds (on a busy machine the wall
    time also counts waiting for a core)."""
    from jeeves.serve_client import Client

    messages = sample_messages(paths, warm_up + warm_messages)
    if not messages:
        raise UserError("no message found in %s" % ", ".join(paths))
    with tempfile.TemporaryDirectory(prefix="jeeves-daemon-") as scratch:
        socket_path = os.path.join(scratch, "serve.sock")
        child = subprocess.Popen([sys.executable, "-m", "jeeves.cli", "serve", "--model",
                                  bundle_dir, "--socket", socket_path],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 cwd=bench_features.REPO)
        try:
            first = child.stdout.readline()
            if "serving" not in first:
                raise UserError("jeeves serve did not start: %s" % first.strip())
            client = Client("unix:" + socket_path, timeout=60)
            times = []
            for number, raw in enumerate(messages):
                started = time.perf_counter()
                client.score(raw)
                if number >= warm_up:
                    times.append((time.perf_counter() - started) * 1000)
            client.close()
            walls, cpus = [], []
            for _ in range(repeats):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "jeeves.cli", "predict", "--model",
                                bundle_dir, "--server", "unix:" + socket_path, "--add-header",
                                "-"], input=messages[0], check=True, stdout=subprocess.DEVNULL,
                               cwd=bench_features.REPO)
                walls.append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpus.append(cpu_between(before, after))
        finally:
            child.terminate()
            child.wait(timeout=60)
    times = times or [0.0]
    return {"warm_p50_ms": _percentile(times, 0.50), "warm_p99_ms": _percentile(times, 0.99),
            "warm_mean_ms": sum(times) / len(times), "warm_messages": len(times),
            "filter_cold_s": sorted(walls)[len(walls) // 2],
            "filter_cold_cpu_s": sorted(cpus)[len(cpus) // 2], "repeats": repeats,
            "loadavg": os.getloadavg()[0]}


def format_daemon(figures):
    """The Markdown table of daemon_latency's figures against their targets."""
    if "error" in figures:
        return "| scoring daemon | failed: %s |" % figures["error"]
    return "\n".join([
        "| scoring daemon (`jeeves serve`, unix socket) | wall | CPU | target |",
        "|---|---|---|---|",
        "| one message scored warm, p50 of %d (mean %.1f ms) | %.1f ms | | <= %.0f ms |" % (
            figures["warm_messages"], figures["warm_mean_ms"], figures["warm_p50_ms"],
            DAEMON_TARGETS["warm_p50_ms"]),
        "| one message scored warm, p99 | %.1f ms | | |" % figures["warm_p99_ms"],
        "| the filter's client, start to finish (median of %d) | %.0f ms | %.0f ms "
        "| <= %.0f ms |" % (figures["repeats"], figures["filter_cold_s"] * 1000,
                            figures["filter_cold_cpu_s"] * 1000,
                            DAEMON_TARGETS["filter_cold_s"] * 1000),
        "", "load average %.1f while measured" % figures["loadavg"]])


def daemon_main(argv):
    """``python -m tools.bench daemon --model DIR MAIL...``: the daemon group alone."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench daemon",
                                     description=daemon_latency.__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, metavar="DIR")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("mail", nargs="+", metavar="MAIL",
                        help="mail files (mbox, .gz, single messages) to sample from")
    args = parser.parse_args(argv)
    figures = daemon_latency(args.model, args.mail, warm_messages=args.messages,
                             repeats=args.repeats)
    print(format_daemon(figures))
    print(json.dumps(figures, sort_keys=True))
    return 0


# --- the driver ---------------------------------------------------------------

def project_stages(inputs, runner, scratch, repeats=1, paired=True):
    """{stage: figures} of the project's stages on one runner (the end-to-end
    run ``repeats`` times, under PAIRED_RUNNER each paired with a fit of
    PAIRED_REFERENCE unless ``paired`` is false)."""
    out = os.path.join(scratch, "out")
    messages = os.path.join(out, "messages")
    work = {"inputs": inputs, "runner": runner, "out": out, "messages": messages}
    stages = {"parse": run_stage("parse", work, scratch)}
    features = run_stage("features", work, scratch)
    passes = features.get("passes", {})
    for stage, pass_name in (("counts", "count_ngrams"), ("vocabulary", "vocabulary"),
                             ("tfidf", "tfidf_vectors")):
        stages[stage] = dict(features, seconds=passes[pass_name]) if pass_name in passes \
            else {"error": features.get("error", "no %s pass" % pass_name)}
    stages["features"] = features
    stages["contacts"] = run_stage("contacts", work, scratch)
    stages["train"] = run_stage("train", work, scratch)
    end_to_end = dict(work, out=os.path.join(scratch, "e2e"), repeats=repeats)
    if paired and runner == PAIRED_RUNNER:
        end_to_end["paired"] = PAIRED_REFERENCE
    stages["end_to_end"] = run_stage("end_to_end", end_to_end, scratch)
    return stages, messages


def reference_stages(inputs, messages, scratch, spark, repeats=1):
    """{reference: figures}; the end-to-end references fitted ``repeats`` times."""
    work = {"inputs": inputs, "runner": "inline", "messages": messages, "repeats": repeats}
    references = {}
    for name in REFERENCES:
        if name == "spark_ml" and spark is not True:
            references[name] = {"skipped": spark}
        else:
            references[name] = run_stage(name, work, scratch)
    return references


def add_rates(figures, mbytes, messages):
    if "seconds" in figures and figures["seconds"] > 0:
        figures["mb_per_s"] = mbytes / MB / figures["seconds"]
        figures["messages_per_s"] = messages / figures["seconds"]


def run_benchmark(megabytes, runners=("inline", "local"), scaling=False, spark=True,
                  results_path=RESULTS, corpus=ENRON_MBOX, repeats=END_TO_END_REPEATS):
    """Run everything; write results_path; return the results dict. The
    end-to-end run and its references are run ``repeats`` times (the
    median); every other stage once."""
    if not os.path.isdir(corpus):
        raise UserError("%s not found" % corpus)
    spark_state = spark_unavailable() if spark else "--no-spark"
    spark_state = True if spark_state is None else spark_state
    results = {"mb": megabytes, "runners": list(runners), "sizes": {}, "references": {},
               "comparisons": {}, "cpus": os.cpu_count(),
               "loadavg": os.getloadavg()[0]}
    factors = (1, 2, 4) if scaling else (1,)
    with tempfile.TemporaryDirectory(prefix="jeeves-bench-") as scratch:
        for factor in factors:
            inputs, size = prefix_files(megabytes * factor, corpus)
            entry = {"files": len(inputs), "bytes": size, "runners": {}}
            results["sizes"][str(factor)] = entry
            for runner in runners:
                run_scratch = os.path.join(scratch, "%dx-%s" % (factor, runner))
                os.makedirs(run_scratch)
                stages, messages_dir = project_stages(inputs, runner, run_scratch,
                                                      repeats if factor == 1 else 1,
                                                      paired=factor == 1)
                count = stages["parse"].get("messages", 0)
                for figures in stages.values():
                    add_rates(figures, size, count)
                entry["runners"][runner] = stages
                if factor == 1 and runner == runners[0]:
                    entry["messages"] = count
                    references = reference_stages(inputs, messages_dir, run_scratch,
                                                  spark_state, repeats)
                    for figures in references.values():
                        add_rates(figures, size, count)
                    results["references"] = references
                    # the train row's bundle (the end-to-end run has no labels)
                    model = os.path.join(run_scratch, "out", "model")
                    if os.path.isdir(model):
                        results["latency"] = mail_latency(model, inputs[:1])
                        try:  # the daemon group: an entry of its own
                            results["daemon"] = daemon_latency(model, inputs[:1])
                        except (UserError, OSError, subprocess.SubprocessError) as error:
                            results["daemon"] = {"error": str(error)}
    results["comparisons"] = comparisons(results)
    if scaling:
        results["scaling"] = scaling_ratios(results)
    os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
    with open(results_path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1, sort_keys=True)
    os.replace(results_path + ".tmp", results_path)
    return results


def comparisons(results):
    """[{stage, runner, reference, ratio, target}]; ratio = reference time / stage time."""
    rows = []
    base = results["sizes"]["1"]["runners"]
    for runner, stages in base.items():
        for stage, references in COMPARISONS.items():
            for reference, target in references:
                figures = stages[stage]
                mine = figures.get("seconds")
                theirs = results["references"].get(reference, {}).get("seconds")
                row = {"stage": stage, "runner": runner, "reference": reference,
                       "target": target, "ratio": theirs / mine if mine and theirs else None}
                if figures.get("paired") == reference and figures.get("paired_ratio"):
                    # the rounds' own ratio (stage_end_to_end); the medians' beside it
                    row.update(ratio=figures["paired_ratio"], paired=len(figures["runs"]),
                               ratio_of_medians=row["ratio"])
                rows.append(row)
    return rows


def scaling_ratios(results):
    """{runner: {stage: {"time_4x_over_1x", "rss_4x_over_1x"}}}."""
    ratios = {}
    one, four = results["sizes"]["1"]["runners"], results["sizes"]["4"]["runners"]
    for runner in one:
        for stage in STAGES:
            a, b = one[runner][stage], four[runner][stage]
            if a.get("seconds") and b.get("seconds"):
                ratios.setdefault(runner, {})[stage] = {
                    "time_4x_over_1x": b["seconds"] / a["seconds"],
                    "rss_4x_over_1x": b["peak_task_rss_mb"] / a["peak_task_rss_mb"]}
    return ratios


def _number(value, form):
    return "-" if value is None else form % value


def format_report(results):
    """The Markdown tables of a results dict."""
    one = results["sizes"]["1"]
    lines = ["## bench: %d MB Enron prefix (%d files, %.1f MB, %d messages), "
             "load average %.1f on %d CPUs" % (
                 results["mb"], one["files"], one["bytes"] / MB, one.get("messages", 0),
                 results["loadavg"], results["cpus"]), "",
             "| stage | runner | seconds | MB/s | msg/s | peak task RSS MB "
             "| driver MB in | driver MB out |",
             "|---|---|---|---|---|---|---|---|"]
    for runner, stages in one["runners"].items():
        for stage in STAGES:
            lines.append(_row(stage, runner, stages[stage]))
    for name, figures in results["references"].items():
        lines.append(_row("ref: " + name, REFERENCE_RUNNERS[name], figures))
    lines += ["", "| stage | runner | reference | ratio (ref time / stage time) | target |",
              "|---|---|---|---|---|"]
    for row in results["comparisons"]:
        ratio = _number(row["ratio"], "%.2fx")
        if row.get("paired"):
            ratio += " (median of %d paired rounds; of the medians: %s)" % (
                row["paired"], _number(row.get("ratio_of_medians"), "%.2fx"))
        lines.append("| %s | %s | %s | %s | %s |" % (
            row["stage"], row["runner"], row["reference"], ratio,
            "-" if row["target"] is None else ">= %.1fx" % row["target"]))
    if "scaling" in results:
        lines += ["", "| stage | runner | " + " | ".join(
            "%sx s" % f for f in results["sizes"]) + " | 4x/1x time | 4x/1x RSS |",
            "|---|---|" + "---|" * (len(results["sizes"]) + 2)]
        for runner, stages in results["scaling"].items():
            for stage, ratio in stages.items():
                times = [results["sizes"][f]["runners"][runner][stage].get("seconds")
                         for f in results["sizes"]]
                lines.append("| %s | %s | %s | %.2f | %.2f |" % (
                    stage, runner, " | ".join(_number(t, "%.1f") for t in times),
                    ratio["time_4x_over_1x"], ratio["rss_4x_over_1x"]))
    lines += ["", format_targets(results)]
    runs = format_runs(results)
    if runs:
        lines += [""] + runs
    if "latency" in results:
        lines += ["", format_latency(results["latency"])]
    if "daemon" in results:
        lines += ["", format_daemon(results["daemon"])]
    return "\n".join(lines)


def format_runs(results):
    """A line per repeated stage: its runs' seconds (and CPU / wall), in run order."""
    one = results["sizes"]["1"]
    stages = [("end_to_end", runner, figures["end_to_end"])
              for runner, figures in one["runners"].items() if "end_to_end" in figures]
    stages += [("ref: " + name, REFERENCE_RUNNERS[name], results["references"].get(name, {}))
               for name in END_TO_END_REFERENCES]
    lines = []
    for stage, runner, figures in stages:
        runs = figures.get("runs") or []
        if len(runs) < 2:
            continue
        lines.append("%s (%s), median of %d: %s" % (stage, runner, len(runs), ", ".join(
            "%.2f s" % run["seconds"] + (" (CPU / wall %.2f)" % run["run_cpu_over_wall"]
                                         if "run_cpu_over_wall" in run else "")
            + (" then %s %.2f s" % (figures["paired"], run["paired_seconds"])
               if "paired_seconds" in run else "")
            for run in runs)))
    return lines


def target_rows(results):
    """[(what, measured, target)] of the speed issue's absolute targets."""
    one = results["sizes"]["1"]
    references = results["references"]
    rows = []
    for name in ("kernel_python", "kernel_native"):
        rows.append(("analyzer kernel, MB/s of text per core (%s)" % name.split("_")[1],
                     references.get(name, {}).get("text_mb_per_s"), TARGETS["kernel_mb_per_s"]))
    parse = one["runners"].get("inline", {}).get("parse", {})
    rows.append(("parse, MB/s of raw mail per core (inline: one process)",
                 parse.get("mb_per_s"), TARGETS["parse_mb_per_s_per_core"]))
    end = one["runners"].get("local", {}).get("end_to_end", {})
    # the `jeeves run` process and its tasks (stage_end_to_end); results of
    # before it have only the stage process's, the harness's start included
    rows.append(("CPU seconds / wall seconds of the whole local run",
                 end.get("run_cpu_over_wall", end.get("cpu_over_wall")),
                 TARGETS["cpu_over_wall"]))
    return rows


def format_targets(results):
    lines = ["| target | measured | target |", "|---|---|---|"]
    for what, measured, target in target_rows(results):
        lines.append("| %s | %s | >= %.1f |" % (what, _number(measured, "%.2f"), target))
    return "\n".join(lines)


def _row(stage, runner, figures):
    if "skipped" in figures:
        return "| %s | %s | skipped: %s | | | | | |" % (stage, runner, figures["skipped"])
    if "error" in figures:
        return "| %s | %s | failed: %s | | | | | |" % (stage, runner, figures["error"])
    moved = {kind: figures[kind] / MB if figures.get(kind) is not None else None
             for kind in ("driver_bytes_read", "driver_bytes_written")}
    return "| %s | %s | %.1f | %s | %s | %s | %s | %s |" % (
        stage, runner, figures["seconds"], _number(figures.get("mb_per_s"), "%.2f"),
        _number(figures.get("messages_per_s"), "%.0f"),
        _number(figures.get("peak_task_rss_mb"), "%.0f"),
        _number(moved["driver_bytes_read"], "%.2f"),
        _number(moved["driver_bytes_written"], "%.2f"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["daemon"]:
        return daemon_main(argv[1:])
    parser = argparse.ArgumentParser(description="child side of bench: one stage")
    parser.add_argument("--stage", required=True, choices=sorted(STAGE_FUNCTIONS))
    parser.add_argument("--work", required=True, help="JSON of the stage's inputs")
    parser.add_argument("--result", required=True, help="where the figures are written")
    parser.add_argument("--profile", metavar="PATH",
                        help="run the stage under cProfile and dump its stats to PATH "
                             "(in-process work only: use the inline runner)")
    args = parser.parse_args(argv)
    if args.profile:
        import cProfile

        cProfile.runctx("run_stage_here(args.stage, args.work, args.result)",
                        globals(), {"args": args}, filename=args.profile)
    else:
        run_stage_here(args.stage, args.work, args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
