"""`jeeves schedule`: the printed schedule, its install paths, and the scheduled command itself."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from jeeves import batch, cli, cmd_schedule
from tests.emr.test_batch import MEETING, OTHER, email


def schedule_args(model, *extra):
    return ["schedule", "--input", "s3://bucket/mail/", "--output", "s3://bucket/scored/",
            "--model", model, *extra]


def test_dry_run_prints_cron_and_systemd_units(tmp_path, capsys):
    assert cli.main(schedule_args(str(tmp_path), "--notify", "https://hooks.example/x?k=%20",
                                  "--cron", "15 5 * * 1-5", "--dry-run")) == 0
    printed = capsys.readouterr().out
    [cron] = [line for line in printed.splitlines() if line.endswith(cmd_schedule.CRON_MARKER)]
    assert cron.startswith("15 5 * * 1-5 ")
    # cron turns a bare % into a newline; systemd reads %x as a specifier
    assert "k=\\%20" in cron
    assert "ExecStart=" in printed and "k=%%20" in printed
    assert "OnCalendar=*-*-* 06:00:00" in printed and "Persistent=true" in printed
    assert "--run-once" in cron and "--runner emr" in cron


def test_bad_arguments_are_one_line(tmp_path, capsys):
    assert cli.main(schedule_args(str(tmp_path / "missing"))) == 2
    assert cli.main(["schedule", "--input", "/local/mail", "--output", "s3://b/o/",
                     "--model", str(tmp_path)]) == 2
    assert cli.main(schedule_args(str(tmp_path), "--cron", "daily")) == 2
    assert cli.main(schedule_args(str(tmp_path), "--notify", "ftp://x")) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 4 and all(line.startswith("jeeves schedule: error:") for line in errors)


def test_install_systemd_writes_the_units(tmp_path, capsys):
    unit_dir = tmp_path / "units"
    assert cli.main(schedule_args(str(tmp_path), "--install", "systemd",
                                  "--unit-dir", str(unit_dir))) == 0
    assert sorted(os.listdir(unit_dir)) == ["jeeves-batch.service", "jeeves-batch.timer"]
    service = (unit_dir / "jeeves-batch.service").read_text()
    assert "Type=oneshot" in service and "--run-once" in service
    if shutil.which("systemd-analyze"):
        # the units parse (the exit status also covers unrelated system units)
        checked = subprocess.run(["systemd-analyze", "verify", "--user",
                                  str(unit_dir / "jeeves-batch.timer")],
                                 capture_output=True, text=True)
        assert "jeeves-batch" not in checked.stderr, checked.stderr


def test_install_cron_replaces_its_own_line(tmp_path, monkeypatch):
    """A stand-in `crontab` on PATH keeps the table in a file."""
    table = tmp_path / "crontab.txt"
    table.write_text("0 1 * * * backup.sh\n0 2 * * * old jeeves # jeeves-batch\n")
    fake = tmp_path / "bin" / "crontab"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nif [ "$1" = -l ]; then cat "%s"; else cat > "%s"; fi\n'
                    % (table, table))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (fake.parent, os.environ["PATH"]))
    assert cli.main(schedule_args(str(tmp_path), "--install", "cron")) == 0
    lines = table.read_text().splitlines()
    assert lines[0] == "0 1 * * * backup.sh"
    assert len(lines) == 2 and "--run-once" in lines[1]


def test_the_scheduled_command_runs_a_batch(s3, bundle, tmp_path, aws_env):
    """The cron line's own shell command, run by sh, scores a partition in moto S3."""
    if not shutil.which("flock"):
        pytest.skip("flock (util-linux) not found")
    bucket = "sched-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    for number, body in enumerate([MEETING, OTHER]):
        s3.put_object(Bucket=bucket, Key="mail/dt=2026-11-20/m%d.eml" % number,
                      Body=email("2026-11-20", number, body))
    parser = cli.build_parser()
    args = parser.parse_args(["schedule", "--input", "s3://%s/mail/" % bucket,
                              "--output", "s3://%s/scored/" % bucket, "--model", bundle,
                              "--runner", "inline", "--log", str(tmp_path / "log" / "b.log")])
    assert cmd_schedule.batch_command(args)[0] == sys.executable
    env = dict(os.environ, AWS_ENDPOINT_URL_S3=aws_env, HOME=str(tmp_path))
    subprocess.run(["sh", "-c", cmd_schedule.cron_command(args)], env=env, check=True)
    assert sorted(os.listdir(tmp_path / "log")) == ["b.log", "batch.lock"]
    summary = json.loads((tmp_path / "log" / "b.log").read_text().splitlines()[-1])
    assert summary["status"] == "ok" and summary["processed"] == ["2026-11-20"]
    flagged = batch.read_flagged(s3, "s3://%s/scored/" % bucket, "2026-11-20")
    assert [row["message_id"] for row in flagged] == ["2026-11-20-0@week.example.com"]
    s3.head_object(Bucket=bucket, Key="scored/dt=2026-11-20/_SUCCESS")
