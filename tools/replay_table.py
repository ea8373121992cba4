"""The replay table: (1-ROCA)% of `jeeves replay` for each feedback mode and model.

    python -m tools.replay_table --output /tmp/replay-table
    python -m tools.replay_table --output OUT --feedback immediate delayed:500 \\
        --model online batch:500 --parallel 2 \\
        --input ../shared/data/spamassassin/spam-1 ../shared/data/spamassassin/easy-ham-1 \\
                ../shared/data/spamassassin/spam-2 ../shared/data/spamassassin/easy-ham-2

Each cell is one `jeeves replay ... --output OUT/<feedback>_<model>` process
(``--parallel`` of them at a time); the table, in Markdown, is printed and
written to OUT/table.md. Defaults: the shared SpamAssassin corpora of the
issue (spam-1 and easy-ham-1, spam-2 and easy-ham-2, in delivery order),
labels ``spam*=1,*ham*=0``, feedback ``immediate`` and ``delayed:500``,
models ``online`` and ``batch:500``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPAMASSASSIN = os.path.join(os.path.dirname(REPO), "shared", "data", "spamassassin")
DEFAULT_INPUTS = [os.path.join(SPAMASSASSIN, folder)
                  for folder in ("spam-1", "easy-ham-1", "spam-2", "easy-ham-2")]


def cell_directory(output, feedback, model):
    return os.path.join(output, "%s_%s" % (feedback.replace(":", "-"), model.replace(":", "-")))


def run_cell(args, feedback, model):
    """Run one replay; (feedback, model, summary, wall seconds)."""
    directory = cell_directory(args.output, feedback, model)
    started = time.time()
    subprocess.run([sys.executable, "-m", "jeeves.cli", "replay", "--input", *args.input,
                    "--labels", args.labels, "--feedback", feedback, "--model", model,
                    "--output", directory], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(directory, "summary.json")) as handle:
        return feedback, model, json.load(handle), time.time() - started


def table(cells):
    lines = ["| feedback | model | messages (spam / ham) | (1-ROCA)% | 95% interval | errors "
             "(FP / FN) | seconds |", "|---|---|---|---|---|---|---|"]
    for feedback, model, summary, seconds in cells:
        measure = summary["one_minus_roca_percent"]
        lines.append("| %s | %s | %d (%d / %d) | %.3f | %.3f - %.3f | %d (%d / %d) | %.0f |" % (
            feedback, model, summary["messages"], summary["positive"], summary["negative"],
            measure["value"], measure["low"], measure["high"], summary["errors"],
            summary["false_positives"], summary["false_negatives"], seconds))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--input", nargs="+", default=DEFAULT_INPUTS)
    parser.add_argument("--labels", default="spam*=1,*ham*=0")
    parser.add_argument("--feedback", nargs="+", default=["immediate", "delayed:500"])
    parser.add_argument("--model", nargs="+", default=["online", "batch:500"])
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args(argv)
    missing = [path for path in args.input if not os.path.exists(path)]
    if missing:
        parser.exit(2, "replay_table: input not found: %s\n" % ", ".join(missing))
    pairs = [(feedback, model) for model in args.model for feedback in args.feedback]
    with ThreadPoolExecutor(max(1, args.parallel)) as pool:
        cells = list(pool.map(lambda pair: run_cell(args, *pair), pairs))
    text = table(cells)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "table.md"), "w") as handle:
        handle.write(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
