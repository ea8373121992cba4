"""What the `jeeves` driver process itself reads and writes, measured from outside
the project's own counters (the speed issue's driver bytes).

    make cluster-start && export HADOOP_HOME=$PWD/.cache/hadoop
    tools/hadoop/netns-run --named jeeves-hadoop .venv/bin/python -m tools.driver_io --sizes 2,8

generates a few hundred small labelled messages and, per size, an mbox of
that many MB (2**20 bytes) of unlabelled mail (synthetic text, written here,
never copied from a corpus), puts each corpus on the cluster's HDFS, runs
``jeeves run --runner hadoop`` on it with its output on HDFS (``RUN_ARGS``:
no graph, one cheap model), and prints the driver's bytes per size and the
line through them: the fixed bytes (its intercept) and the bytes per added
byte of mail (its slope).

The tasks' code is on HDFS before the measured runs (put there as by a
first run of the same code), and its zips' names are in the user's code
cache (jeeves.codecache): the runs measure a run after the first one.
``--code-cache cold`` gives each run an empty code cache, so that it builds
and hashes the zips as the first run on a machine does (about 8 MB more).

How the bytes are counted. The driver runs in a child Python
(``python -m tools.driver_io child REPORT -- ARGS``), in process, and at its
end sums, over the threads of that process only (not its children: the
``hadoop`` client JVMs, ``hadoop jar``, mrjob's pty child):

- ``rchar`` + ``wchar`` of ``/proc/thread-self/io`` of every thread: the
  main thread when ``jeeves`` returns, each other thread as it ends (a hook
  on ``threading.Thread``), any other one still alive from
  ``/proc/self/task/*/io``. ``rchar``/``wchar`` are the bytes passed through
  read()/write() (files, pipes from the children, the terminal), whether or
  not they hit the disk, so a run measures the same on a warm or cold page
  cache; ``read_bytes``/``write_bytes`` count only what reached the block
  device (0 for a file read from the page cache, nothing on tmpfs) and are
  reported but not used. ``/proc/<pid>/io`` is not used either: it adds the
  I/O of every child the process waited for.
- socket bytes: Linux does not count recv()/send() on sockets in
  ``rchar``/``wchar`` (only read()/write() on them), and the driver's HTTP
  (WebHDFS, S3 over plain HTTP) goes through recv_into/sendall, so the
  child counts what ``socket.socket``'s receive and send methods return
  (TLS sockets are not counted: none on the local cluster).

The report (JSON) also has each job the pipeline ran (``jeeves.pipeline.engine.Engine.run``,
wrapped: its wall seconds, its tasks' time from Hadoop's job counters, the
driver's bytes while it ran), every command the driver started
(``subprocess.Popen``: the ``hadoop`` client JVMs; ``os.forkpty``: mrjob's
``hadoop jar``), and the project's own count (``summary.json``'s
``driver_bytes`` is written by the run; the storage layer's total is in
``storage_bytes``) for comparison.

tests/engines/test_driver_io.py runs the same measurement at two sizes on
the test cluster; tools/bench_full.py uses the child to time each job.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1 << 20
LABELS = "spam*=1,ham*=0"
# the cheapest `jeeves run` that still labels and trains: no graph, no email
# model (no LSA sample job), one model on two folds
RUN_ARGS = ("--labels", LABELS, "--no-graph", "--models", "logistic_regression",
            "--folds", "2", "--feature-groups", "none", "--no-ablation")
LABELLED_PER_CLASS = 150
UNLABELLED_WORDS = 2000
PUT_THREADS = 8
THREAD_FIELDS = ("rchar", "wchar", "read_bytes", "write_bytes")
# Hadoop's job counters: the time a step's tasks ran (milliseconds), and how many ran
TASK_PHASES = (("Total time spent by all map tasks (ms)", "Launched map tasks"),
               ("Total time spent by all reduce tasks (ms)", "Launched reduce tasks"))


def task_times(step_counters):
    """(task seconds, wave seconds) of a job's steps' counters: the time all
    its tasks ran, and the time of one wave of them per step (each phase's
    task time over its tasks, as if they all ran side by side)."""
    total = wave = 0.0
    for counters in step_counters:
        group = (counters or {}).get("Job Counters ") or (counters or {}).get("Job Counters") \
            or {}
        for time_name, launched_name in TASK_PHASES:
            milliseconds = group.get(time_name, 0)
            total += milliseconds / 1000.0
            wave += milliseconds / 1000.0 / max(group.get(launched_name, 0), 1)
    return round(total, 3), round(wave, 3)


# --- in the child: counting -------------------------------------------------

def thread_io(path="/proc/thread-self/io"):
    """{field: bytes} of one thread's /proc io file ({} once it is gone)."""
    found = {}
    try:
        with open(path, "rb") as handle:
            for line in handle:
                name, _, value = line.partition(b":")
                found[name.decode()] = int(value)
    except OSError:
        return {}
    return {name: found.get(name, 0) for name in THREAD_FIELDS}


