"""The resume target of issue 27: `jeeves run --score` killed while it trains, then run again.

    .venv/bin/python -m tools.resume_timing [--messages N] [--runner inline] [--keep DIR]

On the labelled SpamAssassin messages of ../shared/data/spamassassin (all
6,046 of its five folders, labelled ``spam*=1,*ham*=0``; ``--messages N``
takes the first N files of the folders in turn, copied into a temporary
corpus), with `jeeves run`'s defaults and ``--score``:

1. an uninterrupted run into ``OUT-reference``: its wall seconds and its
   train stage's seconds (summary.json);
2. the same command into ``OUT-resumed``, its process group SIGKILLed half
   the reference's training time after its labels stage ended (its progress
   line, printed once the stage's marker is written): while it trains;
3. the same command again into ``OUT-resumed``: its wall seconds and the
   stages it kept (summary.json's ``resumed``).

The target: the re-run takes at most the reference's training time plus a
fifth of the rest of its time (its wall time minus its training time), and
OUT-resumed's records, vocabulary, tf-idf vectors and scores (and model
estimator, but for scikit-learn's ``_stop_words_id``, an id() that differs
between any two processes) equal OUT-reference's. Prints one Markdown table; exits 1 when the
outputs differ. CPU heavy: about two and a half runs of the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPAMASSASSIN = os.path.join(os.path.dirname(REPO), "shared", "data", "spamassassin")
FOLDERS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")
LABELS = "spam*=1,*ham*=0"
# what must be identical: directories compared by their sorted lines, files as they are
COMPARED = ("messages", "features/tfidf", "predictions/scores", "features/vocabulary.tsv",
            "model/estimator.skops")


def corpus_of(messages, scratch):
    """The corpus folders: the shared ones, or the first ``messages`` files of
    the folders in turn, copied under ``scratch``."""
    if messages is None:
        return [os.path.join(SPAMASSASSIN, folder) for folder in FOLDERS]
    listed = {folder: sorted(os.listdir(os.path.join(SPAMASSASSIN, folder)))
              for folder in FOLDERS}
    chosen = {folder: [] for folder in FOLDERS}
    index = 0
    while sum(map(len, chosen.values())) < messages and index < max(map(len, listed.values())):
        for folder in FOLDERS:
            if index < len(listed[folder]) and sum(map(len, chosen.values())) < messages:
                chosen[folder].append(listed[folder][index])
        index += 1
    roots = []
    for folder, names in chosen.items():
        root = os.path.join(scratch, "corpus", folder)
        os.makedirs(root)
        for name in names:
            shutil.copy2(os.path.join(SPAMASSASSIN, folder, name), os.path.join(root, name))
        roots.append(root)
    return roots


def jeeves_run(inputs, out, runner, log_path, kill_after=None):
    """Run `jeeves run --score` in its own process group -> (exit status, wall seconds).
    ``kill_after``: SIGKILL the group that many seconds after the labels line."""
    env = dict(os.environ, JEEVES_HOME=REPO)
    env.setdefault("NLTK_DATA", os.path.join(REPO, ".nltk_data"))
    command = [sys.executable, "-m", "jeeves.cli", "run", "--input"] + inputs + [
        "--output", out, "--labels", LABELS, "--score", "--runner", runner]
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=REPO, start_new_session=True)
        labelled_at = None
        while kill_after is not None and process.poll() is None:
            if labelled_at is None:
                with open(log_path, encoding="utf-8", errors="replace") as progress:
                    if any(line.startswith("[") and line.split("]", 1)[1].split()[:1] == ["labels"]
                           for line in progress):
                        labelled_at = time.perf_counter()
            elif time.perf_counter() - labelled_at >= kill_after:
                os.killpg(process.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        status = process.wait()
    seconds = time.perf_counter() - started
    while True:  # the tasks may outlive the driver by a moment
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    return status, seconds


def contents(path):
    """A file's bytes (a skops file's members, see ``skops_members``), or a
    directory's part-file lines, sorted."""
    if path.endswith(".skops"):
        return skops_members(path)
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            return handle.read()
    lines = []
    for name in sorted(os.listdir(path)):
        if name.startswith("part-"):
            with open(os.path.join(path, name), "rb") as handle:
                lines += handle.read().splitlines()
    return b"\n".join(sorted(lines))


