"""Start and stop a pseudo-distributed Hadoop cluster (HDFS and YARN) on loopback.

    python -m tools.hadoop.cluster start   # prints the HADOOP_HOME to use
    python -m tools.hadoop.cluster status
    python -m tools.hadoop.cluster stop

The cluster is Hadoop's own MiniCluster CLI
(``org.apache.hadoop.mapreduce.MiniHadoopClusterManager`` from the MapReduce
jobclient tests jar): one NameNode, one DataNode, a ResourceManager, one
NodeManager and the JobHistory server in a single JVM, run from the jars
``tools/hadoop/fetch-jars`` puts in ``HADOOP_HOME/lib`` (default
``.cache/hadoop``). Its state (HDFS blocks, container logs) lives in
``HADOOP_HOME/cluster`` and is wiped at each start. ``start`` writes the client
configuration to ``HADOOP_HOME/etc/hadoop/*-site.xml``, which the launcher
``HADOOP_HOME/bin/hadoop`` reads, and has the container logs written to
``HADOOP_HOME/logs/userlogs``, where mrjob looks for a failed task's stderr. ``stop`` puts
back an empty client configuration.

Jobs run with the shuffle, as on any cluster (separate map and reduce
containers, ``REDUCE_TASKS`` reducers a step by default), only where this
process sees no interface but loopback: in a network namespace of its own
(``tools/hadoop/netns-run``), because the MapReduce shuffle handler binds
all interfaces and has no setting to bind one. Elsewhere the NodeManager
runs no shuffle service and every job is an uber job, with one reducer.
The cluster serves only the processes of its own network namespace:
``status`` refuses a cluster started in another one.
"""

import argparse
import contextlib
import fcntl
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_HOME = os.path.join(REPO, ".cache", "hadoop")
AUX_SERVICES_MANIFEST = os.path.join(HERE, "aux-services.json")
MANAGER_CLASS = "org.apache.hadoop.mapreduce.MiniHadoopClusterManager"
EMPTY_CONFIGURATION = "<configuration/>\n"
# The whole client configuration goes in each site file: Hadoop loads
# mapred-default.xml and yarn-default.xml after core-site.xml, so a value
# only in core-site.xml would be overridden by their defaults.
SITE_FILES = ("core-site.xml", "hdfs-site.xml", "mapred-site.xml", "yarn-site.xml")
LOOPBACK = "127.0.0.1"

# Small enough to share two cores and a few GB with other work: one
# NodeManager offering 4 GB, 512 MB containers (the ApplicationMaster and two
# tasks fit at once).
CONTAINER_MB = 512
TASK_HEAP = "-Xmx384m"
# Task JVMs live seconds and mostly pipe records to Python: the quick JIT
# tier and the serial collector start them faster (as for the launcher's
# client JVMs, tools/hadoop/hadoop). With the shuffle every task is one.
TASK_JVM_STARTUP = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
# Heartbeats (ms) between the NodeManager, the ResourceManager and the
# ApplicationMaster: each container waits for one to be assigned and one to
# be launched, so at Hadoop's 1 s defaults a job of small tasks spends much
# of its time waiting; one node can afford more.
HEARTBEAT_MS = "250"
NODEMANAGER_MB = 4096
# The NodeManager's shuffle service logs its port, chosen free by the MiniCluster.
SHUFFLE_PORT_LINE = re.compile(rb"mapreduce_shuffle listening on port (\d+)")
# A job's default number of reducers a step with the shuffle (its client
# configuration's mapreduce.job.reduces; a job's own --jobconf wins): more
# than one, so the partitioner and multi-reducer output are exercised.
REDUCE_TASKS = 2


class ClusterError(Exception):
    """The cluster could not be started or is not running."""


