"""`jeeves features`: parsed messages -> vocabulary.tsv and tf-idf svmlight vectors.

    jeeves features --input OUT/messages --output OUT [--runner R] [options]

writes OUT/features/ (a local directory or an hdfs:// / s3:// URI): the
counts, the kept terms, vocabulary.tsv, the tf-idf vectors, analyzer.json,
summary.json and _SUCCESS last (scripts/pipeline/features.py,
docs/features.md).
"""

from jeeves import options
from jeeves.pipeline.features import features_stage
from jeeves.pipeline.parse import check_inputs
from jeeves.storage import join


def add_arguments(parser):
    parser.add_argument("--input", required=True, nargs="+",
                        help="parsed message records (a messages/ directory, files or URIs)")
    parser.add_argument("--output", required=True,
                        help="output root (directory or URI); writes OUTPUT/features/")
    options.add_engine_arguments(parser)
    options.add_feature_arguments(parser)


def run(args):
    check_inputs(args.input)
    config, settings = options.analyzer_config(args), options.vectorizer_config(args)
    engine = options.engine_from(args)
    engine.check()
    summary = features_stage(engine, args.input, args.output, config, settings)
    print("features: %d messages, %d distinct terms, vocabulary of %d -> %s"
          % (summary["documents"], summary["distinct_terms"], summary["vocabulary"],
             join(args.output, "features")))
    return 0
