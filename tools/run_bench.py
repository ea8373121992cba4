"""`make bench`: every stage against its reference on a prefix of the Enron mbox.

    python -m tools.run_bench --mb 64 [--scaling] [--runners inline,local] [--no-spark]
    python -m tools.run_bench --full [--sizes 110,220,440] [--full-runners local,hadoop]

Tooling, run from a checkout (it reads ../shared/data): not installed with
the package.

Runs tools/bench.py (see its docstring and ../shared/docs/perf.md),
prints the Markdown tables and writes bench/results.json. With --full,
runs tools/bench_full.py instead: `jeeves run` on Enron prefixes and the
whole corpus, local runner against Hadoop with HDFS input and output
(docs/perf-results.md), and writes bench/full.json.
"""

import argparse
import sys

from jeeves.errors import UserError
from tools import bench, bench_full

RUNNERS = ("inline", "local")


def add_arguments(parser):
    parser.add_argument("--mb", type=int, default=64,
                        help="MB of uncompressed Enron mbox, whole files in name order "
                             "(default: %(default)s)")
    parser.add_argument("--scaling", action="store_true",
                        help="also run the project's stages at 2x and 4x the input")
    parser.add_argument("--runners", default="inline,local",
                        help="comma-separated runners among %s (default: %%(default)s)"
                             % ", ".join(RUNNERS))
    parser.add_argument("--no-spark", dest="spark", action="store_false",
                        help="leave the Spark ML reference out")
    parser.add_argument("--repeats", type=int, default=bench.END_TO_END_REPEATS,
                        help="runs of the end-to-end stage and of its references, of which "
                             "the median counts; each local run is paired with a fit of "
                             "its target's reference (default: %(default)s)")
    parser.add_argument("--results", default=bench.RESULTS,
                        help="where the figures are written (default: bench/results.json)")
    parser.add_argument("--full", action="store_true",
                        help="the full-corpus run (tools/bench_full.py): the options below "
                             "apply, the ones above do not")
    bench_full.add_arguments(parser)


def run(args):
    if args.full:
        try:
            return bench_full.main_with(args)
        except (ValueError, RuntimeError) as error:
            raise UserError("bench --full: %s" % error) from None
    runners = tuple(name.strip() for name in args.runners.split(",") if name.strip())
    unknown = [name for name in runners if name not in RUNNERS]
    if unknown or not runners:
        raise UserError("--runners: choose among %s, not %r" % (", ".join(RUNNERS), args.runners))
    if args.mb < 1:
        raise UserError("--mb must be at least 1, not %d" % args.mb)
    if args.repeats < 1:
        raise UserError("--repeats must be at least 1, not %d" % args.repeats)
    results = bench.run_benchmark(args.mb, runners=runners, scaling=args.scaling,
                                  spark=args.spark, results_path=args.results,
                                  repeats=args.repeats)
    print(bench.format_report(results))
    print("\nresults: %s" % args.results)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.run_bench",
                                     description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as error:
        print("run_bench: error: %s" % error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
