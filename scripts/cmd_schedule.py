"""`jeeves schedule`: run incremental batches over date-partitioned mail on a schedule.

    jeeves schedule --input s3://B/mail/ --output s3://B/scored/ --model OUT/model \\
        [--runner emr] [--notify SPEC]... [--on-calendar '*-*-* 06:00:00' --cron '0 6 * * *']
        (--dry-run | --install systemd|cron | --run-once)

``--dry-run`` (the default) prints a cron line and a systemd user timer and
service that run ``jeeves schedule --run-once`` with the same arguments;
``--install systemd`` writes the units (``--unit-dir``, default
``~/.config/systemd/user``), ``--install cron`` adds the line to the user's
crontab (replacing an earlier jeeves line); ``--run-once`` is one batch
(scripts/batch.py): the ``dt=YYYY-MM-DD/`` partitions not done yet are
parsed on the runner (EMR: the pooled cluster), scored with the bundle,
written under the output prefix with ``_SUCCESS`` last, and notified. Exit
status: 0 when the batch succeeded or found nothing new, 1 when a partition
failed (the next run retries it). docs/emr.md has the AWS-native setup
(EventBridge Scheduler).
"""

import json
import os
import shlex
import subprocess
import sys

from jeeves.errors import UserError
from jeeves.runjob import MRJOB_CONF, RUNNERS

UNIT_NAME = "jeeves-batch"
CRON_MARKER = "# jeeves-batch"
DEFAULT_ON_CALENDAR = "*-*-* 06:00:00"
DEFAULT_CRON = "0 6 * * *"
DEFAULT_UNIT_DIR = os.path.join("~", ".config", "systemd", "user")


def add_arguments(parser):
    parser.add_argument("--input", required=True, metavar="S3_URI",
                        help="prefix holding dt=YYYY-MM-DD/ partitions of mail")
    parser.add_argument("--output", required=True, metavar="S3_URI",
                        help="prefix for dt=YYYY-MM-DD/ results and the _jeeves/ manifest")
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="the model bundle that scores new mail (OUT/model of `jeeves run`)")
    parser.add_argument("--runner", choices=RUNNERS, default="emr",
                        help="where the parse and scoring jobs run (default: %(default)s)")
    parser.add_argument("--mrjob-conf", default=MRJOB_CONF, metavar="FILE",
                        help="mrjob.conf with the runner profiles (default: the project's)")
    parser.add_argument("--notify", action="append", default=[], metavar="SPEC",
                        help="https://... webhook, smtp://HOST:PORT?from=A&to=B email, or "
                             "python:module:factory?key=value plug-in; repeatable")
    parser.add_argument("--max-partitions", type=int, metavar="N",
                        help="process at most N new partitions per run (oldest first)")
    parser.add_argument("--on-calendar", default=DEFAULT_ON_CALENDAR,
                        help="systemd OnCalendar of the timer (default: %(default)r)")
    parser.add_argument("--cron", default=DEFAULT_CRON,
                        help="the five cron time fields (default: %(default)r)")
    parser.add_argument("--unit-dir", default=DEFAULT_UNIT_DIR,
                        help="where --install writes the systemd units (default: %(default)s)")
    parser.add_argument("--log", default=os.path.join("~", ".cache", "jeeves", "batch.log"),
                        help="where the cron job appends its output; its lock file goes beside "
                             "it (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true",
                      help="print the cron line and systemd units (the default)")
    mode.add_argument("--install", choices=("systemd", "cron"),
                      help="write the systemd user units, or add the line to your crontab")
    mode.add_argument("--run-once", action="store_true", help="run one batch now")


def _check(args):
    from jeeves.batch import split_s3_uri
    from jeeves.notify import notifier_from_spec

    for name in ("input", "output"):
        try:
            split_s3_uri(getattr(args, name))
        except ValueError as error:
            raise UserError("--%s: %s" % (name, error)) from None
    if not os.path.isdir(args.model):
        raise UserError("--model: not a model bundle directory: %s" % args.model)
    if len(args.cron.split()) != 5:
        raise UserError("--cron needs the five time fields (minute hour day month weekday), "
                        "not %r" % args.cron)
    if args.max_partitions is not None and args.max_partitions < 1:
        raise UserError("--max-partitions must be at least 1")
    try:
        return [notifier_from_spec(spec) for spec in args.notify]
    except ValueError as error:
        raise UserError("--notify: %s" % error) from None