class Counter:
    """The driver process's own bytes (module docstring), from hooks set in ``install``."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ended = {}  # native thread id -> its io when it ended
        self.socket = {"received": 0, "sent": 0}
        self.commands = []
        self.jobs = []
        self.storages = {}  # the engines' storage layers (the project's own count)
        self.code_upload_bytes = 0

    def add_socket(self, kind, size):
        if size:
            with self.lock:
                self.socket[kind] += size

    def threads(self):
        """{field: bytes} summed over the threads that ended and those alive."""
        totals = dict.fromkeys(THREAD_FIELDS, 0)
        with self.lock:
            ended = dict(self.ended)
        seen = dict(ended)
        for tid in os.listdir("/proc/self/task"):
            if int(tid) not in seen:
                seen[int(tid)] = thread_io("/proc/self/task/%s/io" % tid)
        for values in seen.values():
            for name in THREAD_FIELDS:
                totals[name] += values.get(name, 0)
        return totals

    def total(self):
        threads = self.threads()
        return (threads["rchar"] + threads["wchar"] + self.socket["received"]
                + self.socket["sent"])

    def install(self):
        import socket

        counter = self

        bootstrap = threading.Thread._bootstrap_inner

        def bootstrap_inner(thread):
            try:
                bootstrap(thread)
            finally:
                values = thread_io()
                with counter.lock:
                    counter.ended[threading.get_native_id()] = values

        threading.Thread._bootstrap_inner = bootstrap_inner

        def counted(name, kind, size_of):
            original = getattr(socket.socket, name)

            def method(self, *args, **kwargs):
                result = original(self, *args, **kwargs)
                counter.add_socket(kind, size_of(result, args))
                return result

            method.__name__ = name
            setattr(socket.socket, name, method)

        def length(result, args):
            return len(result)

        def first_length(result, args):
            return len(result[0])

        def returned(result, args):
            return result or 0

        def first(result, args):
            return result[0] or 0

        def sent_all(result, args):
            return len(memoryview(args[0]))

        for name, kind, size_of in (("recv", "received", length),
                                    ("recvfrom", "received", first_length),
                                    ("recvmsg", "received", first_length),
                                    ("recv_into", "received", returned),
                                    ("recvfrom_into", "received", first),
                                    ("send", "sent", returned),
                                    ("sendto", "sent", returned),
                                    ("sendmsg", "sent", returned),
                                    ("sendall", "sent", sent_all)):
            counted(name, kind, size_of)

        def audit(event, args):
            if event == "subprocess.Popen":
                command = [os.fsdecode(arg) for arg in (args[1] or [args[0]])]
                counter.commands.append(command[:4])
            elif event == "os.forkpty":
                counter.commands.append(["(pty)"])

        sys.addaudithook(audit)

    def wrap_code_uploads(self):
        """Count the bytes moved while the driver puts the tasks' code on HDFS
        (Storage.put_once): once per code version, whatever the mail, so the
        line through the runs leaves them out (``code_upload_bytes``)."""
        from jeeves.storage import Storage

        put_once = Storage.put_once
        counter = self

        def counted_put_once(storage, local_file, uri):
            before = counter.total()
            try:
                return put_once(storage, local_file, uri)
            finally:
                counter.code_upload_bytes += counter.total() - before

        Storage.put_once = counted_put_once

    def wrap_engine(self):
        """Time each job the pipeline runs (Engine.run), count its bytes, and
        keep its steps' counters (runjob.sum_counters gets them per step)."""
        from jeeves import runjob
        from jeeves.pipeline import engine

        run = engine.Engine.run
        sum_counters = runjob.sum_counters
        counter = self
        steps = []

        def kept_sum_counters(step_counters):
            steps[:] = [step_counters]
            return sum_counters(step_counters)

        runjob.sum_counters = kept_sum_counters

        def timed_run(engine_self, job_class, inputs, output, args=(), **keywords):
            counter.storages[id(engine_self.storage)] = engine_self.storage
            record = {"job": job_class.__name__,
                      "runner": keywords.get("runner") or engine_self.runner,
                      "start": time.time(), "driver_bytes_before": counter.total()}
            if hasattr(engine_self, "code_args"):
                record["code_args"] = engine_self.code_args()
            steps[:] = []
            try:
                result = run(engine_self, job_class, inputs, output, args, **keywords)
            finally:
                record["end"] = time.time()
                record["seconds"] = round(record["end"] - record["start"], 3)
                record["driver_bytes"] = counter.total() - record.pop("driver_bytes_before")
                counter.jobs.append(record)
            step_counters = steps[0] if steps else []
            record["steps"] = len(step_counters)
            record["task_seconds"], record["task_wave_seconds"] = task_times(step_counters)
            return result

        engine.Engine.run = timed_run

    def report(self, status):
        threads = self.threads()
        storage_bytes = sum(storage.bytes_read + storage.bytes_written
                            for storage in self.storages.values())
        return {"status": status, "threads": threads, "socket": dict(self.socket),
                "driver_bytes": (threads["rchar"] + threads["wchar"]
                                 + self.socket["received"] + self.socket["sent"]),
                "commands": self.commands,
                "hadoop_commands": [command for command in self.commands
                                    if os.path.basename(command[0]) == "hadoop"],
                "jobs": self.jobs, "storage_bytes": storage_bytes,
                "code_upload_bytes": self.code_upload_bytes}


