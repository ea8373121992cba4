"""Options shared by several subcommands, and the configuration objects they make.

Each ``add_*`` function declares a group of options on an argparse parser;
each ``*_config`` function turns the parsed values into the driver library's
configuration object (scripts/pipeline/), which validates itself.
"""


from jeeves.errors import UserError
from jeeves.features.graph import GRAPH_SETTINGS
from jeeves.features.text import Analyzer, add_analyzer_args, analyzer_config_from_options
from jeeves.models.defaults import DEFAULT_GROUPS, DEFAULT_INTENT_DATA, GROUPS, SEED, SELECT_BY
from jeeves.pipeline.engine import Engine
from jeeves.pipeline.features import VECTORIZER_SETTINGS, VectorizerConfig
from jeeves.pipeline.graph import GraphConfig
from jeeves.runjob import MRJOB_CONF, RUNNERS
from jeeves.settings import add_settings, values_of


def add_engine_arguments(parser):
    """--runner and --mrjob-conf."""
    parser.add_argument("--runner", choices=RUNNERS, default="inline",
                        help="mrjob runner, with its mrjob.conf profile (default: %(default)s)")
    parser.add_argument("--mrjob-conf", default=MRJOB_CONF, metavar="FILE",
                        help="mrjob.conf with the runner profiles (default: the project's)")


def engine_from(args):
    return Engine(runner=args.runner, conf=args.mrjob_conf)


def add_feature_arguments(parser):
    """The analyzer and vocabulary options (`jeeves features` and `jeeves run`)."""
    add_analyzer_args(parser.add_argument, parser.add_argument)
    add_settings(parser.add_argument, VECTORIZER_SETTINGS)


def analyzer_config(args):
    """The analyzer configuration of parsed options (checked by building the analyzer)."""
    try:
        config = analyzer_config_from_options(args)
        Analyzer(config)
    except (OSError, ValueError) as error:
        raise UserError(str(error)) from None
    return config


def vectorizer_config(args):
    return VectorizerConfig(**values_of(args, VECTORIZER_SETTINGS))


def add_graph_arguments(parser):
    """The contact-graph job settings (`jeeves graph`), declared in jeeves.features.graph."""
    add_settings(parser.add_argument, GRAPH_SETTINGS)


def graph_config(args):
    return GraphConfig(**values_of(args, GRAPH_SETTINGS))


def add_training_arguments(parser):
    parser.add_argument("--models", default="fast",
                        help="'fast' (default), 'all', or comma-separated names from the "
                             "registry (models/registry.py)")
    SELECT_BY.add_to(parser.add_argument)
    parser.add_argument("--target-recall", type=float, default=0.95,
                        help="the threshold is set on out-of-fold scores to reach this recall "
                             "(default: %(default)s)")
    parser.add_argument("--folds", type=int, default=5, help="outer CV folds (default: 5)")
    SEED.add_to(parser.add_argument)
    parser.add_argument("--n-jobs", type=int, default=0,
                        help="processes for grid search (default 0: every core once there "
                             "are 2,000 labelled messages, else one)")
    parser.add_argument("--train-on-cluster", action="store_true",
                        help="run the cross-validation grid as an MRJob on --runner "
                             "(jobs/mr_cross_validate.py) instead of in this process "
                             "(the tf-idf models only: the email model is compared in the "
                             "driver)")
    parser.add_argument("--feature-groups", default=",".join(DEFAULT_GROUPS), metavar="G,...",
                        help="feature groups of the email model (%s; 'none': no email model; "
                             "default: %%(default)s; docs/models.md)" % ", ".join(GROUPS))
    parser.add_argument("--no-ablation", dest="ablation", action="store_false",
                        help="leave the feature-group ablation table out of the report")
    parser.add_argument("--intent-data", default=DEFAULT_INTENT_DATA, metavar="FILE",
                        help="Yes/No TAB sentence lines the intent group's sentence model "
                             "is trained on (default: the ParakweetLabs sentences shipped "
                             "in the package)")


def training_config(args):
    # scikit-learn is imported by the commands that train, not by every command
    from jeeves.pipeline.train import TrainingConfig

    return TrainingConfig(models=args.models, folds=args.folds, seed=args.seed,
                          select_by=args.select_by, target_recall=args.target_recall,
                          n_jobs=args.n_jobs, on_cluster=args.train_on_cluster,
                          groups=args.feature_groups, ablation=args.ablation,
                          intent_data=args.intent_data)
