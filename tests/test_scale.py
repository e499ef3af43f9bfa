"""Scaling out: out-of-core partial_fit, Dask (joblib backend, dask-ml), mixed precision, devices."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder
from skae._device import _bfloat16_supported


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return MinMaxScaler().fit_transform(X).astype(np.float32), y


def _params(**kw):
    params = dict(n_components=8, hidden_layer_sizes=(32,), batch_size=32, random_state=0)
    params.update(kw)
    return params


# --------------------------------------------------------------------------- out-of-core


def _chunks(X, size):
    for start in range(0, len(X), size):
        yield X[start : start + size]


@pytest.mark.parametrize("source", ["memmap", "iterator"])
def test_partial_fit_over_chunks_trains_as_well_as_fit(digits, tmp_path, source):
    """Same architecture, same number of passes: final training loss within 5 % of fit's."""
    X, _ = digits
    n_epochs = 15
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = Autoencoder(**_params(max_iter=n_epochs, tol=0)).fit(X)
    if source == "memmap":
        path = tmp_path / "X.npy"
        np.save(path, X)
        data = np.load(path, mmap_mode="r")
        chunk_stream = lambda: _chunks(data, 400)  # noqa: E731
    else:
        chunk_stream = lambda: (np.asarray(c) for c in _chunks(X, 400))  # noqa: E731
    streamed = Autoencoder(**_params())
    for _ in range(n_epochs):
        for chunk in chunk_stream():
            streamed.partial_fit(chunk)
    loss_whole = -whole.score(X)
    loss_streamed = -streamed.score(X)
    assert loss_streamed <= 1.05 * loss_whole
    assert streamed.t_ == whole.t_ == n_epochs * len(X)


# --------------------------------------------------------------------------- dask


def test_grid_search_on_dask_cluster_matches_sequential(digits):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster
    from joblib import parallel_backend

    X, y = digits
    X, y = X[:600], y[:600]
    pipe = Pipeline([
        ("ae", Autoencoder(**_params(max_iter=15, learning_rate_init=1e-2))),
        ("clf", LogisticRegression(max_iter=300)),
    ])
    grid = {"ae__n_components": [2, 16]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sequential = GridSearchCV(pipe, grid, cv=2).fit(X, y)
        # In-process cluster: no sockets at all (loopback only, started and closed here).
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                          dashboard_address=None) as cluster, Client(cluster):
            with parallel_backend("dask"):
                distributed = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X, y)
    assert distributed.best_params_ == sequential.best_params_ == {"ae__n_components": 16}
    np.testing.assert_allclose(
        distributed.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )


def test_dask_ml_incremental_drives_partial_fit(digits):
    pytest.importorskip("dask_ml")
    da = pytest.importorskip("dask.array")
    from dask_ml.wrappers import Incremental

    X, _ = digits
    dX = da.from_array(X, chunks=(300, X.shape[1]))
    inc = Incremental(Autoencoder(**_params()), shuffle_blocks=False)
    inc.fit(dX)
    est = inc.estimator_
    assert est.n_iter_ == dX.numblocks[0]  # one partial_fit (one epoch) per block
    assert est.t_ == len(X)
    # The same blocks fed by hand give the same model.
    by_hand = Autoencoder(**_params())
    for chunk in _chunks(X, 300):
        by_hand.partial_fit(chunk)
    np.testing.assert_allclose(inc.transform(dX).compute(), by_hand.transform(X), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- precision


def test_bfloat16_trains_close_to_float32(digits):
    X, _ = digits
    if not _bfloat16_supported():
        pytest.skip("this CPU has no bfloat16 support (avx512_bf16/AMX); the error is tested below")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fp32 = Autoencoder(**_params(max_iter=20, tol=0)).fit(X)
        bf16 = Autoencoder(**_params(max_iter=20, tol=0, precision="bfloat16")).fit(X)
    Z = bf16.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    assert all(p.dtype == torch.float32 for p in bf16.module_.parameters())  # master weights
    assert -bf16.score(X) <= 1.10 * -fp32.score(X)
    assert bf16.loss_curve_[-1] < bf16.loss_curve_[0]


def test_bfloat16_unsupported_is_a_clear_error(monkeypatch, digits):
    X, _ = digits
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with pytest.raises(ValueError, match="bfloat16.*avx512_bf16"):
        Autoencoder(**_params(max_iter=1, precision="bfloat16")).fit(X[:50])


# --------------------------------------------------------------------------- GPU

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_cuda_matches_cpu(digits):
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cpu = Autoencoder(**_params(max_iter=5, tol=0)).fit(X)
        gpu = Autoencoder(**_params(max_iter=5, tol=0, device="cuda")).fit(X)
    Z = gpu.transform(X)
    assert isinstance(Z, np.ndarray) and Z.dtype == np.float32
    # Same seed and same initialisation (drawn on the CPU); float rounding differs on the GPU.
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-2)
    np.testing.assert_allclose(Z, cpu.transform(X), rtol=0.05, atol=0.05)


@cuda
def test_grid_search_n_jobs_on_one_gpu(digits):
    X, y = digits
    pipe = Pipeline([("ae", Autoencoder(**_params(max_iter=3, device="cuda"))),
                     ("clf", LogisticRegression(max_iter=200))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid = GridSearchCV(pipe, {"ae__n_components": [4, 8]}, cv=2, n_jobs=2).fit(X[:400], y[:400])
        serial = GridSearchCV(pipe, {"ae__n_components": [4, 8]}, cv=2, n_jobs=1).fit(X[:400], y[:400])
    # Two workers sharing the GPU fit the same models as one worker in turn (up to the GPU's rounding).
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"],
                               atol=0.02)


@cuda
def test_cuda_model_pickles_to_cpu_arrays(digits):
    import pickle

    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gpu = Autoencoder(**_params(max_iter=2, device="cuda")).fit(X)
    clone = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(clone.transform(X), gpu.transform(X), rtol=1e-6)