def run_child(report_path, argv):
    """Run ``jeeves ARGV`` in this process, counted; write the report; return its status."""
    counter = Counter()
    counter.install()
    from jeeves import cli

    counter.wrap_engine()
    counter.wrap_code_uploads()
    try:
        status = cli.main(argv)
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    report = counter.report(status)
    with open(report_path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    return status


# --- in the parent ----------------------------------------------------------

# the read and write system calls strace attributes to their files
IO_CALLS = ("read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64",
            "pwritev", "pwritev2", "sendfile", "copy_file_range", "splice")
TRACE_LINE = re.compile(r"^(\w+)\((\d+)<(.*?)>,.* = (\d+)$")
# the installed software: the Python installation (the virtualenv's and the
# interpreter's own) and the system's libraries and shared data
SYSTEM_DIRECTORIES = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share")


def software_directories():
    return tuple(sorted({os.path.realpath(path) for path in (
        sys.prefix, sys.base_prefix, sys.exec_prefix) + SYSTEM_DIRECTORIES}))


def kind_of(target, software=None):
    """What a traced file descriptor is: ``software`` (a file of the installed
    software other than a ``.py`` source: compiled modules, shared libraries,
    libraries' data such as matplotlib's fonts), ``file`` (any other file,
    the project's own sources included), ``pipe``, ``terminal``, ``socket``
    or ``other``."""
    software = software_directories() if software is None else software
    if target.startswith("/dev/pts/") or target == "/dev/ptmx":
        return "terminal"
    if target.startswith("/"):
        inside = any(target == directory or target.startswith(directory + "/")
                     for directory in software)
        return "software" if inside and not target.endswith(".py") else "file"
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith(("socket:", "TCP", "UDP", "UNIX")):
        return "socket"
    return "other"


def package_of(path):
    """The distribution a file of the installed software belongs to, by its
    path: the first folder under ``site-packages`` (``numpy``, ``sklearn``),
    ``python`` for the standard library, else the file's folder."""
    parts = path.split("/")
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1:]
        return rest[0] if len(rest) > 1 else "site-packages"
    if any(re.match(r"python3\.\d+$", part) for part in parts):
        return "python"
    return os.path.dirname(path)


