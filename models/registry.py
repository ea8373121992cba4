"""The classifiers Jeeves compares, each a scikit-learn Pipeline with a small default grid.

Every entry builds a fresh ``Pipeline`` whose last step is named ``clf``; the
dense-only models (GaussianNB, HistGradientBoosting) first project the sparse
tf-idf matrix: ``SelectKBest(chi2)`` (step ``select``), then ``TruncatedSVD``
(step ``svd``); the tree ensembles use the same selection. Grids are kept
small because the driver runs on a laptop-sized machine: the default model set
(``"fast"``) trains on the ~6,000-message SpamAssassin demo in minutes, and
``"all"`` adds the slower tree ensembles and the projected models. Class
weights are ``"balanced"`` wherever the estimator supports them, because the
interesting class is usually the rare one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from jeeves.models.defaults import SELECTION_METRICS, check_target_recall

# scikit-learn is imported by the functions that build or read a pipeline,
# not here: naming and choosing models (select_models, as `jeeves run` does
# before its stages) imports none of it (a second and more of start-up)

# the columns kept for the tree ensembles and the dense projection, and its size
SELECTED_FEATURES = 10000
ADABOOST_FEATURES = 2000
SVD_COMPONENTS = 100


@dataclass(frozen=True)
class ModelSpec:
    """How to build one candidate model.

    make_pipeline(random_state, n_features) returns an unfitted Pipeline; param_grid is
    the GridSearchCV grid over its parameters; `linear` marks models whose
    per-feature weights are meaningful (reported as top features); `fast`
    puts the model in the default set; `documents` marks pipelines whose
    input is jeeves.models.email_features.Documents (the others take its tf-idf
    matrix).
    """

    name: str
    make_pipeline: Callable[[int, int], Any]  # -> sklearn.pipeline.Pipeline
    param_grid: dict = field(default_factory=dict)
    linear: bool = False
    fast: bool = False
    documents: bool = False


def _selection(n_features, keep=SELECTED_FEATURES):
    """Keep the `keep` most class-dependent features (chi2), fit per training fold.

    Tree ensembles and the SVD projection cost time per column: at 150,000
    n-grams one random forest or SVD fit takes tens of seconds, ten times
    more than on the selected columns.
    """
    from sklearn.feature_selection import SelectKBest, chi2

    return ("select", SelectKBest(chi2, k=min(keep, n_features)))


def _projection(random_state, n_features):
    """Steps projecting sparse tf-idf to a small dense matrix: chi2 selection, then SVD."""
    from sklearn.decomposition import TruncatedSVD

    kept = min(SELECTED_FEATURES, n_features)
    return [
        _selection(n_features),
        # TruncatedSVD needs fewer components than features
        ("svd", TruncatedSVD(n_components=max(1, min(SVD_COMPONENTS, kept - 1)),
                             random_state=random_state)),
    ]


def _logistic_regression(random_state, n_features):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("clf", LogisticRegression(
            solver="liblinear", class_weight="balanced", max_iter=1000,
            random_state=random_state)),
    ])


def _multinomial_nb(random_state, n_features):
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import Pipeline

    return Pipeline([("clf", MultinomialNB())])


def _complement_nb(random_state, n_features):
    from sklearn.naive_bayes import ComplementNB
    from sklearn.pipeline import Pipeline

    return Pipeline([("clf", ComplementNB())])


def _bernoulli_nb(random_state, n_features):
    from sklearn.naive_bayes import BernoulliNB
    from sklearn.pipeline import Pipeline

    # tf-idf weights are > 0 exactly where the term occurs
    return Pipeline([("clf", BernoulliNB(binarize=0.0))])


def _gaussian_nb(random_state, n_features):
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline

    return Pipeline(_projection(random_state, n_features) + [("clf", GaussianNB())])


def _linear_svc(random_state, n_features):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    # LinearSVC has no probabilities; calibration gives scores comparable
    # with the other models' and a threshold that means something
    return Pipeline([
        ("clf", CalibratedClassifierCV(
            LinearSVC(class_weight="balanced", random_state=random_state),
            cv=3)),
    ])


def _random_forest(random_state, n_features):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    return Pipeline([
        _selection(n_features),
        ("clf", RandomForestClassifier(
            n_estimators=100, class_weight="balanced", n_jobs=1,
            random_state=random_state)),
    ])


def _adaboost(random_state, n_features):
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    # no class weights here: AdaBoost already reweights the samples it gets
    # wrong, and balanced stumps can fail its "better than random" check
    stump = DecisionTreeClassifier(max_depth=1)
    # every stump scans every column: fewer columns than the other ensembles
    return Pipeline([
        _selection(n_features, keep=ADABOOST_FEATURES),
        ("clf", AdaBoostClassifier(estimator=stump, n_estimators=100,
                                   random_state=random_state)),
    ])


def _hist_gradient_boosting(random_state, n_features):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    return Pipeline(_projection(random_state, n_features) + [
        ("clf", HistGradientBoostingClassifier(
            class_weight="balanced", random_state=random_state)),
    ])


REGISTRY = {spec.name: spec for spec in (
    ModelSpec("logistic_regression", _logistic_regression,
              {"clf__C": [1.0, 3.0, 10.0]}, linear=True, fast=True),
    ModelSpec("multinomial_nb", _multinomial_nb,
              {"clf__alpha": [0.01, 0.1, 1.0]}, linear=True, fast=True),
    ModelSpec("complement_nb", _complement_nb,
              {"clf__alpha": [0.01, 0.1, 1.0]}, linear=True, fast=True),
    ModelSpec("bernoulli_nb", _bernoulli_nb,
              {"clf__alpha": [0.01, 0.1, 1.0]}, fast=True),
    ModelSpec("linear_svc", _linear_svc,
              {"clf__estimator__C": [0.1, 1.0]}, linear=True, fast=True),
    ModelSpec("gaussian_nb", _gaussian_nb,
              {"clf__var_smoothing": [1e-9, 1e-6]}),
    ModelSpec("random_forest", _random_forest,
              {"clf__min_samples_leaf": [1, 3]}),
    ModelSpec("adaboost", _adaboost,
              {"clf__learning_rate": [0.5, 1.0]}),
    ModelSpec("hist_gradient_boosting", _hist_gradient_boosting,
              {"clf__learning_rate": [0.1], "clf__max_leaf_nodes": [15, 31]}),
)}

FAST_MODELS = tuple(name for name, spec in REGISTRY.items() if spec.fast)


def select_models(choice=None, extra=None):
    """Model names for a `--models` value: None or "fast" (default set), "all", or "a,b,c".

    `extra` maps further model names (e.g. email_model_spec()'s) to specs
    that may be named too; "fast" and "all" include those marked ``fast``
    (the email model: `jeeves run` trains it by default). Unknown names
    raise ValueError naming them and the known ones.
    """
    added = [name for name, spec in (extra or {}).items()
             if name not in REGISTRY and getattr(spec, "fast", False)]
    if choice is None or choice.strip() == "fast":
        return list(FAST_MODELS) + added
    if choice.strip() == "all":
        return list(REGISTRY) + added
    known = list(REGISTRY) + [name for name in (extra or {}) if name not in REGISTRY]
    names = [name.strip() for name in choice.split(",") if name.strip()]
    if not names:
        raise ValueError("no model named in %r" % (choice,))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError("unknown model %s (known: %s, or 'fast' / 'all')"
                         % (", ".join(repr(name) for name in unknown), ", ".join(known)))
    # a name given twice is trained once
    return list(dict.fromkeys(names))


EMAIL_MODEL = "email_logistic_regression"


def email_model_spec(groups=None, intent_model=None, corpus_svd=None, c_grid=None):
    """The ModelSpec of the email pipeline (models/email_features.py) -> ``EMAIL_MODEL``.

    Its input is jeeves.models.email_features.Documents, not a matrix; `groups`
    default to DEFAULT_GROUPS, the C grid to C_GRID. `intent_model`
    (jeeves.models.intent.load_intent_model()) is needed when the groups include
    ``intent``; `corpus_svd` (jeeves.models.lsa.fit_corpus_svd(all tf-idf rows))
    is used by ``lsa``.
    """
    from jeeves.models import email_features

    groups = email_features.check_groups(groups or email_features.DEFAULT_GROUPS)
    if "intent" in groups and intent_model is None:
        raise ValueError("the intent feature group needs intent_model "
                         "(jeeves.models.intent.load_intent_model())")

    def make_pipeline(random_state, n_features):
        return email_features.email_pipeline(
            groups, intent_model=intent_model, corpus_svd=corpus_svd,
            group_weight=email_features.GROUP_WEIGHT, seed=random_state)

    return ModelSpec(EMAIL_MODEL, make_pipeline,
                     {"clf__C": list(c_grid or email_features.C_GRID)}, linear=True,
                     fast=True, documents=True)


def linear_feature_weights(pipeline):
    """Per-feature weights toward the positive class of a fitted linear pipeline, else None.

    Logistic regression: coef_. Calibrated LinearSVC: the mean coef_ of its
    calibrated copies. Multinomial and complement NB: the difference of the
    class log probabilities, which is their linear weight.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.naive_bayes import ComplementNB, MultinomialNB

    if "svd" in pipeline.named_steps:
        return None
    clf = pipeline.named_steps["clf"]
    if hasattr(clf, "coef_"):
        return clf.coef_[0]
    if isinstance(clf, CalibratedClassifierCV):
        coefs = [calibrated.estimator.coef_[0] for calibrated in clf.calibrated_classifiers_]
        return sum(coefs) / len(coefs)
    if isinstance(clf, (MultinomialNB, ComplementNB)):
        return clf.feature_log_prob_[1] - clf.feature_log_prob_[0]
    return None


class SettingError(ValueError):
    """A bad training setting: ``setting`` names it, ``problem`` says what is wrong
    with its value (str(error) is both)."""

    def __init__(self, setting, problem):
        super().__init__("%s %s" % (setting, problem))
        self.setting = setting
        self.problem = problem


@dataclass(frozen=True)
class TrainingSettings:
    """How models are compared and chosen: what compare_models takes besides the data
    (here, not in jeeves.models.training, which re-exports it, so that
    validating them imports no scikit-learn).

    `models` is a select_models() choice ("fast", "all", "a,b,c") or a
    sequence of names; the email model (``EMAIL_MODEL``) may be named, and
    is built only when its records are given (jeeves.models.run.EmailInput).
    Bad values raise SettingError (a ValueError) naming the setting and
    the value.
    """

    models: str | Sequence[str] | None = None
    n_splits: int = 5
    inner_splits: int = 3
    seed: int = 0
    select_by: str = "pr_auc"
    target_recall: float = 0.95
    n_jobs: int = 0  # 0: every core, for data worth it (resolve_n_jobs)

    def __post_init__(self):
        choice = self.models
        if choice is not None and not isinstance(choice, str):
            object.__setattr__(self, "models", tuple(choice))
            choice = ",".join(choice)
        try:
            # the email model's spec is built from its records (EmailInput):
            # only its name is known here
            select_models(choice, extra=dict.fromkeys([EMAIL_MODEL]))
        except ValueError as error:
            raise SettingError("models", "is not a model choice (%s)" % error) from None
        if self.select_by not in SELECTION_METRICS:
            raise SettingError("select_by", "must be one of %s, not %r"
                               % (", ".join(SELECTION_METRICS), self.select_by))
        try:
            check_target_recall(self.target_recall)
        except ValueError:
            raise SettingError("target_recall", "must be in (0, 1], not %r"
                               % (self.target_recall,)) from None
        for name in ("n_splits", "inner_splits"):
            if getattr(self, name) < 2:
                raise SettingError(name, "must be at least 2, not %r" % (getattr(self, name),))
        if self.n_jobs < 0:
            raise SettingError("n_jobs", "must be 0 (every core) or more, not %r" % (self.n_jobs,))