def jvm_options():
    """The Java 17 options shared by every Hadoop JVM (tools/hadoop/jvm-options)."""
    with open(os.path.join(HERE, "jvm-options"), encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def loopback_only():
    """True when this process's network namespace has no interface but ``lo``."""
    return all(name == "lo" for _, name in socket.if_nameindex())


def network_namespace(pid="self"):
    """The network namespace of a process, as ``net:[inode]`` (None if unknown)."""
    try:
        return os.readlink("/proc/%s/ns/net" % pid)
    except OSError:
        return None


def _free_port():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _settings(home, shuffle):
    """Configuration of the cluster and of its clients (jobs read it too)."""
    task_opts = " ".join([TASK_HEAP] + TASK_JVM_STARTUP + jvm_options())
    conf_dir = os.path.join(home, "etc", "hadoop")
    # Every server on a free port, so a second cluster (another checkout, a
    # CI neighbour) does not collide; the MiniCluster picks the HDFS ones.
    addresses = {
        key: "localhost:%d" % _free_port()
        for key in (
            "yarn.resourcemanager.scheduler.address",
            "yarn.resourcemanager.resource-tracker.address",
            "yarn.resourcemanager.admin.address",
            "yarn.resourcemanager.webapp.address",
            "yarn.nodemanager.webapp.address",
            "mapreduce.jobhistory.webapp.address",
            "mapreduce.jobhistory.admin.address",
        )
    }
    return addresses | _shuffle_settings(shuffle) | {
        # `hadoop jar` submits to YARN, not to the local job runner.
        "mapreduce.framework.name": "yarn",
        # Loopback only: every server binds 127.0.0.1.
        "yarn.resourcemanager.bind-host": LOOPBACK,
        "yarn.nodemanager.bind-host": LOOPBACK,
        "yarn.timeline-service.bind-host": LOOPBACK,
        "mapreduce.jobhistory.bind-host": LOOPBACK,
        "dfs.namenode.rpc-bind-host": LOOPBACK,
        "dfs.namenode.http-bind-host": LOOPBACK,
        "dfs.replication": "1",
        # Resources.
        "yarn.nodemanager.resource.memory-mb": str(NODEMANAGER_MB),
        "yarn.scheduler.minimum-allocation-mb": "256",
        "yarn.scheduler.maximum-allocation-mb": str(NODEMANAGER_MB),
        "yarn.app.mapreduce.am.resource.mb": str(CONTAINER_MB),
        "mapreduce.map.memory.mb": str(CONTAINER_MB),
        "mapreduce.reduce.memory.mb": str(CONTAINER_MB),
        "yarn.app.mapreduce.am.command-opts": task_opts,
        "mapreduce.map.java.opts": task_opts,
        "mapreduce.reduce.java.opts": task_opts,
        # Heartbeats and the client's polling.
        "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms": HEARTBEAT_MS,
        "yarn.app.mapreduce.am.scheduler.heartbeat.interval-ms": HEARTBEAT_MS,
        "mapreduce.client.progressmonitor.pollinterval": HEARTBEAT_MS,
        # Python tasks use more virtual memory than YARN's ratio allows, and
        # a nearly full disk must not take the only NodeManager out.
        "yarn.nodemanager.vmem-check-enabled": "false",
        "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "100",
        # Containers run from the fetched jars, with the client configuration.
        "mapreduce.application.classpath": conf_dir + "," + os.path.join(home, "lib", "*"),
    } | {
        # MapReduce gives tasks a fixed PATH; put this Python's directory
        # (the project's virtualenv) first, so the tasks' `python3` is the
        # project's, with its packages, as a node's python3 has them.
        key: "PATH=%s:/usr/local/bin:/usr/bin:/bin" % os.path.dirname(sys.executable)
        for key in ("yarn.app.mapreduce.am.env", "mapreduce.map.env", "mapreduce.reduce.env")
    }


def _shuffle_settings(shuffle):
    """How map output reaches the reducers: the shuffle service, or uber jobs."""
    if shuffle:
        # The MiniCluster configures the NodeManager's mapreduce_shuffle
        # service (ShuffleHandler) itself; its port is chosen free.
        return {
            "mapreduce.job.ubertask.enable": "false",
            "mapreduce.job.reduces": str(REDUCE_TASKS),
            # on two shared cores a slow task is the machine, not a bad node:
            # a speculative second attempt only adds load
            "mapreduce.map.speculative": "false",
            "mapreduce.reduce.speculative": "false",
        }
    # The MapReduce shuffle service has no bind address setting (it
    # listens on all interfaces), so outside a namespace of its own the
    # NodeManager runs none: its aux services come from an empty manifest
    # (the MiniCluster forces the shuffle into the configured list), and
    # every job runs as an uber job, maps and reduce inside the
    # ApplicationMaster's container, which needs no shuffle service. Hadoop
    # supports one reducer there.
    return {
        "yarn.nodemanager.aux-services.manifest.enabled": "true",
        "yarn.nodemanager.aux-services.manifest": "file://" + AUX_SERVICES_MANIFEST,
        "mapreduce.job.ubertask.enable": "true",
        "mapreduce.job.ubertask.maxmaps": "1000",
        "mapreduce.job.ubertask.maxreduces": "1",
        "mapreduce.job.ubertask.maxbytes": str(1 << 40),
        "mapreduce.job.reduces": "1",
    }


def _paths(home):
    work = os.path.join(home, "cluster")
    return {
        "work": work,
        "pid": os.path.join(work, "pid"),
        "log": os.path.join(work, "cluster.log"),
        "details": os.path.join(work, "details.json"),
        "mode": os.path.join(work, "mode.json"),
        "written_conf": os.path.join(work, "cluster-site.xml"),
        "conf_dir": os.path.join(home, "etc", "hadoop"),
        "logs": os.path.join(home, "logs"),
    }


def _running_pid(home):
    """The cluster's pid if it is running, else None."""
    try:
        with open(_paths(home)["pid"], encoding="ascii") as handle:
            pid = int(handle.read())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def _log_tail(path, lines=30):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _locked(home):
    """Hold HOME's cluster lock: one start or stop at a time per home.

    Several processes may want the cluster at once (two pytest workers, two
    `make cluster-start`); without the lock a second one could find the
    first one's pid before its servers wrote their details.
    """
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".cluster.lock"), "a", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(home=DEFAULT_HOME, timeout=300):
    """Start the cluster unless it runs; return its details (ports, pid), with
    ``started``: whether this call started it.

    Safe to call from several processes at once: the first starts it, the
    others wait for it and get its details.
    """
    if not os.path.exists(os.path.join(home, "lib", ".fetched")):
        raise ClusterError("no Hadoop jars in %s/lib; run 'make hadoop-jars'" % home)
    if shutil.which("java") is None:
        raise ClusterError("java not found on PATH")
    with _locked(home):
        if _running_pid(home):
            return dict(status(home), started=False)
        return dict(_start(home, timeout), started=True)


