"""The full-corpus run behind `make bench-full` (issue 15; not part of `make test`).

    python -m tools.run_bench --full [--sizes 110,220,440] [--full-runners local,hadoop]
    python -m tools.bench_full [same options]

For each size (MB = 2**20 bytes of uncompressed mbox: whole ``.mbox.gz``
files of ``../shared/data/enron-mbox`` in name order, as
``tools.bench.prefix_files`` takes them; 440 is the whole corpus, 1,462
files) it runs ``jeeves run --dedupe-by content --no-graph`` in a child
process:

- ``local``: mrjob's local runner, input read in place, output in a local
  directory;
- ``hadoop``: the local pseudo-distributed cluster (tools/hadoop/cluster.py)
  started in a private home, each size's files put first (timed apart, as
  ``hdfs_put_seconds``) in an HDFS directory of the corpus' name, given as
  the one input, output on HDFS.

and checks that the runners agree: the same parsed records (the multiset of
``OUT/messages/`` lines, each record's ``source.uri`` taken relative to the
input directory, since a run reads ``file:///...`` and the other
``hdfs://...``), the same ``OUT/features/vocabulary.tsv`` bytes and the same
multiset of tf-idf vector lines (``OUT/features/tfidf/``). Multisets are
compared by an order-free digest (count and sum of 128-bit BLAKE2b hashes
of the lines), so nothing corpus-sized is held in memory.

Measured per size and runner, by sampling ``/proc`` every ``SAMPLE_SECONDS``
(``VmHWM``, a process's own peak RSS, so a sample between two others loses
nothing but a process's last interval):

- ``seconds``: wall time of the `jeeves run` child;
- ``driver_peak_rss_mb``: the `jeeves run` process alone (not the ``hadoop``
  client JVMs or the local runner's tasks it starts);
- ``task_peak_rss_mb``: the largest peak of one task process (a Python
  process whose command line holds mrjob's ``--step-num=``): descendants of
  the driver under the local runner, descendants of the cluster's JVM (the
  NodeManager's containers) under hadoop; ``task_processes`` says how many
  were seen.

The child runs `jeeves` in process under tools/driver_io.py, which also
gives, from outside the project's own counters:

- ``driver_mb``: what the driver process itself read and wrote (its own
  threads' ``rchar`` + ``wchar`` and its sockets' bytes; not its children's);
- ``jobs``: per job the pipeline ran, its wall seconds as the driver saw
  them (``seconds``), the time its tasks ran by Hadoop's job counters
  (``task_seconds``: "Total time spent by all map tasks" plus "... reduce
  tasks", every step), the time of one wave of them (``wave_seconds``:
  per step, each phase's task time over its launched tasks, as if they all
  ran side by side) and, under hadoop, ``fixed_seconds`` = seconds -
  wave_seconds: what the job costs besides its tasks' own work (the
  driver's file-system calls and uploads, ``hadoop jar``'s JVM, the
  submission, the ApplicationMaster's and the containers' start-up, and
  the waits for containers and for a phase's slowest task, which make it
  an upper estimate). On small inputs it is most of the job.

Shuffle: under hadoop the cluster runs real reduce tasks only in a network
namespace that holds nothing but ``lo`` (docs/engines.md); when hadoop is
asked for outside one, as root, the benchmark re-executes itself through
``tools/hadoop/netns-run`` (the local runner then runs there too). The
report says whether the shuffle ran (``shuffle``). Prints a Markdown table
with the ratios time(largest)/time(smallest) (issue 15's target: within
4.4 for 440/110) and the RSS ratios (flat: near 1), and writes
bench/full.json after every run, so a long run that stops leaves the
figures it got.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from tools import bench

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "bench", "full.json")
SIZES_MB = (110, 220, 440)
RUNNERS = ("local", "hadoop")
RUN_ARGS = ("--dedupe-by", "content", "--no-graph")
SAMPLE_SECONDS = 0.2
TASK_MARK = b"--step-num="
MB = bench.MB
NETNS_RUN = os.path.join(REPO, "tools", "hadoop", "netns-run")
# set in the re-executed benchmark, so that it does not re-execute again
IN_NAMESPACE_ENV = "JEEVES_BENCH_FULL_NETNS"
CLUSTER_ATTEMPTS = 3
CLUSTER_START_SECONDS = 180  # about a minute on a loaded machine; a failed start hangs
PUT_FILES = 200  # files per `hadoop fs -put` (one JVM each)
SITE_FILES = ("core-site.xml", "hdfs-site.xml", "mapred-site.xml", "yarn-site.xml")
DIGEST_MASK = (1 << 128) - 1
SHARED_JARS = os.path.join(REPO, ".cache", "hadoop", "lib")


# --- /proc sampling ---------------------------------------------------------

def _processes():
    """{pid: (ppid, cmdline bytes)} of every process readable now."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as handle:
                stat = handle.read()
            with open("/proc/%s/cmdline" % name, "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue  # exited meanwhile
        # the command name in parentheses may hold spaces: ppid follows the last ')'
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        found[int(name)] = (ppid, cmdline)
    return found


def peak_rss_bytes(pid):
    """A process's own peak resident set (VmHWM), or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid, "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def descendants(root, processes):
    """The pids below ``root`` in ``processes`` (its children, theirs, ...)."""
    children = {}
    for pid, (ppid, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    found, pending = [], list(children.get(root, ()))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


class RssSampler:
    """Peak RSS of one process and of the task processes below ``task_root``.

    A thread samples /proc every ``interval`` seconds between ``start()``
    and ``stop()``; ``driver_peak`` and ``task_peak`` are bytes (0 when none
    was seen), ``task_pids`` the task processes seen.
    """

    def __init__(self, driver_pid, task_root, interval=None):
        self.driver_pid, self.task_root = driver_pid, task_root
        # read when made: a test samples a short run more often
        self.interval = SAMPLE_SECONDS if interval is None else interval
        self.driver_peak = self.task_peak = 0
        self.task_pids = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._done.set()
        self._thread.join()

    def sample(self):
        self.driver_peak = max(self.driver_peak, peak_rss_bytes(self.driver_pid) or 0)
        processes = _processes()
        for pid in descendants(self.task_root, processes):
            if TASK_MARK in processes[pid][1]:
                self.task_pids.add(pid)
                self.task_peak = max(self.task_peak, peak_rss_bytes(pid) or 0)

    def _loop(self):
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)


# --- comparing outputs ------------------------------------------------------

class LineDigest:
    """An order-free digest of a multiset of lines: (count, sum of hashes)."""

    def __init__(self):
        self.count = 0
        self.total = 0

    def add(self, line):
        self.count += 1
        hashed = hashlib.blake2b(line, digest_size=16).digest()
        self.total = (self.total + int.from_bytes(hashed, "big")) & DIGEST_MASK

    def value(self):
        return {"lines": self.count, "digest": "%032x" % self.total}


def record_line(line, input_prefix):
    """A record line with ``source.uri`` relative to the input directory
    (``input_prefix``, ending in ``/``), as canonical JSON bytes."""
    record = json.loads(line)
    source = record.get("source") or {}
    uri = source.get("uri")
    if isinstance(uri, str) and uri.startswith(input_prefix):
        source["uri"] = uri[len(input_prefix):]
    return json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")


def output_digests(storage, out, input_prefix):
    """{"records", "vocabulary", "vectors"}: digests of a `jeeves run` output
    (a local directory or an HDFS URI), read line by line through ``storage``."""
    from jeeves.storage import join

    records, vectors = LineDigest(), LineDigest()
    for line in storage.iter_lines(join(out, "messages")):
        if line.strip():
            records.add(record_line(line, input_prefix))
    for line in storage.iter_lines(join(out, "features", "tfidf")):
        if line.strip():
            vectors.add(line.rstrip(b"\n"))
    vocabulary = storage.read_bytes(join(out, "features", "vocabulary.tsv"))
    return {"records": records.value(), "vectors": vectors.value(),
            "vocabulary": {"lines": vocabulary.count(b"\n"),
                           "digest": hashlib.blake2b(vocabulary, digest_size=16).hexdigest()}}


def differences(first, second):
    """The names of the outputs whose digests differ between two runs."""
    return sorted(name for name in first if first[name] != second.get(name))


# --- the private Hadoop home ------------------------------------------------

def make_hadoop_home(home, jars=SHARED_JARS):
    """A cluster home of its own (docs/engines.md layout), sharing the fetched jars."""
    if not os.path.exists(os.path.join(jars, ".fetched")):
        raise RuntimeError("no Hadoop jars in %s: run 'make hadoop-jars'" % jars)
    os.makedirs(os.path.join(home, "bin"), exist_ok=True)
    os.makedirs(os.path.join(home, "etc", "hadoop"), exist_ok=True)
    for link, target in ((os.path.join(home, "lib"), jars),
                         (os.path.join(home, "bin", "hadoop"),
                          os.path.join(REPO, "tools", "hadoop", "hadoop"))):
        if not os.path.lexists(link):
            os.symlink(target, link)
    for name in SITE_FILES:
        path = os.path.join(home, "etc", "hadoop", name)
        if not os.path.exists(path):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("<configuration/>\n")
    return home


def hadoop_environment(home):
    return dict(os.environ, HADOOP_HOME=home,
                HADOOP_CONF_DIR=os.path.join(home, "etc", "hadoop"))


def hadoop_fs(home, *args):
    done = subprocess.run([os.path.join(home, "bin", "hadoop"), "fs", *args],
                          env=hadoop_environment(home), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError("hadoop fs %s failed:\n%s" % (" ".join(args), done.stderr))
    return done.stdout


def start_cluster(home, progress, attempts=CLUSTER_ATTEMPTS):
    """cluster.start, again after a failure: it picks free ports, then starts,
    and under load a port may be taken meanwhile (BindException)."""
    from tools.hadoop import cluster

    for _ in range(attempts - 1):
        try:
            return cluster.start(home, timeout=CLUSTER_START_SECONDS)
        except cluster.ClusterError as error:
            cluster.stop(home)
            progress("hadoop: the cluster did not start (%s); again"
                     % str(error).splitlines()[0])
    try:
        return cluster.start(home, timeout=CLUSTER_START_SECONDS)
    except cluster.ClusterError as error:
        raise RuntimeError(str(error)) from None


# --- one run ----------------------------------------------------------------

def jeeves_run(inputs, out, runner, task_root=None, env=None, log_path=None):
    """`jeeves run RUN_ARGS` in a child process (counted by tools/driver_io.py)
    -> (seconds, sampler, exit status, driver_io report or None)."""
    with tempfile.TemporaryDirectory(prefix="jeeves-bench-run-") as scratch:
        report_path = os.path.join(scratch, "driver-io.json")
        command = [sys.executable, "-m", "tools.driver_io", "child", report_path, "--",
                   "run", "--input", *inputs, "--output", out, "--runner", runner, *RUN_ARGS]
        with open(log_path or os.devnull, "wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            sampler = RssSampler(process.pid, process.pid if task_root is None else task_root)
            sampler.start()
            status = process.wait()
            seconds = time.perf_counter() - started
            sampler.stop()
        report = None
        if os.path.exists(report_path):
            with open(report_path, encoding="utf-8") as handle:
                report = json.load(handle)
    return seconds, sampler, status, report


def job_times(jobs, runner):
    """[{"job", "seconds", "task_seconds", "wave_seconds", "fixed_seconds"}]
    of a driver_io report's jobs (module docstring); ``fixed_seconds`` under
    hadoop only."""
    times = []
    for job in jobs:
        entry = {"job": job["job"], "seconds": round(job["seconds"], 1),
                 "task_seconds": round(job.get("task_seconds") or 0.0, 1),
                 "wave_seconds": round(job.get("task_wave_seconds") or 0.0, 1)}
        if runner == "hadoop":
            entry["fixed_seconds"] = round(job["seconds"] - (job.get("task_wave_seconds")
                                                             or 0.0), 1)
        times.append(entry)
    return times


def _log_tail(path, lines=20):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def measure(runner, inputs, out, input_prefix, log_path, hadoop_home=None, cluster_pid=None):
    """One `jeeves run`: its figures and the digests of its output."""
    from jeeves.storage import Storage

    env = hadoop_environment(hadoop_home) if runner == "hadoop" else None
    # the local runner's tasks are the driver's descendants, even while a cluster runs
    task_root = cluster_pid if runner == "hadoop" else None
    seconds, sampler, status, report = jeeves_run(inputs, out, runner, task_root=task_root,
                                                  env=env, log_path=log_path)
    if status != 0:
        raise RuntimeError("jeeves run --runner %s exited %d; end of %s:\n%s"
                           % (runner, status, log_path, _log_tail(log_path)))
    # mrjob's hadoop_bin is a command: a list of arguments
    storage = Storage({"hadoop_bin": [os.path.join(hadoop_home, "bin", "hadoop")]}
                      if runner == "hadoop" else None)
    old_env = dict(os.environ)
    if env is not None:
        os.environ.update(env)  # mrjob's HadoopFilesystem finds the cluster through them
    try:
        summary = json.loads(storage.read_bytes(out.rstrip("/") + "/summary.json"))
        digests = output_digests(storage, out, input_prefix)
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    parse = summary["stages"]["parse"]
    return {"seconds": round(seconds, 1),
            "driver_peak_rss_mb": round(sampler.driver_peak / MB, 1),
            "task_peak_rss_mb": round(sampler.task_peak / MB, 1),
            "task_processes": len(sampler.task_pids),
            "messages": parse.get("parsed"), "read": parse.get("read"),
            "quarantined": parse.get("quarantined"),
            "vocabulary": summary["stages"]["features"].get("vocabulary"),
            "tasks": parse.get("tasks"), "digests": digests,
            "driver_mb": round(report["driver_bytes"] / MB, 1) if report else None,
            "jobs": job_times(report["jobs"], runner) if report else []}


# --- the benchmark ----------------------------------------------------------

def plan_sizes(sizes_mb, corpus):
    """[(label MB, files, uncompressed bytes)], dropping a size that takes the
    same files as a smaller one (the whole corpus is reached once)."""
    planned, seen = [], set()
    for size in sizes_mb:
        paths, total = bench.prefix_files(size, corpus)
        if len(paths) in seen:
            continue
        seen.add(len(paths))
        planned.append((size, paths, total))
    return planned


def _write(results, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(path + ".tmp", path)


def run_full(sizes_mb=SIZES_MB, runners=RUNNERS, corpus=bench.ENRON_MBOX, work=None,
             hadoop_home=None, results_path=RESULTS, progress=None):
    """Run every size on every runner; return (and write) the results."""
    from tools.hadoop import cluster

    progress = progress or (lambda line: print(line, flush=True))
    corpus = os.path.abspath(corpus)
    if not os.path.isdir(corpus):
        raise RuntimeError("corpus not found: %s" % corpus)
    work = work or tempfile.mkdtemp(prefix="jeeves-bench-full-")
    planned = plan_sizes(sizes_mb, corpus)
    results = {"corpus": os.path.basename(corpus), "run_args": list(RUN_ARGS),
               "runners": list(runners), "sizes": {}, "task_rss_source":
               {"local": "/proc VmHWM of the driver's descendant task processes",
                "hadoop": "/proc VmHWM of the task processes under the cluster's JVM"}}
    cluster_details = None
    try:
        if "hadoop" in runners:
            hadoop_home = make_hadoop_home(hadoop_home or os.path.join(work, "hadoop-home"))
            started = time.perf_counter()
            cluster_details = start_cluster(hadoop_home, progress)
            results["hadoop"] = {"home": "private", "shuffle": cluster_details["shuffle"],
                                 "reduce_tasks": cluster_details.get("reduce_tasks"),
                                 "cluster_start_seconds": round(time.perf_counter() - started, 1)}
            hdfs_root = "/user/%s/jeeves-bench-full" % getpass.getuser()
            started = time.perf_counter()
            for size, paths, _ in planned:
                # each size's files in a directory of the corpus' name (the records'
                # folder), given as one input: the parse stage groups a remote
                # directory's files into tasks, but not files given one by one
                directory = "%s/%d/%s" % (hdfs_root, size, os.path.basename(corpus))
                hadoop_fs(hadoop_home, "-mkdir", "-p", directory)
                for first in range(0, len(paths), PUT_FILES):
                    hadoop_fs(hadoop_home, "-put", "-f", *paths[first:first + PUT_FILES],
                              directory)
            results["hadoop"]["hdfs_put_seconds"] = round(time.perf_counter() - started, 1)
            progress("hadoop: cluster up (shuffle %s), inputs put on HDFS in %.0fs"
                     % (cluster_details["shuffle"], results["hadoop"]["hdfs_put_seconds"]))
        for size, paths, total in planned:
            entry = results["sizes"].setdefault(str(size), {
                "files": len(paths), "mbox_mb": round(total / MB, 1), "runs": {}})
            for runner in runners:
                if runner == "hadoop":
                    directory = "hdfs://%s/%d/%s" % (hdfs_root, size, os.path.basename(corpus))
                    inputs, out = [directory], "hdfs://%s/out-%d" % (hdfs_root, size)
                    prefix = directory + "/"
                else:
                    inputs, out = paths, os.path.join(work, "out-%s-%d" % (runner, size))
                    prefix = "file://%s/" % corpus
                progress("%d MB on %s ..." % (size, runner))
                try:
                    figures = measure(runner, inputs, out, prefix,
                                      os.path.join(work, "run-%s-%d.log" % (runner, size)),
                                      hadoop_home=hadoop_home,
                                      cluster_pid=cluster_details["pid"] if cluster_details
                                      else None)
                except Exception as error:  # noqa: BLE001  a long run reports what failed, goes on
                    entry["runs"][runner] = {"error": "%s: %s" % (type(error).__name__, error)}
                    progress("%d MB on %s failed: %s" % (size, runner, error))
                    _write(dict(results, ratios=ratios(results)), results_path)
                    continue
                entry["runs"][runner] = figures
                progress("%d MB on %s: %.0fs, %s messages" % (size, runner, figures["seconds"],
                                                             figures["messages"]))
                if len(runners) == 2 and all("digests" in entry["runs"].get(name, {})
                                             for name in runners):
                    first, second = (entry["runs"][name]["digests"] for name in runners)
                    entry["differ"] = differences(first, second)
                    entry["identical"] = not entry["differ"]
                _write(dict(results, ratios=ratios(results)), results_path)
    finally:
        if "hadoop" in runners:
            cluster.stop(hadoop_home)
    results["ratios"] = ratios(results)
    _write(results, results_path)
    return results


def ratios(results):
    """Per runner: largest size over smallest for time, task RSS and driver RSS."""
    found = {}
    sizes = sorted(results["sizes"], key=int)
    for runner in results["runners"]:
        done = [size for size in sizes
                if "seconds" in results["sizes"][size]["runs"].get(runner, {})]
        if len(done) < 2:
            continue
        small, large = (results["sizes"][size]["runs"][runner] for size in (done[0], done[-1]))
        found[runner] = {"sizes": "%s/%s" % (done[-1], done[0])}
        for key in ("seconds", "task_peak_rss_mb", "driver_peak_rss_mb"):
            found[runner][key] = (round(large[key] / small[key], 2) if small[key] else None)
    return found


def runner_ratios(results):
    """{size: hadoop's wall seconds over local's} where both ran (issue 25's
    target: within 2)."""
    found = {}
    for size, entry in results["sizes"].items():
        runs = entry["runs"]
        if all("seconds" in runs.get(runner, {}) for runner in ("hadoop", "local")) \
                and runs["local"]["seconds"]:
            found[size] = round(runs["hadoop"]["seconds"] / runs["local"]["seconds"], 2)
    return found


def format_report(results):
    lines = ["| MB | files | runner | messages | wall s | peak task RSS MB | driver peak RSS MB "
             "| driver I/O MB | runners agree |", "|---|---|---|---|---|---|---|---|---|"]
    for size in sorted(results["sizes"], key=int):
        entry = results["sizes"][size]
        for runner, run in entry["runs"].items():
            if "error" in run:
                lines.append("| %s | %d | %s | failed: %s |||||" % (
                    entry["mbox_mb"], entry["files"], runner, run["error"].splitlines()[0]))
                continue
            agree = entry.get("identical")
            agree = "-" if agree is None else ("yes" if agree else
                                               "NO: " + ", ".join(entry["differ"]))
            lines.append("| %s | %d | %s | %s | %.0f | %.0f | %.0f | %s | %s |" % (
                entry["mbox_mb"], entry["files"], runner, run["messages"], run["seconds"],
                run["task_peak_rss_mb"], run["driver_peak_rss_mb"],
                "-" if run.get("driver_mb") is None else "%.1f" % run["driver_mb"], agree))
    lines += format_job_times(results)
    for runner, found in results.get("ratios", {}).items():
        lines.append("\n%s, %s MB: time x%s (target: within 4.4), peak task RSS x%s, "
                     "driver RSS x%s" % (runner, found["sizes"], found["seconds"],
                                        found["task_peak_rss_mb"],
                                        found["driver_peak_rss_mb"]))
    for size, ratio in sorted(runner_ratios(results).items(), key=lambda item: int(item[0])):
        lines.append("\n%s MB: hadoop/local time x%s (target: within 2)"
                     % (results["sizes"][size]["mbox_mb"], ratio))
    if "hadoop" in results:
        lines.append("\nhadoop: shuffle %s (reduce tasks per step: %s), HDFS put %ss (not "
                     "in the wall times)" % (results["hadoop"]["shuffle"],
                                             results["hadoop"]["reduce_tasks"],
                                             results["hadoop"].get("hdfs_put_seconds")))
    return "\n".join(lines)


def format_job_times(results):
    """The Hadoop jobs' seconds: wall, tasks, fixed (module docstring), per size."""
    lines = []
    for size in sorted(results["sizes"], key=int):
        run = results["sizes"][size]["runs"].get("hadoop", {})
        jobs = run.get("jobs") or []
        if not jobs:
            continue
        lines += ["\nhadoop jobs, %s MB (fixed s: wall s less a wave of its tasks):\n"
                  % results["sizes"][size]["mbox_mb"],
                  "| job | wall s | task s | wave s | fixed s |", "|---|--:|--:|--:|--:|"]
        lines += ["| %s | %.1f | %.1f | %.1f | %.1f |" % (
            job["job"], job["seconds"], job["task_seconds"], job.get("wave_seconds", 0.0),
            job["fixed_seconds"]) for job in jobs]
        fixed = [job["fixed_seconds"] for job in jobs]
        lines.append("| %d jobs | %.1f | %.1f | %.1f | %.1f (mean %.1f) |" % (
            len(jobs), sum(job["seconds"] for job in jobs),
            sum(job["task_seconds"] for job in jobs),
            sum(job.get("wave_seconds", 0.0) for job in jobs), sum(fixed),
            sum(fixed) / len(fixed)))
    return lines


def in_namespace_command(argv):
    """The command that re-runs this benchmark inside a loopback-only network
    namespace, or None when it is in one, or cannot make one."""
    from tools.hadoop import cluster

    if cluster.loopback_only() or os.environ.get(IN_NAMESPACE_ENV) or os.geteuid() != 0:
        return None
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    return [NETNS_RUN, sys.executable, "-m", "tools.bench_full", *argv]


def add_arguments(parser):
    parser.add_argument("--sizes", default=",".join(map(str, SIZES_MB)),
                        help="comma-separated MB prefixes (default: %(default)s; 440 is the "
                             "whole corpus)")
    parser.add_argument("--full-runners", default=",".join(RUNNERS),
                        help="comma-separated runners among local, hadoop "
                             "(default: %(default)s)")
    parser.add_argument("--corpus", default=bench.ENRON_MBOX,
                        help="directory of .mbox.gz files (default: ../shared/data/enron-mbox)")
    parser.add_argument("--work", help="directory for the local outputs and logs "
                                       "(default: a new temporary directory)")
    parser.add_argument("--hadoop-home", help="private cluster home (default: under --work)")
    parser.add_argument("--full-results", default=RESULTS,
                        help="where the figures go (default: bench/full.json)")


def options_of(args):
    """(sizes, runners) of parsed arguments, or raise ValueError naming the bad value."""
    try:
        sizes = tuple(int(size) for size in args.sizes.split(",") if size.strip())
    except ValueError:
        raise ValueError("--sizes: comma-separated whole MB, not %r" % args.sizes) from None
    runners = tuple(name.strip() for name in args.full_runners.split(",") if name.strip())
    if not sizes or min(sizes) < 1:
        raise ValueError("--sizes: at least one size of 1 MB or more, not %r" % args.sizes)
    if not runners or any(name not in RUNNERS for name in runners):
        raise ValueError("--full-runners: choose among %s, not %r"
                         % (", ".join(RUNNERS), args.full_runners))
    return sizes, runners


def argv_of(args):
    """The options of parsed arguments, as `python -m tools.bench_full` takes them."""
    argv = ["--sizes", args.sizes, "--full-runners", args.full_runners,
            "--corpus", os.path.abspath(args.corpus), "--full-results",
            os.path.abspath(args.full_results)]
    for option, value in (("--work", args.work), ("--hadoop-home", args.hadoop_home)):
        if value:
            argv += [option, os.path.abspath(value)]
    return argv


def main_with(args):
    """Run the benchmark from parsed arguments; return the exit status."""
    sizes, runners = options_of(args)
    if "hadoop" in runners:
        command = in_namespace_command(argv_of(args))
        if command is not None:
            return subprocess.call(command, env=dict(os.environ, **{IN_NAMESPACE_ENV: "1"}))
    # a benchmark stopped by `kill` still stops the cluster it started (run_full's finally)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results = run_full(sizes, runners, corpus=args.corpus, work=args.work,
                       hadoop_home=args.hadoop_home, results_path=args.full_results)
    print(format_report(results))
    print("\nresults: %s" % args.full_results)
    bad = [size for size, entry in results["sizes"].items()
           if entry.get("identical") is False
           or any("error" in run for run in entry["runs"].values())]
    return 1 if bad else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.bench_full",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return main_with(args)
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
