import numpy as np
import pytest
from scipy import sparse
from sklearn.metrics import recall_score

from jeeves.models.training import (
    PARALLEL_MIN_SAMPLES,
    FoldCheckpoints,
    SettingError,
    TrainingSettings,
    _most_common_params,
    check_labels,
    compare_models,
    resolve_n_jobs,
    shared_folds,
    top_features,
)
from tests.models.corpus import MEETINGS, tfidf_corpus

X, Y, FEATURE_NAMES, VECTORIZER = tfidf_corpus()
MODELS = ["logistic_regression", "multinomial_nb", "bernoulli_nb"]


@pytest.fixture(scope="module")
def comparison():
    return compare_models(X, Y, models=MODELS, n_splits=4, feature_names=FEATURE_NAMES)


def test_shared_folds_partition_the_data_with_both_classes_in_each():
    folds = shared_folds(Y, n_splits=4, seed=0)
    held_out = np.concatenate([test for _, test in folds])
    assert sorted(held_out.tolist()) == list(range(len(Y)))
    for train, test in folds:
        assert set(Y[test]) == {0, 1}
        assert not set(train) & set(test)


def test_every_model_is_scored_once_per_sample_out_of_fold(comparison):
    assert list(comparison.results) == MODELS
    assert len(comparison.folds) == 4
    for result in comparison.results.values():
        assert result.oof_scores.shape == (len(Y),)
        assert len(result.fold_metrics) == 4
        assert len(result.fold_params) == 4


def test_threshold_reaches_the_target_recall_and_no_higher_one_does(comparison):
    for result in comparison.results.values():
        scores = result.oof_scores
        predicted = (scores >= result.threshold).astype(int)
        assert recall_score(Y, predicted) >= 0.95
        higher = scores[scores > result.threshold]
        if higher.size:
            assert recall_score(Y, (scores >= higher.min()).astype(int)) < 0.95
        (tn, fp), (fn, tp) = result.confusion
        assert tp + fn == Y.sum() and tn + fp == len(Y) - Y.sum()
        assert tp == predicted[Y == 1].sum()


def test_the_chosen_model_has_the_best_mean_pr_auc(comparison):
    best = max(result.cv["pr_auc"]["mean"] for result in comparison.results.values())
    assert comparison.chosen_result.cv["pr_auc"]["mean"] == best
    assert comparison.summary()["threshold"] == comparison.chosen_result.threshold


def test_choice_by_roc_auc():
    by_roc = compare_models(X, Y, models=MODELS, n_splits=4, select_by="roc_auc")
    best = max(result.cv["roc_auc"]["mean"] for result in by_roc.results.values())
    assert by_roc.chosen_result.cv["roc_auc"]["mean"] == best
    assert by_roc.summary()["select_by"] == "roc_auc"


def test_comparison_is_deterministic(comparison):
    again = compare_models(X, Y, models=MODELS, n_splits=4, feature_names=FEATURE_NAMES)
    for name, result in comparison.results.items():
        # equal up to floating-point summation order in BLAS
        np.testing.assert_allclose(result.oof_scores, again.results[name].oof_scores,
                                   rtol=1e-12)
        assert result.fold_params == again.results[name].fold_params
    assert again.chosen == comparison.chosen


def test_the_chosen_model_is_fit_and_flags_a_new_meeting_request(comparison):
    estimator = comparison.chosen_result.estimator
    new = VECTORIZER.transform(["Can we meet on Friday to discuss the budget?",
                                "Attached is the report you asked for."])
    scores = estimator.predict_proba(new)[:, 1]
    assert scores[0] > scores[1]


def test_linear_models_report_top_features_by_name(comparison):
    logistic = comparison.results["logistic_regression"]
    assert logistic.estimator is not None
    positive = [name for name, _ in logistic.top_features["positive"]]
    negative = [name for name, _ in logistic.top_features["negative"]]
    meeting_words = {"meet", "meeting", "call", "schedule"}
    assert meeting_words & set(positive[:10])
    assert not meeting_words & set(negative)
    # Bernoulli NB is not linear in its features: no top features
    assert comparison.results["bernoulli_nb"].top_features is None


