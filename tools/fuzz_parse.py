"""Coverage-guided fuzzing of the parser with atheris (libFuzzer), outside `make test`.

Every input goes through ``jeeves.features.mailformats.iter_found`` and
``jeeves.features.parsing.outcome_of``, as in a parse task. A crash is an exception
out of either, an input that yields no item (not accounted), a record that
does not encode to UTF-8, or a message the parser failed on (quarantined as
``parse_error``: outcome_of hides the exception from the job, not from the
fuzzer). libFuzzer writes the crashing input to ``crash-<sha1>`` in the
current directory and prints the execution count (``Done N runs``).

The seed corpus is real mail: messages of ../shared/data (SpamAssassin,
Berkeley, Enron mbox) and tests/fixtures/mail, whole and in mbox, gzip, bz2
and tar containers, written to a scratch directory libFuzzer grows.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python tools/fuzz_parse.py --seconds 600 [--corpus DIR] [-- LIBFUZZER_FLAGS]

``--replay FILE...`` runs saved inputs (crash files) once each and prints
their outcomes. Without atheris (other Pythons), the hypothesis tests give a
long run: ``JEEVES_FUZZ_EXAMPLES=20000 pytest tests/features/test_fuzz_parsing.py``.
"""

import argparse
import bz2
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile

import atheris

with atheris.instrument_imports(include=["features", "email"]):
    from jeeves.features.mailformats import iter_found
    from jeeves.features.parsing import outcome_of

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(REPO), "shared", "data")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "mail")
MAX_INPUT_BYTES = 256 * 1024


class NotAccounted(Exception):
    """The parser lost an input or failed on a message."""


def check_one_input(data):
    """The fuzz target: raise on anything a parse task must not do."""
    items = list(iter_found(data, "file:///fuzz/input", "fuzz/input"))
    if not items:
        raise NotAccounted("no item for a %d-byte input" % len(data))
    for found in items:
        kind, record, _ = outcome_of(found)
        json.dumps(record, ensure_ascii=False).encode("utf-8")
        if kind == "quarantine" and record["reason"] == "parse_error":
            raise NotAccounted("parse_error: %s" % record["detail"])


def _files(directory, pattern_suffix, limit):
    if not os.path.isdir(directory):
        return []
    names = sorted(name for name in os.listdir(directory) if name.endswith(pattern_suffix))
    return [os.path.join(directory, name) for name in names[:limit]]


def seed_inputs():
    """Real messages, whole and in containers."""
    paths = _files(FIXTURES, ".eml", 100)
    for group in ("easy-ham-1", "hard-ham-1", "spam-1", "spam-2"):
        paths += _files(os.path.join(DATA, "spamassassin", group), ".txt", 40)
    paths += _files(os.path.join(DATA, "enron-berkeley", "1"), ".txt", 40)
    messages = []
    for path in paths:
        with open(path, "rb") as handle:
            messages.append(handle.read()[:MAX_INPUT_BYTES])
    mbox_path = os.path.join(DATA, "enron-mbox", "allen-p.inbox.mbox.gz")
    if os.path.exists(mbox_path):
        with open(mbox_path, "rb") as handle:
            content = gzip.decompress(handle.read())[:MAX_INPUT_BYTES]
        messages += [b"From " + part for part in content.split(b"\nFrom ")[1:40]]
    seeds = list(messages)
    for start in range(0, min(len(messages), 40), 5):
        group = messages[start:start + 5]
        mbox = b"".join(b"From fuzz@example.com Mon Jan  1 00:00:00 2001\n" + message
                        + b"\n" for message in group)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for number, message in enumerate(group):
                info = tarfile.TarInfo("fuzz/%d.eml" % number)
                info.size = len(message)
                archive.addfile(info, io.BytesIO(message))
        seeds += [mbox, gzip.compress(mbox, mtime=0), bz2.compress(mbox), buffer.getvalue()]
    return seeds


def write_seed_corpus(directory):
    os.makedirs(directory, exist_ok=True)
    for data in seed_inputs():
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(data)
    return directory


def replay(paths):
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            check_one_input(data)
            print("%s: ok" % path)
        except Exception as error:  # report every kind of failure, then go on
            print("%s: %s: %s" % (path, type(error).__name__, error))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=600, help="total fuzzing time")
    parser.add_argument("--corpus", help="corpus directory to use and grow "
                                         "(default: a scratch directory with the seeds)")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="run saved inputs once")
    args = parser.parse_args(argv)
    if args.replay:
        replay(args.replay)
        return 0
    corpus = args.corpus or tempfile.mkdtemp(prefix="jeeves-fuzz-")
    if not os.path.isdir(corpus) or not os.listdir(corpus):
        write_seed_corpus(corpus)
    libfuzzer = [sys.argv[0], corpus, "-max_total_time=%d" % args.seconds,
                 "-max_len=%d" % MAX_INPUT_BYTES, "-print_final_stats=1", *extra]
    atheris.Setup(libfuzzer, check_one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