def skops_members(path):
    """{member: bytes} of a skops file, with scikit-learn's ``_stop_words_id``
    (the id() of a vectorizer's stop list at fit: a memory address, different
    in every process, uninterrupted or not) taken out of its schema."""
    def without_ids(value):
        if isinstance(value, dict):
            return {name: None if name == "_stop_words_id" else without_ids(item)
                    for name, item in value.items()}
        if isinstance(value, list):
            return [without_ids(item) for item in value]
        return value

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["schema.json"] = json.dumps(without_ids(json.loads(members["schema.json"])),
                                        sort_keys=True).encode()
    return members


def summary_of(out):
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as handle:
        return json.load(handle)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, help="the first N messages (default: all)")
    parser.add_argument("--runner", default="inline", help="jeeves run's --runner")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args(argv)
    if not os.path.isdir(SPAMASSASSIN):
        print("resume_timing: no corpus at ../shared/data/spamassassin", file=sys.stderr)
        return 2
    scratch = args.keep or tempfile.mkdtemp(prefix="jeeves-resume-timing-")
    os.makedirs(scratch, exist_ok=True)
    try:
        inputs = corpus_of(args.messages, scratch)
        reference, resumed = (os.path.join(scratch, name)
                              for name in ("OUT-reference", "OUT-resumed"))
        status, total = jeeves_run(inputs, reference, args.runner,
                                   os.path.join(scratch, "reference.log"))
        if status != 0:
            print("resume_timing: the reference run failed, see %s/reference.log" % scratch,
                  file=sys.stderr)
            return 1
        first = summary_of(reference)
        train = first["stages"]["train"]["seconds"]
        status, killed = jeeves_run(inputs, resumed, args.runner,
                                    os.path.join(scratch, "killed.log"), kill_after=train / 2)
        if status != -signal.SIGKILL:
            print("resume_timing: the run to kill ended first (%s)" % status, file=sys.stderr)
            return 1
        status, rerun = jeeves_run(inputs, resumed, args.runner,
                                   os.path.join(scratch, "rerun.log"))
        if status != 0:
            print("resume_timing: the re-run failed, see %s/rerun.log" % scratch,
                  file=sys.stderr)
            return 1
        again = summary_of(resumed)
        rest = total - train
        target = train + rest / 5
        equal = {name: contents(os.path.join(reference, name))
                 == contents(os.path.join(resumed, name)) for name in COMPARED}
        parsed = first["stages"]["parse"]
        rows = [
            ("messages", "%d read, %d parsed, %d labelled" % (
                parsed["read"], parsed["parsed"], first["stages"]["labels"]["labelled"])),
            ("runner", args.runner),
            ("uninterrupted run, wall", "%.1f s" % total),
            ("its train stage", "%.1f s" % train),
            ("the rest of its time", "%.1f s" % rest),
            ("target: train + rest / 5", "%.1f s" % target),
            ("killed run, wall until SIGKILL", "%.1f s (%.1f s into training)"
             % (killed, train / 2)),
            ("re-run, wall", "%.1f s" % rerun),
            ("re-run kept", ", ".join(again["resumed"]["kept"])),
            ("re-run recomputed", ", ".join(again["resumed"]["recomputed"])),
            ("re-run's train and score stages", "%.1f s, %.1f s" % (
                again["stages"]["train"]["seconds"], again["stages"]["score"]["seconds"])),
            ("target met", "yes" if rerun <= target else "no (%.1f s over)" % (rerun - target)),
            ("identical to the uninterrupted run", ", ".join(
                "%s %s" % (name, "yes" if same else "NO") for name, same in equal.items())),
        ]
        print("| | |\n|---|---|")
        for name, value in rows:
            print("| %s | %s |" % (name, value))
        return 0 if all(equal.values()) else 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