def test_summary_is_json_ready_with_mean_and_std(comparison):
    import json

    summary = json.loads(json.dumps(comparison.summary()))
    assert summary["chosen_model"] in MODELS
    assert summary["samples"] == len(Y) and summary["positives"] == len(MEETINGS)
    for model in summary["models"].values():
        assert set(model["cv"]) == {"roc_auc", "pr_auc", "precision", "recall", "f1",
                                    "accuracy"}
        assert set(model["cv"]["f1"]) == {"mean", "std"}


def test_labels_must_be_binary_with_enough_of_each_class():
    with pytest.raises(ValueError, match="0 and 1"):
        check_labels([0, 1, 2], 2)
    with pytest.raises(ValueError, match="got 3 positive and 7 negative"):
        check_labels([1] * 3 + [0] * 7, 5)
    with pytest.raises(ValueError, match="got 0 positive"):
        compare_models(X, np.zeros(len(Y), dtype=int), models=MODELS)


def test_unknown_selection_metric_is_refused():
    with pytest.raises(ValueError, match="'accuracy'"):
        compare_models(X, Y, models=MODELS, select_by="accuracy")


def test_most_common_params_break_ties_by_first_fold():
    assert _most_common_params([{"C": 1}, {"C": 10}, {"C": 10}]) == {"C": 10}
    assert _most_common_params([{"C": 10}, {"C": 1}, {"C": 1}, {"C": 10}]) == {"C": 10}


def test_top_features_split_positive_and_negative_weights():
    top = top_features([0.5, -2.0, 0.0, 3.0, -0.1], ["a", "b", "c", "d", "e"], count=2)
    assert top == {"positive": [("d", 3.0), ("a", 0.5)], "negative": [("b", -2.0), ("e", -0.1)]}


def test_bad_target_recall_is_refused_before_training():
    with pytest.raises(ValueError, match="target recall"):
        compare_models(X, Y, models=MODELS, target_recall=95)


def test_the_email_model_is_compared_on_documents_with_named_features():
    from jeeves.models.documents import Documents
    from jeeves.models.email_features import feature_names as email_feature_names
    from jeeves.models.intent import train_intent_model
    from jeeves.models.registry import EMAIL_MODEL, email_model_spec
    from tests.models.test_email_features import INTENT_LABELS, INTENT_SENTENCES, corpus

    docs, y = corpus()
    spec = email_model_spec(intent_model=train_intent_model(INTENT_SENTENCES, INTENT_LABELS))
    assert isinstance(docs, Documents)
    terms = ["t%d" % index for index in range(docs.shape[1])]
    result = compare_models(docs, y, models=[EMAIL_MODEL, "logistic_regression"], n_splits=4,
                            feature_names=terms, specs={EMAIL_MODEL: spec})
    email = result.results[EMAIL_MODEL]
    assert email.cv["roc_auc"]["mean"] > 0.8
    named = [name for name, _ in email.top_features["positive"] + email.top_features["negative"]]
    columns = email_feature_names(email.estimator, terms)
    assert "intent:max" in columns and "headers:is_reply" in columns
    assert named and set(named) <= set(columns)
    assert email.estimator.predict_proba(docs).shape == (len(y), 2)
    with pytest.raises(ValueError, match="intent feature group needs intent_model"):
        email_model_spec(groups=["intent"])


@pytest.mark.parametrize("settings, message", [
    ({"models": "logistic_regression,nope"}, "models is not a model choice .*'nope'"),
    ({"n_splits": 1}, "n_splits must be at least 2, not 1"),
    ({"inner_splits": 0}, "inner_splits must be at least 2, not 0"),
    ({"select_by": "accuracy"}, "select_by must be one of pr_auc, roc_auc, not 'accuracy'"),
    ({"target_recall": 1.5}, r"target_recall must be in \(0, 1\], not 1.5"),
])
def test_training_settings_refuse_a_bad_value_by_name(settings, message):
    with pytest.raises(SettingError, match=message) as raised:
        TrainingSettings(**settings)
    assert raised.value.setting == next(iter(settings))


