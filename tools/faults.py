"""Fault injection from outside a job: find and kill the Python processes of
MapReduce task attempts, and read back what the job history says happened.

    python -m tools.faults list [--env NAME=VALUE ...]
    python -m tools.faults kill ATTEMPT_GLOB [--env NAME=VALUE ...]
    python -m tools.faults history JOB_ID [--conf-dir HADOOP_CONF_DIR]

A task attempt of a Hadoop streaming job runs in a YARN container: the
NodeManager starts the container's JVM, which starts the job's Python
process (through mrjob's setup wrapper). Streaming exports the job's
configuration to that process's environment with dots turned into
underscores (``mapreduce_task_attempt_id=attempt_..._m_000000_0``,
``mapreduce_job_tags``, ...), and the NodeManager adds ``CONTAINER_ID``. So
the Python process of an attempt is found by scanning ``/proc`` for python
processes whose environment names an attempt id (reading another process's
environment takes the same user or root), and killed with SIGKILL, as a
lost node or the kernel's OOM killer would. Nothing in the job knows.

``history`` reads every attempt of a finished job from the job's history
file, which the ApplicationMaster leaves in
``<yarn.app.mapreduce.am.staging-dir>/history/done_intermediate/<user>/``
(read over WebHDFS; the JobHistory server moves it on minutes later): its
state (SUCCEEDED, FAILED, KILLED), whether it was speculative (started
while an earlier attempt of its task still ran) and the first line of the
diagnostics Hadoop gave. The job must have run with
``mapreduce.jobhistory.jhist.format=json`` (the default is binary Avro).
docs/engines.md ("Faults") shows them used on the local cluster.
"""

import argparse
import fnmatch
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

ATTEMPT_VARIABLE = "mapreduce_task_attempt_id"


@dataclass(frozen=True)
class TaskProcess:
    """The Python process of a running task attempt."""

    pid: int
    attempt: str
    container: str
    environment: dict

    @property
    def kind(self):
        """"map" or "reduce" (the attempt id's ``_m_`` or ``_r_``)."""
        return {"m": "map", "r": "reduce"}.get(self.attempt.split("_")[-3], "other")


def _environment(pid):
    with open("/proc/%s/environ" % pid, "rb") as handle:
        data = handle.read()
    pairs = (item.split(b"=", 1) for item in data.split(b"\0") if b"=" in item)
    return {name.decode("utf-8", "replace"): value.decode("utf-8", "replace")
            for name, value in pairs}


def _is_python(pid):
    with open("/proc/%s/comm" % pid, "rb") as handle:
        return handle.read().strip().startswith(b"python")


