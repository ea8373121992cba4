"""The replay table: (1-ROCA)% of `jeeves replay` for each feedback mode and model.

    python -m tools.replay_table --output /tmp/replay-table
    python -m tools.replay_table --output OUT --feedback immediate delayed:500 \\
        --model online batch:500 --parallel 2 \\
        --input ../shared/data/spamassassin/spam-1 ../shared/data/spamassassin/easy-ham-1 \\
        --input ../shared/data/spamassassin/spam-2 ../shared/data/spamassassin/easy-ham-2

``--sweep`` instead measures the online model's settings in one process
(the mail read once), immediate feedback: each setting of
jeeves.models.online.DEFAULTS varied alone around the defaults.

Each cell is one `jeeves replay ... --output OUT/<feedback>_<model>` process
(``--parallel`` of them at a time); the table, in Markdown, is printed and
written to OUT/table.md. Defaults: the shared SpamAssassin corpora of the
issue, two periods (``--input`` twice: spam-1 and easy-ham-1 in delivery
order, then spam-2 and easy-ham-2 in delivery order),
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
DEFAULT_PERIODS = [[os.path.join(SPAMASSASSIN, folder) for folder in period]
                   for period in (("spam-1", "easy-ham-1"), ("spam-2", "easy-ham-2"))]


def cell_directory(output, feedback, model):
    return os.path.join(output, "%s_%s" % (feedback.replace(":", "-"), model.replace(":", "-")))


def run_cell(args, feedback, model):
    """Run one replay; (feedback, model, summary, wall seconds)."""
    directory = cell_directory(args.output, feedback, model)
    started = time.time()
    inputs = [argument for period in args.input for argument in ("--input", *period)]
    subprocess.run([sys.executable, "-m", "jeeves.cli", "replay", *inputs,
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


SWEEP = {
    "max_bytes": (2500, 3000, 4000, 6000),
    "learning_rate": (0.002, 0.005, 0.01, 0.02),
    "confident": (0.9, 0.95, 0.99, 1.0),
    "n_features": (2 ** 18, 2 ** 20, 2 ** 22),
}


def sweep(args):
    """(setting, value, (1-ROCA)%, errors) rows, the online model under immediate feedback."""
    from jeeves.models import replay
    from jeeves.models.labels import labeller_from_spec
    from jeeves.models.online import DEFAULTS

    messages, _ = replay.read_periods(args.input, labeller_from_spec(args.labels))
    lines = ["| setting | value | (1-ROCA)% | errors |", "|---|---|---|---|"]
    for name, values in SWEEP.items():
        for value in values:
            result = replay.replay(messages, online_options={name: value})
            lines.append("| %s | %s%s | %.4f | %d |" % (
                name, value, " (default)" if value == DEFAULTS[name] else "",
                replay.one_minus_roca_percent(result.labels, result.scores),
                replay.errors_at(result.labels, result.scores).sum()))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--input", nargs="+", action="append",
                        help="a period's mail (repeat for periods; default: SpamAssassin's two)")
    parser.add_argument("--labels", default="spam*=1,*ham*=0")
    parser.add_argument("--feedback", nargs="+", default=["immediate", "delayed:500"])
    parser.add_argument("--model", nargs="+", default=["online", "batch:500"])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--sweep", action="store_true",
                        help="the online model's settings, one at a time (table -> OUT/sweep.md)")
    args = parser.parse_args(argv)
    args.input = args.input or DEFAULT_PERIODS
    missing = [path for period in args.input for path in period if not os.path.exists(path)]
    if missing:
        parser.exit(2, "replay_table: input not found: %s\n" % ", ".join(missing))
    if args.sweep:
        text = sweep(args)
        os.makedirs(args.output, exist_ok=True)
        with open(os.path.join(args.output, "sweep.md"), "w") as handle:
            handle.write(text)
        print(text, end="")
        return 0
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