def batch_command(args):
    """The argv a scheduled run executes: this interpreter, this checkout, --run-once."""
    argv = [sys.executable, "-m", "jeeves.cli", "schedule", "--run-once",
            "--input", args.input, "--output", args.output,
            "--model", os.path.abspath(args.model), "--runner", args.runner,
            "--mrjob-conf", os.path.abspath(args.mrjob_conf)]
    for spec in args.notify:
        argv += ["--notify", spec]
    if args.max_partitions is not None:
        argv += ["--max-partitions", str(args.max_partitions)]
    return argv


def working_directory():
    """Where the scheduled command runs: the directory it was set up from
    (every path in the command is absolute; relative ones in a user's
    mrjob.conf keep their meaning)."""
    return os.getcwd()


def cron_command(args):
    """The shell command of the cron line; flock keeps a slow run from overlapping the next."""
    log = args.log.replace("~", "$HOME", 1)
    log_dir = os.path.dirname(log)
    return "mkdir -p %s && cd %s && flock -n %s/batch.lock %s >> %s 2>&1" % (
        log_dir, shlex.quote(working_directory()), log_dir, shlex.join(batch_command(args)), log)


def cron_line(args):
    """One crontab line (cron reads an unescaped % as a newline)."""
    return "%s %s %s" % (args.cron, cron_command(args).replace("%", "\\%"), CRON_MARKER)


def systemd_units(args):
    """{file name: text} of the user service and its timer."""
    # systemd reads % as a specifier: double it in the command
    exec_start = shlex.join(batch_command(args)).replace("%", "%%")
    service = "\n".join([
        "[Unit]",
        "Description=Jeeves: score new mail partitions (%s)" % args.input,
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        "WorkingDirectory=%s" % working_directory(),
        "ExecStart=%s" % exec_start,
        "",
    ])
    timer = "\n".join([
        "[Unit]",
        "Description=Jeeves: scheduled mail batches",
        "",
        "[Timer]",
        "OnCalendar=%s" % args.on_calendar,
        # a run missed while the machine was off happens at the next boot
        "Persistent=true",
        "Unit=%s.service" % UNIT_NAME,
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ])
    return {UNIT_NAME + ".service": service, UNIT_NAME + ".timer": timer}


def install_systemd(args):
    directory = os.path.expanduser(args.unit_dir)
    os.makedirs(directory, exist_ok=True)
    written = []
    for name, text in systemd_units(args).items():
        path = os.path.join(directory, name)
        with open(path, "w") as handle:
            handle.write(text)
        written.append(path)
    return written


def install_cron(args):
    """Replace the jeeves line of the user's crontab (or add it) -> the new crontab."""
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    # `crontab -l` fails when the user has no crontab yet
    lines = current.stdout.splitlines() if current.returncode == 0 else []
    lines = [line for line in lines if not line.rstrip().endswith(CRON_MARKER)]
    lines.append(cron_line(args))
    text = "\n".join(lines) + "\n"
    subprocess.run(["crontab", "-"], input=text, text=True, check=True)
    return text


def run_once(args, notifiers):
    import boto3

    from jeeves.batch import parse_and_score, run_batch
    from jeeves.pipeline.engine import Engine

    summary = run_batch(boto3.client("s3"), args.input, args.output,
                        parse_and_score(args.model, Engine(args.runner, args.mrjob_conf)),
                        notifiers, max_partitions=args.max_partitions)
    print(json.dumps(summary, sort_keys=True))
    return 1 if summary["status"] == "failed" else 0


def run(args):
    notifiers = _check(args)
    if args.run_once:
        return run_once(args, notifiers)
    if args.install == "systemd":
        for path in install_systemd(args):
            print("wrote %s" % path)
        print("enable with: systemctl --user daemon-reload && "
              "systemctl --user enable --now %s.timer" % UNIT_NAME)
        return 0
    if args.install == "cron":
        install_cron(args)
        print("crontab: %s" % cron_line(args))
        return 0
    print("# cron (crontab -e):")
    print(cron_line(args))
    for name, text in systemd_units(args).items():
        print("\n# %s (%s/%s)" % (name, args.unit_dir, name))
        print(text, end="")
    print("\n# AWS-native: EventBridge Scheduler, see docs/emr.md")
    return 0