def test_training_settings_keep_model_names_as_a_tuple():
    settings = TrainingSettings(models=["logistic_regression", "email_logistic_regression"])
    assert settings.models == ("logistic_regression", "email_logistic_regression")
    assert TrainingSettings().models is None and TrainingSettings().n_splits == 5


def test_n_jobs_zero_means_every_core_only_for_data_worth_it(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert resolve_n_jobs(0, PARALLEL_MIN_SAMPLES) == 4
    assert resolve_n_jobs(0, PARALLEL_MIN_SAMPLES - 1) == 1
    assert resolve_n_jobs(3, 10) == 3


def test_parallel_training_gives_the_same_comparison():
    """Two grid-search processes (n_jobs=2) score every sample as one does."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], PARALLEL_MIN_SAMPLES // 2)
    X = sparse.csr_matrix(rng.random((len(y), 30)) * (1 + y[:, None] * np.linspace(0, 1, 30)))
    one = compare_models(X, y, models=["multinomial_nb", "logistic_regression"], n_splits=3,
                         n_jobs=1)
    two = compare_models(X, y, models=["multinomial_nb", "logistic_regression"], n_splits=3,
                         n_jobs=2)
    for name in one.results:
        np.testing.assert_array_equal(one.results[name].oof_scores, two.results[name].oof_scores)
        assert one.results[name].fold_params == two.results[name].fold_params
    assert one.chosen == two.chosen


class DictStore:
    """FoldCheckpoints' store in memory (the pipeline's keeps files through Storage)."""

    def __init__(self):
        self.blobs = {}

    def get(self, name):
        return self.blobs.get(name)

    def put(self, name, data):
        self.blobs[name] = data


def test_checkpointed_folds_are_read_back_and_give_the_same_comparison(comparison):
    store = DictStore()
    first = compare_models(X, Y, models=MODELS, n_splits=4, feature_names=FEATURE_NAMES,
                           checkpoints=FoldCheckpoints(store))
    assert sorted(store.blobs) == sorted("%s-fold%d.json" % (name, index)
                                         for name in MODELS for index in range(4))
    checkpoints = FoldCheckpoints(store)
    again = compare_models(X, Y, models=MODELS, n_splits=4, feature_names=FEATURE_NAMES,
                           checkpoints=checkpoints)
    assert checkpoints.restored == len(MODELS) * 4
    # read back exactly as written (floats by repr), so the same choice and threshold
    assert again.chosen == first.chosen
    for name, result in first.results.items():
        np.testing.assert_array_equal(again.results[name].oof_scores, result.oof_scores)
        assert again.results[name].fold_params == result.fold_params
        assert again.results[name].threshold == result.threshold
        assert again.results[name].final_params == result.final_params
        # and as a run without checkpoints (up to BLAS summation order, as above)
        np.testing.assert_allclose(result.oof_scores, comparison.results[name].oof_scores,
                                   rtol=1e-12)
    np.testing.assert_array_equal(again.chosen_result.estimator.predict_proba(X),
                                  first.chosen_result.estimator.predict_proba(X))


def test_a_checkpoint_is_used_only_where_it_matches():
    """A restored fold really is read (a doctored score comes through), and
    an entry of other folds, another seed or a torn write is evaluated again."""
    import json

    store = DictStore()
    compare_models(X, Y, models=["multinomial_nb"], n_splits=3,
                   checkpoints=FoldCheckpoints(store))
    entry = json.loads(store.blobs["multinomial_nb-fold0.json"])
    entry["scores"][0] = 0.123456789
    store.blobs["multinomial_nb-fold0.json"] = json.dumps(entry).encode()
    store.blobs["multinomial_nb-fold1.json"] = store.blobs["multinomial_nb-fold1.json"][:-9]
    checkpoints = FoldCheckpoints(store)
    doctored = compare_models(X, Y, models=["multinomial_nb"], n_splits=3,
                              checkpoints=checkpoints)
    assert checkpoints.restored == 2
    assert 0.123456789 in doctored.results["multinomial_nb"].oof_scores
    for options in ({"n_splits": 4}, {"n_splits": 3, "seed": 1}):
        checkpoints = FoldCheckpoints(store)
        compare_models(X, Y, models=["multinomial_nb"], checkpoints=checkpoints, **options)
        assert checkpoints.restored == 0, options