def _start(home, timeout):
    paths = _paths(home)

    shuffle = loopback_only()
    shutil.rmtree(paths["work"], ignore_errors=True)
    os.makedirs(paths["work"])
    with open(paths["mode"], "w", encoding="utf-8") as handle:
        json.dump({"shuffle": shuffle, "network_namespace": network_namespace(),
                   "reduce_tasks": REDUCE_TASKS if shuffle else 1}, handle)
    ports = {"nnport": _free_port(), "rmport": _free_port(), "jhsport": _free_port()}
    command = ["java", "-Xmx1g"] + jvm_options()
    command += ["-cp", os.path.join(home, "lib", "*"), MANAGER_CLASS, "-format"]
    for option, port in sorted(ports.items()):
        command += ["-" + option, str(port)]
    command += ["-writeConfig", paths["written_conf"], "-writeDetails", paths["details"]]
    for key, value in sorted(_settings(home, shuffle).items()):
        command += ["-D", "%s=%s" % (key, value)]

    with open(paths["log"], "wb") as log:
        # The cluster keeps its data under its working directory (./target).
        process = subprocess.Popen(
            command, cwd=paths["work"], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    with open(paths["pid"], "w", encoding="ascii") as handle:
        handle.write(str(process.pid))

    deadline = time.monotonic() + timeout
    while not os.path.exists(paths["details"]):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(home)
            raise ClusterError(
                "the Hadoop mini cluster did not start; end of %s:\n%s"
                % (paths["log"], _log_tail(paths["log"]))
            )
        time.sleep(1)
    # The details file is written after the configuration file: both are done.
    if shuffle:
        _record_shuffle_port(paths)
    for name in SITE_FILES:
        shutil.copyfile(paths["written_conf"], os.path.join(paths["conf_dir"], name))
    _gather_container_logs(paths)
    return status(home)


def _record_shuffle_port(paths):
    """Add the shuffle service's port, from the cluster's log, to mode.json."""
    with open(paths["log"], "rb") as handle:
        found = SHUFFLE_PORT_LINE.search(handle.read())
    if found is None:
        raise ClusterError("the NodeManager started no shuffle service; end of %s:\n%s"
                           % (paths["log"], _log_tail(paths["log"])))
    with open(paths["mode"], encoding="utf-8") as handle:
        mode = json.load(handle)
    mode["shuffle_port"] = int(found.group(1))
    with open(paths["mode"], "w", encoding="utf-8") as handle:
        json.dump(mode, handle)


def _gather_container_logs(paths):
    """Make the NodeManager write every container's logs to HADOOP_HOME/logs/userlogs.

    mrjob looks for a failed task's logs in ``<HADOOP_HOME>/logs/userlogs/
    <application id>/``; the MiniCluster spreads applications over four log
    directories of its own. They are still empty once it has started, so each
    becomes a link to the one directory mrjob searches.
    """
    userlogs = os.path.join(paths["logs"], "userlogs")
    shutil.rmtree(paths["logs"], ignore_errors=True)
    os.makedirs(userlogs)
    pattern = os.path.join(paths["work"], "target", "**", "*-logDir-nm-*")
    for log_dir in glob.glob(pattern, recursive=True):
        os.rmdir(log_dir)  # fails, rightly, if a container already wrote there
        os.symlink(userlogs, log_dir)


def status(home=DEFAULT_HOME):
    """{'pid', 'home', 'namenode_port', 'resourcemanager_port', 'shuffle',
    'shuffle_port' (with the shuffle), 'network_namespace', 'reduce_tasks'}
    or raise ClusterError."""
    pid = _running_pid(home)
    if pid is None:
        raise ClusterError("no Hadoop mini cluster runs from %s" % home)
    paths = _paths(home)
    try:
        with open(paths["mode"], encoding="utf-8") as handle:
            details = json.load(handle)
    except (OSError, ValueError) as error:
        raise ClusterError("the Hadoop mini cluster of %s (pid %d) has no readable %s (%s): "
                           "stop it (make cluster-stop) and start it again"
                           % (home, pid, paths["mode"], error)) from None
    ours = network_namespace()
    if details["network_namespace"] != ours:
        # its servers are out of reach from here (another namespace's loopback)
        raise ClusterError(
            "the Hadoop mini cluster of %s (pid %d) runs in network namespace %s, not in this "
            "process's %s: run the command inside it (tools/hadoop/netns-run --named "
            "NAME ...) or stop it (make cluster-stop)"
            % (home, pid, details["network_namespace"], ours))
    try:
        with open(paths["details"], encoding="utf-8") as handle:
            details.update(json.load(handle))
    except FileNotFoundError:
        raise ClusterError("the Hadoop mini cluster of %s (pid %d) is still starting"
                           % (home, pid)) from None
    details.update(pid=pid, home=home)
    return details


def stop(home=DEFAULT_HOME, timeout=10):
    """Stop the cluster if it runs and put back an empty client configuration."""
    with _locked(home):
        _stop(home, timeout)


def _stop(home, timeout=10):
    paths = _paths(home)
    pid = _running_pid(home)
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _running_pid(home) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _running_pid(home):
            os.killpg(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # started by another process, which reaps it
    if os.path.exists(paths["pid"]):
        os.remove(paths["pid"])
    if os.path.isdir(paths["conf_dir"]):
        for name in SITE_FILES:
            with open(os.path.join(paths["conf_dir"], name), "w", encoding="utf-8") as handle:
                handle.write(EMPTY_CONFIGURATION)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument(
        "--home", default=DEFAULT_HOME,
        help="the tree tools/hadoop/fetch-jars filled (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            stop(args.home)
            return 0
        details = start(args.home) if args.action == "start" else status(args.home)
    except ClusterError as error:
        print("cluster: %s" % error, file=sys.stderr)
        return 1
    mode = ("shuffle, %d reducers a step by default, network namespace %s"
            % (details["reduce_tasks"], details["network_namespace"])
            if details["shuffle"] else "uber jobs, one reducer: no network namespace of its own")
    print("HADOOP_HOME=%s  (hdfs://localhost:%s, ResourceManager localhost:%s, pid %s; %s)" % (
        details["home"], details["namenode_port"], details["resourcemanager_port"],
        details["pid"], mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
