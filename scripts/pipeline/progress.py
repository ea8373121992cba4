"""Live progress of a running job, on the driver's stderr (docs/pipeline.md).

- inline and local runners, on a terminal: a tqdm bar of the input bytes
  the job's first-step map tasks have read. The tasks report them as Hadoop
  streaming counter lines (jobs.CountedJob, group ``progress``) in their
  stderr, which mrjob's sim runners write to files under the run's local
  tmp dir; a driver thread follows those files. Nothing when not a terminal.
- hadoop, spark, emr: the map and reduce percentages mrjob logs through the
  ``mrjob`` logger while a step runs (``map 50% reduce 0%``, EMR's ``50.0%
  complete``), on one updating line on a terminal, as plain lines (one per
  change, no carriage returns) otherwise.

``watch(runner, job_class, inputs, stream)`` gives what Engine.run wraps a
job in; every watcher is stopped (its thread joined, its handler removed)
when the job ends or fails.
"""

from __future__ import annotations

import contextlib
import glob
import io
import logging
import os
import re
import shutil
import tempfile
import threading

from jeeves.jobs import PROGRESS_BYTES, PROGRESS_GROUP

# what mrjob's sim runners name a task's stderr: <local tmp dir>/<job key>/step/NNN/...
FIRST_STEP_MAPPER_STDERR = os.path.join("*", "step", "000", "mapper", "*", "stderr")
COUNTER_LINE = re.compile(rb"^reporter:counter:%s,%s,(\d+)\s*$"
                          % (PROGRESS_GROUP.encode(), PROGRESS_BYTES.encode()))
# YARN's job progress as mrjob relays it (mrjob/logs/step.py's _JOB_PROGRESS_RE)
MAP_REDUCE_PERCENT = re.compile(r"^\s*map\s+(\d+)%\s+reduce\s+(\d+)%\s*$")
# EMR's step progress from the resource manager (mrjob/emr.py)
PERCENT_COMPLETE = re.compile(r"^\s*(\d+(?:\.\d+)?)% complete\s*$")
RUNNING_STEP = re.compile(r"^Running step (\d+) of (\d+)")
POLL_SECONDS = 0.2


class _NoProgress:
    job_args = ()

    def finish(self, counters):
        pass


class TaskFileProgress:
    """A tqdm bar of input bytes read, from the tasks' stderr files under
    ``root`` (the job's ``--local-tmp-dir``). ``start``/``stop`` run and
    join the following thread; ``finish(counters)`` sets the bar to the
    job's own final count before it closes."""

    def __init__(self, description, total, root, stream):
        from tqdm import tqdm

        self.root = root
        self.job_args = ("--local-tmp-dir", root)
        self.bar = tqdm(total=total, desc=description, unit="B", unit_scale=True,
                        file=stream, mininterval=POLL_SECONDS, leave=True,
                        **_screen(stream))
        self.done = 0
        self._files = {}  # stderr path -> [offset, unfinished line]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="jeeves-progress",
                                        daemon=True)

    def start(self):
        self._thread.start()

    def _follow(self):
        while not self._stopping.wait(POLL_SECONDS):
            self.poll()

    def poll(self):
        """Read what the tasks wrote since the last poll; move the bar."""
        read = 0
        for path in glob.glob(os.path.join(self.root, FIRST_STEP_MAPPER_STDERR)):
            state = self._files.setdefault(path, [0, b""])
            try:
                if os.path.getsize(path) == state[0]:
                    continue  # nothing new: no open per finished task and poll
                with open(path, "rb") as handle:
                    handle.seek(state[0])
                    data = handle.read()
            except OSError:  # the runner cleans its tmp dir up at the end
                continue
            state[0] += len(data)
            lines = (state[1] + data).split(b"\n")
            state[1] = lines.pop()
            for line in lines:
                matched = COUNTER_LINE.match(line)
                if matched:
                    read += int(matched.group(1))
        self._advance(read)

    def _advance(self, count):
        if count:
            self.done += count
            if self.done > self.bar.total:
                self.bar.total = self.done
            self.bar.update(count)

    def finish(self, counters):
        """The job ended well: its summed counters give the exact count."""
        self.stop()
        self._advance(counters.get(PROGRESS_GROUP, {}).get(PROGRESS_BYTES, 0) - self.done)

    def stop(self):
        if self._thread.is_alive():
            self._stopping.set()
            self._thread.join()

    def close(self):
        self.stop()
        self.bar.close()


class EngineProgress(logging.Handler):
    """Turns mrjob's log records of a cluster step's progress into one
    updating line (``stream`` a terminal) or plain lines, one per change."""

    def __init__(self, description, stream, terminal):
        super().__init__(level=logging.INFO)
        self.description = description
        self.stream = stream
        self.terminal = terminal
        self.step = ""
        self.shown = None
        self._width = 0

    def emit(self, record):
        message = record.getMessage().strip()
        step = RUNNING_STEP.match(message)
        if step:
            self.step = " step %s/%s" % step.groups()
            return
        percents = MAP_REDUCE_PERCENT.match(message)
        complete = PERCENT_COMPLETE.match(message)
        if percents:
            text = "map %s%% reduce %s%%" % percents.groups()
        elif complete:
            text = "%s%% complete" % complete.group(1)
        else:
            return
        self.show("%s%s: %s" % (self.description, self.step, text))

    def show(self, line):
        if line == self.shown:
            return
        self.shown = line
        if self.terminal:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = max(self._width, len(line))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        """Leave the updating line behind with its newline."""
        if self.terminal and self.shown is not None:
            self.stream.write("\n")
            self.stream.flush()
        super().close()


def _screen(stream):
    """tqdm's ncols and nrows: the terminal's, or 80x24 where it says 0x0 (a
    fresh pty), for which tqdm would hide its bar."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return {}
    return {"ncols": size.columns or 80, "nrows": size.lines or 24}


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def watch(runner, job_class, inputs, stream, enabled=None):
    """Show the live progress of one job run on ``runner`` (module docstring).

    ``enabled``: None shows it on a terminal (any runner) and as plain lines
    on a cluster runner otherwise; False never; True always. Yields a watcher:
    pass its ``job_args`` to the job and call ``finish(counters)`` when the
    job has ended well.
    """
    terminal = _is_terminal(stream)
    name = job_class.__name__
    if enabled is False:
        yield _NoProgress()
    elif runner in ("inline", "local"):
        if not (terminal or enabled):
            yield _NoProgress()
            return
        total = getattr(job_class, "progress_total", None)
        if total is None:  # not a jobs.CountedJob: its tasks report nothing
            yield _NoProgress()
            return
        root = tempfile.mkdtemp(prefix="jeeves-progress-")
        watcher = TaskFileProgress(name, total(inputs), root, stream)
        try:
            watcher.start()
            yield watcher
        finally:
            watcher.close()
            shutil.rmtree(root, ignore_errors=True)
    else:
        handler = EngineProgress(name, stream, terminal)
        mrjob_log = logging.getLogger("mrjob")
        level = mrjob_log.level
        # mrjob logs progress at INFO; the logger passes nothing under WARNING by default
        if mrjob_log.getEffectiveLevel() > logging.INFO:
            mrjob_log.setLevel(logging.INFO)
        mrjob_log.addHandler(handler)
        try:
            yield _NoProgress()
        finally:
            mrjob_log.removeHandler(handler)
            mrjob_log.setLevel(level)
            handler.close()
