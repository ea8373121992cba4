import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import ParameterGrid

from jeeves.models.registry import FAST_MODELS, REGISTRY, linear_feature_weights, select_models
from tests.models.corpus import tfidf_corpus

X, Y, _, _ = tfidf_corpus()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_grid_point_fits_and_scores_probabilities(name):
    spec = REGISTRY[name]
    for params in ParameterGrid(spec.param_grid):
        pipeline = spec.make_pipeline(0, X.shape[1]).set_params(**params).fit(X, Y)
        probabilities = pipeline.predict_proba(X)[:, 1]
        assert probabilities.shape == (X.shape[0],)
        assert ((probabilities >= 0) & (probabilities <= 1)).all()


@pytest.mark.parametrize("name", list(REGISTRY))
def test_pipelines_are_deterministic_for_a_seed(name):
    spec = REGISTRY[name]
    first = spec.make_pipeline(7, X.shape[1]).fit(X, Y).predict_proba(X)
    second = spec.make_pipeline(7, X.shape[1]).fit(X, Y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_projection_fits_data_with_few_features():
    narrow = X[:, :5]
    for name in ("gaussian_nb", "hist_gradient_boosting"):
        pipeline = REGISTRY[name].make_pipeline(0, narrow.shape[1]).fit(narrow, Y)
        assert pipeline.named_steps["svd"].n_components < 5


@pytest.mark.parametrize("name", list(REGISTRY))
def test_linear_models_give_one_weight_per_feature(name):
    pipeline = REGISTRY[name].make_pipeline(0, X.shape[1]).fit(X, Y)
    weights = linear_feature_weights(pipeline)
    if REGISTRY[name].linear:
        assert weights.shape == (X.shape[1],)
        # the most positive weight raises the positive probability of an
        # empty message, the most negative one lowers it
        empty = sp.csr_matrix((1, X.shape[1]))
        with_top, with_bottom = empty.tolil(), empty.tolil()
        with_top[0, int(np.argmax(weights))] = 1.0
        with_bottom[0, int(np.argmin(weights))] = 1.0
        probability = pipeline.predict_proba(sp.vstack([empty, with_top, with_bottom]))[:, 1]
        assert probability[1] > probability[0] > probability[2]
    else:
        assert weights is None


def test_select_models_defaults_to_the_fast_set():
    assert select_models() == list(FAST_MODELS)
    assert select_models("fast") == list(FAST_MODELS)
    assert "random_forest" not in FAST_MODELS
    assert "logistic_regression" in FAST_MODELS


def test_select_models_all_and_a_list():
    assert select_models("all") == list(REGISTRY)
    assert select_models(" complement_nb, logistic_regression,complement_nb ") == [
        "complement_nb", "logistic_regression"]


def test_select_models_names_the_unknown_model():
    with pytest.raises(ValueError, match="'svm'"):
        select_models("logistic_regression,svm")
    with pytest.raises(ValueError, match="no model"):
        select_models(" , ")
