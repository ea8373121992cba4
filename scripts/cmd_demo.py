"""`jeeves demo`: the pipeline on the embedded default corpus.

Runs every stage that exists so far and names the ones still to come.
"""

import importlib.util

PIPELINE = [
    ("parse", "jobs.mr_parse_emails"),
    ("count n-grams", "jobs.mr_count_ngrams"),
    ("tf-idf vectors", "jobs.mr_tfidf_vectors"),
    ("contact lists", "jobs.mr_contact_lists"),
    ("train and report", "models.training"),
]


def add_arguments(parser):
    parser.add_argument("--input", default=".cache/demo/spamassassin",
                        help="demo corpus (fetched by `make demo`)")
    parser.add_argument("--output", default="demo-out", help="output directory")


def stage_status():
    """(stage, module, present) for each pipeline stage."""
    return [
        (stage, module, importlib.util.find_spec(module) is not None)
        for stage, module in PIPELINE
    ]


def run(args):
    missing = [stage for stage, _, present in stage_status() if not present]
    for stage, module, present in stage_status():
        print("%-18s %s (%s)" % (stage, "ready" if present else "not built yet", module))
    if missing:
        print("demo: %d of %d stages not built yet: %s"
              % (len(missing), len(PIPELINE), ", ".join(missing)))
    return 0
