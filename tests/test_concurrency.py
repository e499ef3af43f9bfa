"""Concurrency: grid searches in parallel workers (loky processes, threads) and many threads calling one
fitted model give exactly the sequential results."""

import threading
import warnings

import numpy as np
import pytest
from _reliability import ESTIMATORS, IDS, data, fit, make, one_torch_thread, outputs  # noqa: F401
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV, KFold

import skae

X, Y = data(n_samples=60)


def _grid_search(backend, n_jobs):
    search = GridSearchCV(
        skae.Autoencoder(hidden_layer_sizes=(4,), max_iter=2, random_state=0),
        {"n_components": [2, 3]},
        cv=KFold(2),
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings(), parallel_backend(backend, n_jobs=n_jobs):
        warnings.simplefilter("ignore")  # tiny max_iter: ConvergenceWarnings
        search.fit(X)
    return search


@pytest.fixture(scope="module")
def sequential_search():
    return _grid_search("sequential", 1)


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_grid_search_in_parallel_equals_sequential(backend, sequential_search):
    parallel = _grid_search(backend, 2)
    for key in ("mean_test_score", "std_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(parallel.cv_results_[key], sequential_search.cv_results_[key], err_msg=key)
    assert parallel.best_params_ == sequential_search.best_params_
    a, b = parallel.best_estimator_, sequential_search.best_estimator_
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_eight_threads_on_one_fitted_model_give_the_sequential_outputs(cls):
    est = fit(make(cls), X, Y)
    expected = outputs(est, X, Y)
    results, errors = [None] * 8, []
    start = threading.Barrier(8)

    def work(i):
        try:
            start.wait()  # all threads call at once
            results[i] = [outputs(est, X, Y) for _ in range(3)]
        except Exception as exc:  # noqa: BLE001 (reported below, with the thread)
            errors.append((i, exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for runs in results:
        for out in runs:
            assert out.keys() == expected.keys()
            for key in out:
                assert np.asarray(out[key]).tobytes() == np.asarray(expected[key]).tobytes(), key
