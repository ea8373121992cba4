"""`jeeves run`'s own analyzer and vocabulary defaults (scripts/cmd_run.py RUN_DEFAULTS),
and its training options as the models' settings (jeeves.pipeline.train.TrainingConfig)."""

import pytest

from jeeves import cmd_run, options
from jeeves.cli import build_parser
from jeeves.errors import UserError
from jeeves.models.training import TrainingSettings
from jeeves.pipeline.train import TrainingConfig


def parsed(*argv):
    return build_parser().parse_args(list(argv))


def test_run_uses_its_defaults_and_features_keeps_scikit_learns():
    run = parsed("run", "--input", "mail", "--output", "out")
    analyzer, vectors = options.analyzer_config(run), options.vectorizer_config(run)
    assert analyzer["fields"] == ["subject", "body", "quoted"]
    assert analyzer["stop_words"] is None and analyzer["placeholders"] is False
    assert analyzer["lemmatize"] is True and analyzer["ngram_max"] == 1
    assert (vectors.min_df, vectors.max_df, vectors.sublinear_tf) == (2, 0.5, True)
    features = parsed("features", "--input", "mail", "--output", "out")
    assert options.analyzer_config(features)["stop_words"] == "english"
    assert options.vectorizer_config(features).sublinear_tf is False
    assert options.vectorizer_config(features).min_df == 1


def test_each_run_default_can_be_turned_back():
    run = parsed("run", "--input", "mail", "--output", "out", "--fields", "subject,body",
                 "--stop-words", "english", "--placeholders", "--min-df", "1",
                 "--max-df", "1.0", "--no-sublinear-tf")
    analyzer, vectors = options.analyzer_config(run), options.vectorizer_config(run)
    assert analyzer["fields"] == ["subject", "body"] and analyzer["stop_words"] == "english"
    assert analyzer["placeholders"] is True
    assert (vectors.min_df, vectors.max_df, vectors.sublinear_tf) == (1, 1.0, False)


def test_the_help_names_the_defaults(capsys):
    try:
        build_parser("run").parse_args(["run", "--help"])
    except SystemExit:
        pass
    assert cmd_run.run_defaults_text() in " ".join(capsys.readouterr().out.split())


def test_the_training_options_build_the_models_settings_whole():
    run = parsed("run", "--input", "mail", "--output", "out", "--labels", "subject:x",
                 "--models", "logistic_regression", "--folds", "3", "--seed", "7",
                 "--target-recall", "0.9")
    assert options.training_config(run).settings == TrainingSettings(
        models="logistic_regression", n_splits=3, seed=7, target_recall=0.9)


@pytest.mark.parametrize("config, message", [
    ({"folds": 1}, "--folds must be at least 2, not 1"),
    ({"select_by": "accuracy"}, "--select-by must be one of pr_auc, roc_auc, not 'accuracy'"),
    ({"target_recall": 0}, r"--target-recall must be in \(0, 1\], not 0"),
])
def test_a_bad_training_setting_names_its_option(config, message):
    with pytest.raises(UserError, match=message):
        TrainingConfig(**config)