def task_processes(match=None):
    """[TaskProcess] of the running Python processes of task attempts whose
    environment holds every NAME=VALUE of ``match`` (a dict)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if not _is_python(entry):
                continue
            environment = _environment(entry)
        except OSError:  # gone meanwhile, or not ours to read
            continue
        attempt = environment.get(ATTEMPT_VARIABLE)
        if not attempt or any(environment.get(name) != value
                              for name, value in (match or {}).items()):
            continue
        found.append(TaskProcess(int(entry), attempt, environment.get("CONTAINER_ID", ""),
                                 environment))
    return sorted(found, key=lambda process: (process.attempt, process.pid))


def kill(process):
    """SIGKILL a task's Python process; False when it had already ended."""
    try:
        os.kill(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def kill_attempts(pattern, match=None):
    """SIGKILL the Python process of every running attempt whose id matches
    the glob ``pattern`` (and whose environment holds ``match``); return
    the TaskProcesses killed."""
    return [process for process in task_processes(match)
            if fnmatch.fnmatchcase(process.attempt, pattern) and kill(process)]


def _get_json(url, timeout=30):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def _unwrap(value):
    """An Avro-JSON union value ({"string": "x"}) -> its value."""
    if isinstance(value, dict) and len(value) == 1:
        (name, inner), = value.items()
        if name in ("string", "int", "long", "boolean", "float", "double"):
            return inner
    return value


def history_events(text):
    """[(event type, {field: value})] of a job history file in Avro-JSON
    (``mapreduce.jobhistory.jhist.format=json``): a line ``Avro-Json``, the
    schema, then one event a line."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "Avro-Json":
        raise ValueError("not a JSON job history file (run the job with "
                         "mapreduce.jobhistory.jhist.format=json)")
    events = []
    for line in lines[2:]:
        if line.strip():
            event = json.loads(line)
            (_, fields), = event["event"].items()
            events.append((event["type"], {name: _unwrap(value)
                                           for name, value in fields.items()}))
    return events


def job_attempts(events):
    """[{"attempt", "task", "type", "state", "speculative", "diagnostics"}] of
    every attempt of a job, in start order, from its history events. An
    attempt is speculative when it started while an earlier attempt of its
    task still ran (a retry starts after the failed one ended)."""
    attempts = {}
    for kind, fields in events:
        if not kind.endswith(("_ATTEMPT_STARTED", "_ATTEMPT_FINISHED", "_ATTEMPT_FAILED",
                              "_ATTEMPT_KILLED")) or kind.startswith(("SETUP", "CLEANUP")):
            continue
        attempt = attempts.setdefault(fields["attemptId"], {
            "attempt": fields["attemptId"], "task": fields["taskid"],
            "type": fields["taskType"], "state": "RUNNING", "speculative": False,
            "diagnostics": [], "start": None, "finish": None})
        if kind.endswith("_STARTED"):
            attempt["start"] = fields["startTime"]
        else:
            attempt["finish"] = fields["finishTime"]
            attempt["state"] = fields.get("taskStatus") or fields.get("status")
            if fields.get("error"):
                attempt["diagnostics"] = fields["error"].strip().splitlines()[:1]
    # an attempt killed before it started (a speculative one no longer needed)
    # has no start event: it comes last and was never speculative
    def started(attempt):
        return (attempt["start"] is None, attempt["start"] or 0)

    ordered = sorted(attempts.values(), key=lambda attempt: (attempt["task"], started(attempt)))
    for attempt in ordered:
        attempt["speculative"] = attempt["start"] is not None and any(
            other["task"] == attempt["task"] and other["start"] is not None
            and other["start"] < attempt["start"]
            and (other["finish"] is None or other["finish"] > attempt["start"])
            for other in ordered if other is not attempt)
    return [{key: value for key, value in attempt.items() if key not in ("start", "finish")}
            for attempt in sorted(ordered, key=started)]


def read_history(webhdfs_url, directory, job_id, user, timeout=60):
    """The text of a finished job's history file, read over WebHDFS from
    ``directory`` (where the ApplicationMaster leaves it:
    ``<yarn.app.mapreduce.am.staging-dir>/history/done_intermediate/<user>``),
    waiting up to ``timeout`` seconds for it to appear."""
    base = "%s/webhdfs/v1%s" % (webhdfs_url.rstrip("/"), directory)
    deadline = time.monotonic() + timeout
    while True:
        try:
            listing = _get_json("%s?op=LISTSTATUS&user.name=%s" % (base, user))
            names = [status["pathSuffix"] for status in listing["FileStatuses"]["FileStatus"]
                     if status["pathSuffix"].startswith(job_id + "-")
                     and status["pathSuffix"].endswith(".jhist")]
        except urllib.error.HTTPError:
            names = []
        if names:
            break
        if time.monotonic() > deadline:
            raise FileNotFoundError("no history file of %s in %s" % (job_id, directory))
        time.sleep(1)
    url = "%s/%s?op=OPEN&user.name=%s" % (base, names[0], user)
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read().decode("utf-8")


def site_value(conf_dir, name):
    """A property of a Hadoop client configuration directory's *-site.xml files."""
    import glob
    import xml.etree.ElementTree as ElementTree

    for path in sorted(glob.glob(os.path.join(conf_dir, "*-site.xml"))):
        for prop in ElementTree.parse(path).getroot().iter("property"):
            if prop.findtext("name") == name:
                return prop.findtext("value")
    raise KeyError("no %s in %s" % (name, conf_dir))


def tagged_jobs(resourcemanager_url, tag):
    """The MapReduce job ids of the YARN applications tagged ``tag``
    (``mapreduce.job.tags``; YARN keeps tags in lower case), oldest first."""
    found = _get_json(resourcemanager_url.rstrip("/") + "/ws/v1/cluster/apps").get("apps") or {}
    applications = [app for app in found.get("app") or []
                    if tag.lower() in app.get("applicationTags", "").split(",")]
    return [app["id"].replace("application_", "job_", 1)
            for app in sorted(applications, key=lambda app: app["startedTime"])]


def cluster_history(conf_dir, job_id, user=None, timeout=60):
    """A finished job's history file, found from a client configuration."""
    import getpass

    user = user or getpass.getuser()
    staging = site_value(conf_dir, "yarn.app.mapreduce.am.staging-dir")
    return read_history("http://" + site_value(conf_dir, "dfs.namenode.http-address"),
                        "%s/history/done_intermediate/%s" % (staging, user), job_id, user,
                        timeout)


def _match(pairs):
    match = {}
    for pair in pairs or ():
        name, _, value = pair.partition("=")
        match[name] = value
    return match


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.faults", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the running attempts' Python processes")
    killing = commands.add_parser("kill", help="SIGKILL the Python process of attempts")
    killing.add_argument("pattern", help="glob of attempt ids, e.g. '*_m_000000_0'")
    for command in (listing, killing):
        command.add_argument("--env", action="append", metavar="NAME=VALUE",
                             help="only processes whose environment holds this (repeat)")
    history = commands.add_parser("history", help="every attempt of a finished job")
    history.add_argument("job_id")
    history.add_argument("--conf-dir", default=os.path.join(
        os.environ.get("HADOOP_HOME", ""), "etc", "hadoop"),
        help="the Hadoop client configuration (default: $HADOOP_HOME/etc/hadoop)")
    args = parser.parse_args(argv)
    if args.command == "history":
        for attempt in job_attempts(history_events(cluster_history(args.conf_dir, args.job_id))):
            print(json.dumps(attempt, sort_keys=True))
        return 0
    if args.command == "list":
        processes = task_processes(_match(args.env))
    else:
        processes = kill_attempts(args.pattern, _match(args.env))
    for process in processes:
        print("%d\t%s\t%s" % (process.pid, process.attempt, process.container))
    return 0


if __name__ == "__main__":
    sys.exit(main())
