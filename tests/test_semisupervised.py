"""Semi-supervised use with plain scikit-learn tools, and skae inside parallel model selection."""

import warnings

import numpy as np
import pytest
import torch
from joblib import Parallel, cpu_count, delayed
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return MinMaxScaler().fit_transform(X).astype(np.float32), y


def test_sequential_pattern_with_a_frozen_autoencoder(digits):
    """Fit the autoencoder on all rows, then a pipeline with it frozen on the labeled rows only."""
    X, y = digits
    labeled = np.random.RandomState(0).rand(len(y)) < 0.1
    ae = Autoencoder(n_components=8, hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X)
    codes_before = ae.transform(X)
    model = make_pipeline(FrozenEstimator(ae), LogisticRegression(max_iter=1000))
    model.fit(X[labeled], y[labeled])
    # Fitting the pipeline did not refit the autoencoder ...
    np.testing.assert_array_equal(ae.transform(X), codes_before)
    assert model[0].estimator is ae
    # ... and the pipeline is exactly LR on the codes of the labeled rows.
    reference = LogisticRegression(max_iter=1000).fit(codes_before[labeled], y[labeled])
    np.testing.assert_array_equal(model.predict(X), reference.predict(codes_before))
    # Cross-validating the frozen pipeline keeps the autoencoder fitted on all rows (clone keeps it).
    scores = cross_val_score(model, X[labeled], y[labeled], cv=3)
    np.testing.assert_array_equal(ae.transform(X), codes_before)
    assert scores.mean() > 0.5


def test_unfrozen_pipeline_would_refit_the_autoencoder_on_labeled_rows_only(digits):
    """Why freezing matters: a plain pipeline refits the autoencoder on the rows it is given."""
    X, y = digits
    labeled = np.random.RandomState(0).rand(len(y)) < 0.1
    ae = Autoencoder(n_components=8, hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X)
    codes = ae.transform(X)
    make_pipeline(ae, LogisticRegression(max_iter=1000)).fit(X[labeled], y[labeled])
    assert not np.array_equal(ae.transform(X), codes)


def test_joblib_workers_get_their_share_of_the_cores():
    """The mechanism that keeps n_jobs=2 from oversubscribing: joblib's loky workers limit their
    native thread pools to cpu_count // n_jobs, and torch's intra-op pool follows, while the user's
    own process keeps its threads. (Whether joblib does this through OMP_NUM_THREADS depends on the
    environment it inherits, so only the thread count is asserted.)"""
    before = torch.get_num_threads()
    share = max(1, cpu_count() // 2)
    out = Parallel(n_jobs=2)([delayed(torch.get_num_threads)() for _ in range(4)])
    assert out == [share] * 4
    assert torch.get_num_threads() == before


def test_grid_search_in_parallel_matches_sequential(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("ae", Autoencoder(n_components=8, hidden_layer_sizes=(16,), max_iter=3, random_state=0)),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    grid = {"ae__alpha": [0.0, 1e-3], "clf__C": [0.1, 10.0]}
    before = torch.get_num_threads()
    one = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
    two = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert torch.get_num_threads() == before  # nothing global changed in this process
    # Same seeds in every process: the same scores, up to float32 rounding that differs with the
    # number of torch threads (a few predictions at most).
    np.testing.assert_allclose(one.cv_results_["mean_test_score"], two.cv_results_["mean_test_score"], atol=0.01)
    assert one.best_params_["clf__C"] == two.best_params_["clf__C"]


def _transformer_classes():
    """Every skae autoencoder a Pipeline can hold before a semi-supervised scikit-learn model."""
    import inspect

    import skae
    from skae import AutoencoderClassifier
    from skae._base import BaseAutoencoder

    return [
        getattr(skae, name)
        for name in sorted(skae.__all__)
        if inspect.isclass(getattr(skae, name))
        and issubclass(getattr(skae, name), BaseAutoencoder)
        and not issubclass(getattr(skae, name), AutoencoderClassifier)
        and not inspect.isabstract(getattr(skae, name))
    ]


@pytest.mark.parametrize("cls", _transformer_classes(), ids=lambda c: c.__name__)
def test_transformers_ignore_unlabeled_marks_and_pipeline_routes_y(cls, digits):
    """Sequential semi-supervised learning: y with -1 for unlabeled rows goes through the skae step
    untouched (its fit ignores y, -1 or not) to LabelSpreading, which uses it."""
    from sklearn.semi_supervised import LabelSpreading

    X, y = digits[0][:300], digits[1][:300]
    y_semi = np.where(np.random.RandomState(0).rand(len(y)) < 0.2, y, -1)
    params = {k: v for k, v in dict(n_components=8, max_iter=3, random_state=0).items() if k in cls().get_params()}
    with_y = cls(**params).fit(X, y_semi)
    without_y = cls(**params).fit(X)
    np.testing.assert_array_equal(with_y.transform(X), without_y.transform(X))
    pipe = make_pipeline(cls(**params), LabelSpreading(kernel="knn", n_neighbors=10)).fit(X, y_semi)
    spread = pipe[-1]
    assert spread.transduction_.shape == (len(y),)
    np.testing.assert_array_equal(spread.transduction_[y_semi != -1], y_semi[y_semi != -1])
    assert set(np.unique(pipe.predict(X))) <= set(range(10))


@pytest.mark.parametrize("model", ["LabelSpreading", "LabelPropagation", "SelfTrainingClassifier"])
def test_every_semi_supervised_model_takes_skae_codes(model, digits):
    """Each of scikit-learn's semi-supervised models after a skae autoencoder in one Pipeline: y with -1
    reaches it through the autoencoder's step, and its predictions beat chance by far."""
    from sklearn.semi_supervised import LabelPropagation, LabelSpreading, SelfTrainingClassifier

    head = {
        "LabelSpreading": LabelSpreading(kernel="knn", n_neighbors=10),
        "LabelPropagation": LabelPropagation(kernel="knn", n_neighbors=10),
        "SelfTrainingClassifier": SelfTrainingClassifier(LogisticRegression(max_iter=1000)),
    }[model]
    X, y = digits[0][:400], digits[1][:400]
    y_semi = np.where(np.random.RandomState(0).rand(len(y)) < 0.25, y, -1)
    ae = Autoencoder(n_components=16, hidden_layer_sizes=(32,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # epoch budget; LabelPropagation's iteration cap
        pipe = make_pipeline(ae, head).fit(X, y_semi)
    labeled = y_semi != -1
    # The labels reached the last step: they are the ones it was fitted with (transduction_ or labeled_iter_).
    if model == "SelfTrainingClassifier":
        assert np.all(pipe[-1].labeled_iter_[labeled] == 0)
    else:
        np.testing.assert_array_equal(pipe[-1].transduction_[labeled], y_semi[labeled])
    assert pipe.score(X[~labeled], y[~labeled]) > 0.5