def attribute(trace_path, top=25):
    """{"kinds": {kind: bytes}, "top": [[target, bytes], ...], "packages":
    [[package, bytes], ...], "font_bytes": bytes} of an strace log of the
    driver's main thread (``-y``: each descriptor's target); ``packages``
    sums the software read by package (``package_of``), largest first;
    ``font_bytes`` what was read of font files (``.ttf``, ``.otf``: the
    report's plots)."""
    kinds, targets, packages = {}, {}, {}
    font_bytes = 0
    software = software_directories()
    with open(trace_path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            found = TRACE_LINE.match(line.rstrip("\n"))
            if not found:
                continue
            target, size = found.group(3), int(found.group(4))
            kind = kind_of(target, software)
            kinds[kind] = kinds.get(kind, 0) + size
            key = target if kind in ("file", "software") else kind
            targets[key] = targets.get(key, 0) + size
            if kind == "software":
                package = package_of(target)
                packages[package] = packages.get(package, 0) + size
            if target.lower().endswith((".ttf", ".otf")):
                font_bytes += size
    largest = sorted(targets.items(), key=lambda item: -item[1])[:top]
    return {"kinds": kinds, "top": [[target, size] for target, size in largest],
            "packages": sorted(([package, size] for package, size in packages.items()),
                               key=lambda item: -item[1]),
            "font_bytes": font_bytes}


def measure(argv, env=None, log_path=None, trace=True):
    """Run ``jeeves ARGV`` in a counted child process; return its report
    (module docstring), or raise RuntimeError with the end of its output.

    ``trace`` (when strace is installed): the child runs under ``strace``
    without ``-f`` (its main thread only, none of its children), which
    attributes the main thread's read and write calls to their files
    (``traced``); ``software_bytes`` is what it read of the installed
    software (kind_of) and ``data_bytes`` the driver's bytes less that: what
    it moved, rather than the program it loaded. Without strace both are None.
    """
    with tempfile.TemporaryDirectory(prefix="jeeves-driver-io-") as scratch:
        report_path = os.path.join(scratch, "report.json")
        trace_path = os.path.join(scratch, "trace")
        log_path = log_path or os.path.join(scratch, "log")
        command = [sys.executable, "-m", "tools.driver_io", "child", report_path, "--", *argv]
        strace = shutil.which("strace") if trace else None
        if strace:
            command = [strace, "-qq", "-y", "-s", "0", "-e", "signal=none",
                       "-e", "trace=" + ",".join(IO_CALLS), "-o", trace_path] + command
        started = time.time()
        with open(log_path, "wb") as log:
            status = subprocess.call(command, cwd=REPO, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if status != 0 or not os.path.exists(report_path):
            with open(log_path, encoding="utf-8", errors="replace") as handle:
                tail = "".join(handle.readlines()[-30:])
            raise RuntimeError("jeeves %s exited %d:\n%s" % (" ".join(argv), status, tail))
        with open(report_path, encoding="utf-8") as handle:
            report = json.load(handle)
        report["seconds"] = round(time.time() - started, 1)
        report["traced"] = attribute(trace_path) if strace else None
        report["software_bytes"] = report["traced"]["kinds"].get("software", 0) if strace \
            else None
        report["data_bytes"] = report["driver_bytes"] - report["software_bytes"] if strace \
            else None
        return report


def line_through(points):
    """(intercept, slope) of the line through the first and last (x, y) points."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    slope = (y1 - y0) / float(x1 - x0)
    return y0 - slope * x0, slope


# --- the mail ---------------------------------------------------------------

SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fu", "go", "hi",
             "ja", "ke", "lu", "ma", "no", "pi", "re", "so", "ta", "vi", "wo", "ze")


def dictionary(words, seed=0):
    """``words`` distinct made-up words (two to four syllables), in frequency rank order."""
    chosen = random.Random(seed)
    found = set()
    while len(found) < words:
        found.add("".join(chosen.choice(SYLLABLES) for _ in range(chosen.randint(2, 4))))
    ordered = sorted(found)
    chosen.shuffle(ordered)  # frequency rank not in alphabetical order
    return ordered


class Writer:
    """Synthetic messages: Zipf-distributed words of a made-up dictionary,
    a class's own words mixed in for the labelled ones."""

    def __init__(self, seed=0, words=20000):
        self.random = random.Random(seed)
        self.words = dictionary(words, seed)
        weights = [1.0 / (rank + 1) for rank in range(len(self.words))]
        self.cumulative = []
        total = 0.0
        for weight in weights:
            total += weight
            self.cumulative.append(total)
        self.spam_words = self.words[-200:-100]
        self.ham_words = self.words[-100:]

    def text(self, words, extra=()):
        chosen = self.random.choices(self.words, cum_weights=self.cumulative, k=words)
        for index in range(0, len(chosen), 9):
            if extra:
                chosen[index] = self.random.choice(extra)
        lines = [" ".join(chosen[start:start + 12]) for start in range(0, len(chosen), 12)]
        return "\n".join(lines) + "\n"

    def message(self, number, kind, words=250):
        extra = {"spam": self.spam_words, "ham": self.ham_words}.get(kind, ())
        day = 1 + number % 28
        subject = " ".join(self.random.choices(self.words[:2000], k=5))
        return ("From: user%d@%s.example\nTo: user%d@example.org\nSubject: %s\n"
                "Date: Mon, %d Mar 2003 10:%02d:00 +0000\nMessage-ID: <%s-%d@jeeves.test>\n"
                "\n%s" % (number % 97, kind, number % 89, subject, day, number % 60, kind,
                          number, self.text(words, extra)))


def write_corpus(root, unlabelled_bytes, labelled_per_class=LABELLED_PER_CLASS, seed=0,
                 unlabelled_words=UNLABELLED_WORDS):
    """``root``/spam/, ``root``/ham/ (one file a message, labelled by folder:
    the same at every size) and ``root``/unlabelled/mail.mbox of
    ``unlabelled_bytes`` (about); returns the mbox's exact size.

    The unlabelled mail draws on ``unlabelled_words`` words (default 2,000,
    each in many messages already at 2 MB), so that sizes differ by their
    mail and not by their vocabulary: the driver does handle the vocabulary
    (it numbers the kept terms, writes ``vocabulary.tsv``, trains a model
    with a weight per term); with 20,000 words the vocabulary grows with the
    mail, which measures what a larger vocabulary costs (docs/engines.md)."""
    writer = Writer(seed)
    for kind in ("spam", "ham"):
        os.makedirs(os.path.join(root, kind))
        for number in range(labelled_per_class):
            with open(os.path.join(root, kind, "%04d.eml" % number), "w",
                      encoding="ascii") as handle:
                handle.write(writer.message(number, kind))
    os.makedirs(os.path.join(root, "unlabelled"))
    mbox = os.path.join(root, "unlabelled", "mail.mbox")
    # the unlabelled mail's own stream, so the labelled messages are the same at every size
    writer = Writer(seed + 1, words=unlabelled_words)
    written, number = 0, 0
    with open(mbox, "w", encoding="ascii") as handle:
        while written < unlabelled_bytes:
            block = ("From user@example.org Mon Mar  3 10:00:00 2003\n"
                     + writer.message(number, "unlabelled", words=300) + "\n")
            handle.write(block)
            written += len(block)
            number += 1
    return os.path.getsize(mbox)


# --- on the cluster ---------------------------------------------------------

def hadoop_bin():
    home = os.environ.get("HADOOP_HOME")
    if not home:
        raise RuntimeError("HADOOP_HOME is not set: start the cluster (make cluster-start) and "
                           "export the HADOOP_HOME it prints")
    return os.path.join(home, "bin", "hadoop")


def hadoop(*args):
    done = subprocess.run([hadoop_bin(), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("hadoop %s failed:\n%s" % (" ".join(args), done.stderr))
    return done.stdout


def hdfs_size(uri):
    """The size of an HDFS file, asked over WebHDFS (no JVM)."""
    from jeeves.storage import Storage, webhdfs_url_from_conf

    return Storage(webhdfs_url=webhdfs_url_from_conf()).size(uri)


def put_code_first():
    """Put the tasks' code on HDFS as a first run of this code would
    (jeeves.pipeline.engine.Engine.code_args), so that every measured run is
    a later one: the first run of a code version also uploads it, once.
    It also fills the user's code cache (jeeves.codecache): the runs after
    it find the zips' names there (a warm cache) unless they are given an
    empty one (``code_cache="cold"``)."""
    from jeeves.pipeline import engine

    if hasattr(engine.Engine, "code_args"):
        engine.Engine("hadoop").code_args()


# one task container a job: each job runs its maps and its one reducer inside
# its ApplicationMaster (Hadoop's uber jobs), on top of the runner's profile
UBER_JOBCONF = {"mapreduce.job.ubertask.enable": "true",
                "mapreduce.job.ubertask.maxmaps": "1000",
                "mapreduce.job.ubertask.maxreduces": "1",
                "mapreduce.job.ubertask.maxbytes": str(1 << 40),
                "mapreduce.job.reduces": "1"}


def uber_conf(path):
    """Write an mrjob.conf that includes the runner profiles `jeeves` uses and
    makes every Hadoop job an uber job (UBER_JOBCONF); returns its path."""
    from jeeves.runners import MRJOB_CONF

    lines = ["include: %s" % json.dumps(os.path.realpath(MRJOB_CONF)), "runners:",
             "  hadoop:", "    jobconf:"]
    lines += ["      %s: %s" % (name, json.dumps(value))
              for name, value in sorted(UBER_JOBCONF.items())]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


CODE_CACHES = ("warm", "cold")


def run_sizes(sizes_mb, work, hdfs_root=None, progress=print, trace=True,
              unlabelled_words=UNLABELLED_WORDS, parallel=False, uber=False,
              code_cache="warm"):
    """Per size: write the corpus, put it on HDFS, measure `jeeves run
    --runner hadoop` on it -> [{"mb", "mail_bytes", "report"}] (reports also
    in ``work``/report-MB.json). ``parallel``: the runs at once, each in its
    own child (what each driver moves is its own; the cluster runs their
    jobs side by side), which takes less time than one after the other.
    ``uber``: every job an uber job (:func:`uber_conf`), a container
    instead of one per task: much less CPU on a one-node cluster, the same
    stages and jobs for the driver (only fewer output parts to list).
    ``code_cache``: ``warm``, each run finds the tasks' code zips in the
    user's code cache (jeeves.codecache: filled by :func:`put_code_first`,
    as by any earlier run of the same code), or ``cold``, each run gets an
    empty one of its own (``JEEVES_CODE_CACHE``) and builds and hashes the
    zips, as the first run on a machine does (the zips are on HDFS
    already in both cases: their upload is left out, ``summarize``)."""
    if code_cache not in CODE_CACHES:
        raise ValueError("code_cache: one of %s, not %r" % (CODE_CACHES, code_cache))
    hdfs_root = hdfs_root or "/user/jeeves-driver-io/%s" % uuid.uuid4().hex
    put_code_first()
    runs = []
    conf_args = ["--mrjob-conf", uber_conf(os.path.join(work, "uber-mrjob.conf"))] if uber \
        else []
    staged = os.path.join(work, "corpora")
    for size in sizes_mb:
        # work/corpora/SIZE/corpus -> HDFS_ROOT/SIZE/corpus
        local = os.path.join(staged, str(size), "corpus")
        mail_bytes = write_corpus(local, int(size * MB), unlabelled_words=unlabelled_words)
        directory = "%s/%s" % (hdfs_root, size)
        argv = ["run", "--input", "hdfs://%s/corpus" % directory,
                "--output", "hdfs://%s/out" % directory, "--runner", "hadoop", *RUN_ARGS,
                *conf_args]
        env = None
        if code_cache == "cold":
            env = dict(os.environ, JEEVES_CODE_CACHE=os.path.join(work, "code-cache-%s" % size))
        runs.append({"mb": size, "mail_bytes": mail_bytes, "argv": argv, "env": env,
                     "code_cache": code_cache,
                     "vocabulary": "hdfs://%s/out/features/vocabulary.tsv" % directory})
    # two `hadoop fs` JVMs for all the corpora, the many small files put by
    # several threads, straight to their names (no ._COPYING_ file to rename)
    hadoop("fs", "-mkdir", "-p", hdfs_root)
    hadoop("fs", "-put", "-t", str(PUT_THREADS), "-d",
           *[os.path.join(staged, str(size)) for size in sizes_mb], hdfs_root)

    def measured(run):
        size = run["mb"]
        try:
            run["report"] = measure(run.pop("argv"), env=run.pop("env"), trace=trace,
                                    log_path=os.path.join(work, "run-%s.log" % size))
        except RuntimeError as error:
            run["error"] = error
            return
        report = run["report"]
        # what the run wrote (asked over WebHDFS after it, by this process)
        report["vocabulary_bytes"] = hdfs_size(run.pop("vocabulary"))
        with open(os.path.join(work, "report-%s.json" % size), "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
        progress("%s MB of unlabelled mail: driver %s bytes (data %s), %d hadoop client "
                 "commands, %.0f s" % (size, format(report["driver_bytes"], ","),
                                       _bytes(report["data_bytes"]),
                                       len(report["hadoop_commands"]), report["seconds"]))

    if parallel:
        threads = [threading.Thread(target=measured, args=(run,)) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for run in runs:
            measured(run)
            if "error" in run:
                break
    for run in runs:
        if "error" in run:
            raise run["error"]
    return runs


def _bytes(value):
    return "-" if value is None else format(value, ",")


def summarize(runs):
    """The lines through run_sizes' runs: ``fixed_bytes`` and
    ``bytes_per_mail_byte`` of the driver's data bytes (None without
    strace), ``total_fixed_bytes`` and ``total_bytes_per_mail_byte`` of all
    its bytes, and the figures of each run. Both leave out each run's
    ``code_upload_bytes``: putting a new version of the tasks' code on HDFS
    (reading its zip and sending it), which the first run of that code
    does, whatever its mail (a checkout that changes between two runs would
    otherwise look like growth). ``bytes_per_vocabulary_byte``: the data's
    growth over the growth of ``vocabulary.tsv`` between the first and the
    last run (None when it did not grow, or without strace): with a
    vocabulary that grows with the mail (``unlabelled_words``), what each
    byte of it costs the driver, the mail's own growth counted in."""
    summary = {}
    for prefix, key in (("", "data_bytes"), ("total_", "driver_bytes")):
        if any(run["report"][key] is None for run in runs):
            summary[prefix + "fixed_bytes"] = summary[prefix + "bytes_per_mail_byte"] = None
            continue
        # less the code's upload, made by whichever run first meets a new code version
        fixed, slope = line_through([(run["mail_bytes"], run["report"][key]
                                      - run["report"].get("code_upload_bytes", 0))
                                     for run in runs])
        summary[prefix + "fixed_bytes"] = round(fixed)
        summary[prefix + "bytes_per_mail_byte"] = round(slope, 4)
    first, last = runs[0]["report"], runs[-1]["report"]
    grown = (last.get("vocabulary_bytes") or 0) - (first.get("vocabulary_bytes") or 0)
    summary["bytes_per_vocabulary_byte"] = None
    if grown > 0 and first["data_bytes"] is not None and last["data_bytes"] is not None:
        summary["bytes_per_vocabulary_byte"] = round(
            (last["data_bytes"] - last.get("code_upload_bytes", 0) - first["data_bytes"]
             + first.get("code_upload_bytes", 0)) / float(grown), 2)
    summary["code_cache"] = runs[0].get("code_cache", "warm")
    summary["runs"] = [{"mb": run["mb"], "mail_bytes": run["mail_bytes"],
                        "vocabulary_bytes": run["report"].get("vocabulary_bytes"),
                        "font_bytes": (run["report"]["traced"] or {}).get("font_bytes"),
                        "packages": (run["report"]["traced"] or {}).get("packages"),
                        "driver_bytes": run["report"]["driver_bytes"],
                        "data_bytes": run["report"]["data_bytes"],
                        "code_upload_bytes": run["report"].get("code_upload_bytes", 0),
                        "software_bytes": run["report"]["software_bytes"],
                        "threads": run["report"]["threads"], "socket": run["report"]["socket"],
                        "hadoop_commands": len(run["report"]["hadoop_commands"]),
                        "jobs": len(run["report"]["jobs"]), "seconds": run["report"]["seconds"]}
                       for run in runs]
    return summary


def format_summary(summary):
    lines = ["| unlabelled MB | vocabulary.tsv | driver bytes | of which software | data "
             "| of which code uploads | rchar | wchar | socket in | socket out "
             "| hadoop client JVMs | jobs | seconds |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for run in summary["runs"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %.0f |" % (
            run["mb"], _bytes(run.get("vocabulary_bytes")), _bytes(run["driver_bytes"]),
            _bytes(run["software_bytes"]),
            _bytes(run["data_bytes"]), _bytes(run.get("code_upload_bytes", 0)),
            _bytes(run["threads"]["rchar"]),
            _bytes(run["threads"]["wchar"]), _bytes(run["socket"]["received"]),
            _bytes(run["socket"]["sent"]), run["hadoop_commands"], run["jobs"],
            run["seconds"]))
    lines.append("code cache: %s (jeeves.codecache)" % summary.get("code_cache", "warm"))
    for label, prefix in (("data", ""), ("all bytes", "total_")):
        if summary[prefix + "fixed_bytes"] is not None:
            lines.append("%s, less code uploads: fixed %.1f MB; growth %.4f byte per added "
                         "byte of unlabelled mail"
                         % (label, summary[prefix + "fixed_bytes"] / float(MB),
                            summary[prefix + "bytes_per_mail_byte"]))
    packages = summary["runs"][0].get("packages")
    if packages:
        lines.append("software read, by package (the first run): " + ", ".join(
            "%s %.1f MB" % (package, size / float(MB)) for package, size in packages[:12]))
    if summary.get("bytes_per_vocabulary_byte") is not None:
        lines.append("data growth per added byte of vocabulary.tsv: %.2f"
                     % summary["bytes_per_vocabulary_byte"])
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["child"]:
        if len(argv) < 3 or argv[2] != "--":
            sys.exit("usage: python -m tools.driver_io child REPORT -- JEEVES-ARGS...")
        return run_child(argv[1], argv[3:])
    parser = argparse.ArgumentParser(prog="python -m tools.driver_io",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,8",
                        help="MB of unlabelled mail, comma-separated (default: %(default)s)")
    parser.add_argument("--work", help="where the corpora, logs and report go (default: a "
                                       "new temporary directory)")
    parser.add_argument("--unlabelled-words", type=int, default=UNLABELLED_WORDS,
                        help="words of the unlabelled mail's dictionary (default %(default)s: "
                             "the same vocabulary at every size; 20000: one that grows)")
    parser.add_argument("--parallel", action="store_true",
                        help="run the sizes at once (less time; the same bytes)")
    parser.add_argument("--uber", action="store_true",
                        help="every job an uber job (one container; the same driver bytes)")
    parser.add_argument("--code-cache", choices=CODE_CACHES, default="warm",
                        help="warm (default): the runs find the tasks' code zips in the "
                             "user's code cache, as every run after a machine's first; cold: "
                             "each run builds them into an empty one, as a first run does")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [float(size) for size in args.sizes.split(",") if size.strip()]
    if len(sizes) < 2:
        parser.error("--sizes: at least two sizes")
    work = args.work or tempfile.mkdtemp(prefix="jeeves-driver-io-")
    summary = summarize(run_sizes([int(size) if size.is_integer() else size for size in sizes],
                                  work, unlabelled_words=args.unlabelled_words,
                                  parallel=args.parallel, uber=args.uber,
                                  code_cache=args.code_cache))
    print("\n" + format_summary(summary))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)
    print("logs: %s" % work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
