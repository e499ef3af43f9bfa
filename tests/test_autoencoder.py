"""Behaviour of the shared engine, through the plain Autoencoder."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import (
    VAE,
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    HashingAutoencoder,
    SparseAutoencoder,
)
from skae._device import _bfloat16_supported
from skae._integrity import DIGEST_KEY, seal
from skae._training import _canonical

# Most fits here run a few epochs on purpose; tests that assert a ConvergenceWarning (or its
# absence) do so with pytest.warns or an "error" filter of their own, which override this one.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return MinMaxScaler().fit_transform(X).astype(np.float32), y


def small(**kw):
    params = dict(n_components=4, hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    params.update(kw)
    return Autoencoder(**params)


def spectral_gap_data(n=600, d=12, k=3, seed=0):
    """Data near a k-dimensional subspace: large variances on k directions, small noise elsewhere."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = np.r_[[5.0, 4.0, 3.0][:k], np.full(d - k, 0.2)]
    return (rng.normal(size=(n, d)) * scales) @ basis.T + 1.0


# --------------------------------------------------------------------------- oracle: PCA


def test_linear_autoencoder_recovers_pca_subspace():
    X = spectral_gap_data()
    pca = PCA(3).fit(X)
    ae = Autoencoder(
        n_components=3,
        hidden_layer_sizes=(),
        activation="identity",
        loss="mse",
        learning_rate_init=1e-2,
        max_iter=2000,
        tol=0,
        batch_size=len(X),  # full batch: no mini-batch noise floor above PCA's optimum
        random_state=0,
    )
    # At the default weight decay (alpha="auto": 1 / n_samples), which shrinks the weights but keeps
    # the subspace (an L2-penalised linear autoencoder's optimum lies in the principal subspace).
    assert ae.alpha == "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X)
    R = ae.inverse_transform(ae.transform(X)).astype(np.float64)
    # The reconstructions span the same affine subspace as PCA's: compare their centered spans.
    _, _, vt = np.linalg.svd(R - R.mean(0), full_matrices=False)
    angles = subspace_angles(vt[:3].T, pca.components_.T)
    assert angles.max() < 0.05
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    ae_mse = np.mean((R - X) ** 2)
    assert ae_mse <= 1.02 * pca_mse
    # score is minus the mean squared error per feature
    assert ae.score(X) == pytest.approx(-ae_mse, rel=1e-3)


def test_alpha_auto_is_the_weight_decay_of_one_over_the_rows_trained_on(digits):
    X = digits[0][:400]
    assert Autoencoder().alpha == "auto"  # the default (issue 36)

    def codes(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return small(max_iter=3, **kw).fit(X).transform(X[:20])

    # fit: 1 / n_samples, bit for bit; with early stopping, 1 / the rows left after the hold-out.
    np.testing.assert_array_equal(codes(), codes(alpha=1 / 400))
    np.testing.assert_array_equal(codes(early_stopping=True), codes(early_stopping=True, alpha=1 / 360))
    assert not np.array_equal(codes(), codes(alpha=0.0))
    # partial_fit: 1 / the call's rows.
    a, b = small(), small(alpha=1 / 100)
    for chunk in (X[:100], X[100:200]):
        a.partial_fit(chunk)
        b.partial_fit(chunk)
    np.testing.assert_array_equal(a.transform(X[:20]), b.transform(X[:20]))
    with pytest.raises(ValueError, match="'alpha' parameter"):
        small(alpha="large").fit(X)


def test_alpha_auto_keeps_a_small_training_set_from_being_memorised(digits):
    # 200 digits: without weight decay the 64-128-32 network reconstructs its training rows 6x better
    # than new ones; the default's decay of 1/200 trades some of that for held-out reconstruction
    # (measured, seeds 0-2: held-out MSE 0.019-0.020 against 0.026-0.037).
    X = digits[0]
    train, held_out = X[:200], X[1000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = Autoencoder(n_components=32, max_iter=100, random_state=0).fit(train)
        no_decay = Autoencoder(n_components=32, max_iter=100, random_state=0, alpha=0.0).fit(train)
    assert no_decay.score(train) > default.score(train)
    assert -default.score(held_out) < 0.8 * -no_decay.score(held_out)


def offset_and_scaled_data(n=2000, d=24, seed=0):
    """The issue's hard case: spectrum 9, 6, 4, 3 then 0.8 … 0.1, every feature shifted by +5 and then
    scaled by factors spread over three orders of magnitude (0.03 … 30)."""
    rng = np.random.RandomState(seed)
    spectrum = np.r_[9, 6, 4, 3, np.linspace(0.8, 0.1, d - 4)]
    basis, _ = np.linalg.qr(rng.randn(d, d))
    X = (rng.randn(n, d) * np.sqrt(spectrum)) @ basis.T
    return ((X + 5.0) * np.logspace(-1.5, 1.5, d)).astype(np.float32)


@pytest.mark.parametrize("scaled", [False, True], ids=["offset", "offset-and-scales"])
def test_linear_autoencoder_finds_pca_subspace_on_uncentred_unscaled_data(scaled):
    """Mini-batch Adam at its default tol: before the network standardised its input, the offset alone
    left it at a saddle with one of the four directions missing (angle 1.47 rad, MSE 1.30x PCA's)."""
    X = offset_and_scaled_data()
    if not scaled:
        X = X / np.logspace(-1.5, 1.5, X.shape[1]).astype(np.float32)
    pca = PCA(4).fit(X)
    ae = Autoencoder(
        n_components=4, hidden_layer_sizes=(), activation="identity", learning_rate_init=1e-2,
        max_iter=300, random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X)
    # The decoder's span in the user's units (the reconstruction subspace) against PCA's.
    Z = np.vstack([np.zeros((1, 4)), np.eye(4)]).astype(np.float32)
    D = ae.inverse_transform(Z).astype(np.float64)
    assert subspace_angles((D[1:] - D[0]).T, pca.components_.T).max() < 0.05
    ae_mse = np.mean((ae.inverse_transform(ae.transform(X)) - X) ** 2, dtype=np.float64)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert ae_mse <= 1.02 * pca_mse
    # The loss is in the user's units: the last epoch's training loss is about that MSE.
    assert ae.loss_curve_[-1] == pytest.approx(ae_mse, rel=0.1)


def test_conditioning_is_learned_at_first_fit_and_kept(digits):
    X, _ = digits
    X = X * 100.0 + 7.0
    est = small(max_iter=2).fit(X)
    cond = est.module_.conditioning
    np.testing.assert_allclose(cond.loc.numpy(), X.mean(axis=0), rtol=1e-5, atol=1e-4)
    # The standard deviation, raised so that no value is more than 10 scales away; constant pixels
    # (digits' left column) get the mean of the others'.
    scale = cond.scale.numpy()
    spread = np.maximum(X.max(0) - X.mean(0), X.mean(0) - X.min(0)) / 10
    varying = X.std(axis=0) > 0
    np.testing.assert_allclose(scale[varying], np.maximum(X.std(0), spread)[varying], rtol=1e-4)
    np.testing.assert_allclose(scale[~varying], scale[varying].mean(), rtol=1e-5)
    # partial_fit and warm starts keep the statistics of the first fit.
    est.partial_fit(X[:100] * 3.0)
    np.testing.assert_allclose(est.module_.conditioning.loc.numpy(), cond.loc.numpy())
    # They are buffers of the network: saved with it.
    assert "conditioning.loc" in est.module_.state_dict()
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.module_.conditioning.scale.numpy(), est.module_.conditioning.scale.numpy())


def test_feature_statistics_in_chunks_match_numpy(monkeypatch):
    from skae import _data

    rng = np.random.RandomState(0)
    X = (rng.randn(1000, 7) * [1, 10, 1e-3, 0, 5, 1, 1] + [0, 1e4, 3, 2, -1, 0, 0]).astype(np.float32)
    X[:, 6] = 0.0
    X[5, 6] = 1.0  # a rare value: the scale is raised to a tenth of its distance from the mean
    monkeypatch.setattr(_data, "_STATS_CHUNK_VALUES", 7 * 33)  # 33 rows a chunk
    for data in (X, sp.csr_matrix(X)):
        mean, var, scale, fills_unit_box = _data._feature_statistics(data)
        assert not fills_unit_box
        X64 = X.astype(np.float64)
        np.testing.assert_allclose(mean, X64.mean(0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(var, X64.var(0), rtol=1e-9, atol=1e-12)
        assert scale[3] == pytest.approx(np.mean(np.delete(scale, 3)))  # the constant feature
        assert scale[6] == pytest.approx(max(X64[:, 6].std(), (1 - X64[:, 6].mean()) / 10))
        np.testing.assert_allclose(scale[[0, 1, 2, 4]], X64.std(0)[[0, 1, 2, 4]], rtol=1e-9)
    # Every value in [0, 1], the implicit zeros of a sparse matrix included, spanning at least half
    # of it: the unit box, filled.
    U = np.abs(X[:, [0, 3, 6]]) / np.abs(X[:, [0, 3, 6]]).max()
    for data in (U, sp.csr_matrix(U)):
        assert _data._feature_statistics(data).fills_unit_box
        assert not _data._feature_statistics(data * 1.001).fills_unit_box
        assert _data._feature_statistics(data * 0.5).fills_unit_box
        assert not _data._feature_statistics(data * 0.49).fills_unit_box  # in [0, 1], a smaller unit
    assert not _data._feature_statistics(U - 1e-3).fills_unit_box


@pytest.mark.parametrize("code_activation, low, high", [("sigmoid", 0, 1), ("tanh", -1, 1), ("relu", 0, np.inf)])
def test_code_activation_bounds_the_code_and_is_its_derivative(digits, code_activation, low, high):
    X, _ = digits
    est = small(hidden_layer_sizes=(), code_activation=code_activation, max_iter=3).fit(X)
    H = est.transform(X)
    assert H.min() >= low and H.max() <= high
    # One layer: h = a(W (x - loc) / scale + b), so ∂h/∂x = a'(pre) W / scale, with the activation's
    # slope written from its value: h(1 - h), 1 - h², or the step of the pre-activation.
    linear = small(hidden_layer_sizes=(), code_activation="identity", max_iter=3).fit(X)
    assert np.allclose(linear.jacobian(X[:1]), linear.jacobian(X[1:2]), atol=1e-6)
    layer, conditioning = est.module_.encoder.layers[0], est.module_.conditioning
    W, b = layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()
    loc, scale = conditioning.loc.double().numpy(), conditioning.scale.double().numpy()
    pre = (X[:5] - loc) / scale @ W.T + b
    H = est.transform(X[:5])
    slope = {"sigmoid": H * (1 - H), "tanh": 1 - H**2, "relu": (pre > 0).astype(float)}[code_activation]
    np.testing.assert_allclose(H, {"sigmoid": 1 / (1 + np.exp(-pre)), "tanh": np.tanh(pre),
                                   "relu": np.maximum(pre, 0)}[code_activation], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(est.jacobian(X[:5]), slope[:, :, None] * (W / scale)[None], rtol=1e-3, atol=1e-5)


# --------------------------------------------------------------------------- determinism & global state


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_same_random_state_same_result_other_state_differs(digits, dropout):
    X, _ = digits
    a = small(random_state=1, dropout=dropout).fit(X[:300]).transform(X[:50])
    torch.manual_seed(123)  # global RNG state must not matter (dropout draws from random_state)
    b = small(random_state=1, dropout=dropout).fit(X[:300]).transform(X[:50])
    c = small(random_state=2, dropout=dropout).fit(X[:300]).transform(X[:50])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_fit_leaves_global_state_alone(digits, dropout):
    X, _ = digits
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    threads = torch.get_num_threads()
    dtype = torch.get_default_dtype()
    est = small(random_state=None, dropout=dropout).fit(X[:200])
    est.transform(X[:10])
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.get_num_threads() == threads
    assert torch.get_default_dtype() == dtype


def test_random_state_instance_is_accepted(digits):
    X, _ = digits
    a = small(random_state=np.random.RandomState(3)).fit(X[:200]).transform(X[:5])
    b = small(random_state=np.random.RandomState(3)).fit(X[:200]).transform(X[:5])
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- engine


def test_training_reduces_loss_and_records_curves(digits):
    X, _ = digits
    est = small(max_iter=15, tol=0).fit(X)
    assert est.n_iter_ == 15 == len(est.loss_curve_)
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert est.t_ == 15 * len(X)


def test_max_iter_reached_warns(digits):
    X, _ = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        small(max_iter=2, tol=0).fit(X[:100])


def test_tol_stops_before_max_iter(digits):
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = small(max_iter=500, tol=10.0, n_iter_no_change=2).fit(X[:100])
    # The first epoch sets best_loss_; training stops once more than n_iter_no_change (2) epochs in
    # a row fail to improve on it by tol, i.e. after epoch 1 + 3, as in MLPRegressor.
    assert est.n_iter_ == 4


def test_early_stopping_restores_best_weights(digits):
    X, _ = digits
    params = dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, tol=0,
                  learning_rate_init=1e-2, batch_size=32)
    est = small(max_iter=100, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    best_epoch = int(np.argmax(est.validation_scores_)) + 1
    assert best_epoch < est.n_iter_  # it did train past its best epoch
    # Same seed, stopped at the best epoch: same split, same trajectory, so the same weights.
    short = small(max_iter=best_epoch, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short.fit(X)
    np.testing.assert_array_equal(est.transform(X), short.transform(X))


def test_early_stopping_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 samples"):
        small(early_stopping=True).fit(np.ones((1, 3)))


def test_partial_fit_is_one_epoch_and_keeps_optimizer(digits):
    X, _ = digits
    est = small()
    for i in range(3):
        est.partial_fit(X)
        assert est.n_iter_ == i + 1
    assert len(est.loss_curve_) == 3
    state = est._optimizer.state_dict()["state"]
    assert all(int(s["step"]) == 3 * int(np.ceil(len(X) / est._batch_size(len(X)))) for s in state.values())
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :10])


def test_partial_fit_sequence_matches_fit_epochs(digits):
    """k partial_fit calls follow the same trajectory as fit with max_iter=k (same seed)."""
    X, _ = digits
    a = small(max_iter=3, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(X)
    b = small()
    for _ in range(3):
        b.partial_fit(X)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)
    # The same network (the codes' scale pools the three calls' rows: the network's own units here).
    np.testing.assert_allclose(a.transform(X[:20]) * a.code_scale_, b.transform(X[:20]) * b.code_scale_, rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("change", [{"n_components": 5}, {"hidden_layer_sizes": (16, 8)}, {"tied_weights": True},
                                    {"activation": "tanh"}, {"code_activation": "tanh"}, {"conditioning": "none"}])
def test_a_changed_network_shape_is_a_clear_error_until_a_new_fit(digits, change):
    # set_params on a fitted estimator: its outputs, partial_fit and a warm_start fit need the
    # network it has; a cold fit builds the new one (before: shape errors after a trained epoch).
    X, _ = digits
    est = small(max_iter=2).fit(X)
    codes = est.transform(X[:5])
    est.set_params(hidden_layer_sizes=[16])  # the same sizes in a list: the same network
    np.testing.assert_array_equal(est.transform(X[:5]), codes)
    # The same values as numpy gives them (an array's np.int64, a grid's np.str_): no false alarm.
    est.set_params(hidden_layer_sizes=np.array([16]), activation=np.str_("relu"))
    np.testing.assert_array_equal(est.transform(X[:5]), codes)
    est.set_params(hidden_layer_sizes=(16,), activation="relu")
    assert _canonical("module_params", {"b": 1, "a": (2,)}) == _canonical("module_params", {"a": (2,), "b": 1})
    assert repr(_canonical("module_params", {"b": 1, "a": 2})) == repr({"a": 2, "b": 1})
    est.set_params(**change)
    name = next(iter(change))
    for call in (lambda: est.transform(X), lambda: est.inverse_transform(codes), lambda: est.score_samples(X),
                 lambda: est.jacobian(X[:2]), lambda: est.partial_fit(X),
                 lambda: est.set_params(warm_start=True).fit(X)):
        with pytest.raises(ValueError, match=rf"network was built with {name}=.*but its parameters now say {name}="):
            call()
    assert est.n_iter_ == 2  # nothing trained
    est.set_params(warm_start=False).fit(X)
    assert est.transform(X[:5]).shape == (5, change.get("n_components", 4))


@pytest.mark.parametrize(("cls", "built", "change", "named"), [
    (SparseAutoencoder, {}, {"sparsity": "kl"}, "sparsity"),
    (VAE, {}, {"likelihood": "bernoulli"}, "likelihood"),
    (HashingAutoencoder, {}, {"binarization": "sigmoid"}, "binarization"),
    (Autoencoder, {}, {"loss": "bce"}, "output_activation"),  # "auto" follows the loss
])
def test_a_changed_layer_setting_is_a_clear_error_until_a_new_fit(digits, cls, built, change, named):
    # What the layers compute is built in as much as their shapes: a partial_fit or transform after
    # set_params(sparsity="kl") used the network's ReLU code and said nothing. (A top-k code's k may
    # change between calls: test_sparse's annealing.)
    X, _ = digits
    est = cls(n_components=4, hidden_layer_sizes=(8,), max_iter=2, random_state=0, **built)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X[:200]).set_params(**change)
    for call in (lambda: est.transform(X), lambda: est.partial_fit(X)):
        with pytest.raises(ValueError, match=rf"built with {named}=.*now say {named}="):
            call()
    assert est.set_params(warm_start=False).fit(X[:200]).transform(X[:3]).shape == (3, 4)


def test_dropout_changed_between_partial_fit_calls_takes_effect(digits):
    # A training-time setting: partial_fit reads it every call, as scikit-learn's partial_fit reads
    # its parameters; the codes (no dropout at inference) do not depend on it.
    X, _ = digits
    est = small().partial_fit(X)
    codes, saved = est.transform(X[:5]), pickle.dumps(est)
    np.testing.assert_array_equal(est.set_params(dropout=0.3).transform(X[:5]), codes)
    est.partial_fit(X)
    assert [layer.dropout for layer in (est.module_.encoder, est.module_.decoder)] == [0.3, 0.3]
    kept = pickle.loads(saved).partial_fit(X)
    assert not np.array_equal(est.transform(X[:5]), kept.transform(X[:5]))


def test_shuffle_false_steps_through_the_rows_in_order(digits):
    # The oracle: one epoch of fit without shuffling is the batches X[0:50], X[50:100], ... in turn,
    # as partial_fit calls of one batch each. (Equal up to the objective's unit, the variance of all
    # rows for fit and of the first call's for partial_fit, which Adam's steps barely see.)
    X = digits[0][:200]
    params = dict(n_components=4, hidden_layer_sizes=(16,), random_state=0, alpha=0.0, conditioning="none",
                  batch_size=50, scale_codes=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ordered = Autoencoder(max_iter=1, shuffle=False, **params).fit(X)
        shuffled = Autoencoder(max_iter=1, **params).fit(X)
    stepped = Autoencoder(shuffle=False, **params)
    for start in range(0, len(X), 50):
        stepped.partial_fit(X[start : start + 50])
    for a, b in zip(ordered.module_.parameters(), stepped.module_.parameters()):
        np.testing.assert_allclose(a.detach(), b.detach(), atol=1e-4)
    pairs = zip(ordered.module_.parameters(), shuffled.module_.parameters())
    assert not all(torch.allclose(a, c, atol=1e-4) for a, c in pairs)  # shuffled: other steps


def test_warm_start_continues(digits):
    X, _ = digits
    est = small(max_iter=3, tol=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
        first = est.loss_curve_[-1]
        est.fit(X)
    assert est.n_iter_ == 6 and len(est.loss_curve_) == 6
    assert est.loss_curve_[-1] < first
    cold = small(max_iter=3, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X)
        cold.fit(X)
    assert cold.n_iter_ == 3


def test_verbose_prints_one_line_per_epoch(digits, capsys, monkeypatch):
    import skae._progress

    monkeypatch.setattr(skae._progress, "_tqdm", lambda: None)  # the plain lines, tqdm installed or not
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small(max_iter=3, tol=0, verbose=1).fit(X[:100])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Iteration")]
    assert len(lines) == 3 and "loss = " in lines[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small(max_iter=1, batch_size=10, verbose=2).fit(X[:100])
    assert "10/10 batches" in capsys.readouterr().out


def test_tiny_data_and_one_component():
    X = np.array([[0.0, 1.0, 2.0]])
    est = Autoencoder(n_components=1, hidden_layer_sizes=(), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        Z = est.fit_transform(X)
    assert Z.shape == (1, 1) and np.isfinite(Z).all()


@pytest.mark.parametrize("kw", [{"tied_weights": True}, {"dropout": 0.3}, {"alpha": 1e-2},
                                {"activation": "tanh"}, {"activation": "gelu"},
                                {"hidden_layer_sizes": (16, 8)}, {"precision": "bfloat16"}])
def test_options_train(digits, kw):
    X, _ = digits
    if kw.get("precision") == "bfloat16" and not _bfloat16_supported():
        with pytest.raises(ValueError, match="bfloat16"):
            small(**kw).fit(X)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = small(max_iter=10, tol=0, **kw).fit(X)
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert np.isfinite(est.transform(X)).all()


def test_tied_weights_share_parameters(digits):
    X, _ = digits
    tied = small(tied_weights=True).fit(X[:50])
    untied = small().fit(X[:50])
    n_tied = sum(p.numel() for p in tied.module_.parameters())
    n_untied = sum(p.numel() for p in untied.module_.parameters())
    assert n_untied - n_tied == 64 * 16 + 16 * 4


def test_bce_loss_and_sigmoid_output(digits):
    X, _ = digits
    est = small(loss="bce", max_iter=10).fit(X)
    R = est.inverse_transform(est.transform(X))
    assert R.min() >= 0 and R.max() <= 1
    eps = 1e-7
    Rc = np.clip(R.astype(np.float64), eps, 1 - eps)
    bce = -(X * np.log(Rc) + (1 - X) * np.log(1 - Rc)).mean(axis=1)
    np.testing.assert_allclose(est.score_samples(X), -bce, rtol=1e-3, atol=1e-4)


def test_sigmoid_output_with_squared_error(digits):
    # An explicit output activation, apart from the loss: sigmoid reconstructions in (0, 1), scored by
    # their squared error (not the cross-entropy "auto" would pair with the sigmoid).
    X, _ = digits
    est = small(output_activation="sigmoid", max_iter=5).fit(X)
    R = est.inverse_transform(est.transform(X))
    assert R.min() > 0 and R.max() < 1
    np.testing.assert_allclose(est.score_samples(X), -((R - X) ** 2).mean(axis=1), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- methods


def test_score_samples_is_negative_mse(digits):
    X, _ = digits
    est = small().fit(X)
    R = est.inverse_transform(est.transform(X))
    np.testing.assert_allclose(est.score_samples(X), -((R - X) ** 2).mean(axis=1), rtol=1e-4, atol=1e-6)
    assert est.score(X) == pytest.approx(float(est.score_samples(X).mean()), rel=1e-5)


def test_jacobian_matches_finite_differences(digits):
    X, _ = digits
    est = small(activation="tanh", hidden_layer_sizes=(16, 8)).fit(X[:200])
    x = X[:3].astype(np.float64)
    J = est.jacobian(x)
    assert J.shape == (3, 4, 64)
    h = 1e-3
    fd = np.empty_like(J)
    for j in range(64):
        e = np.zeros(64)
        e[j] = h
        fd[:, :, j] = (est.transform(x + e) - est.transform(x - e)) / (2 * h)
    np.testing.assert_allclose(J, fd, atol=2e-3, rtol=2e-2)


def test_inverse_transform_checks_width(digits):
    X, _ = digits
    est = small().fit(X[:50])
    with pytest.raises(ValueError, match="expecting 4 features"):
        est.inverse_transform(np.zeros((2, 3)))


def test_unfitted_raises():
    with pytest.raises(NotFittedError):
        small().transform(np.zeros((2, 3)))


def test_feature_names_out(digits):
    X, _ = digits
    est = small().fit(X[:50])
    assert list(est.get_feature_names_out()) == [f"autoencoder{i}" for i in range(4)]


def test_pickle_round_trip_identical(digits):
    X, _ = digits
    est = small().fit(X[:300])
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est.transform(X), clone.transform(X))
    np.testing.assert_array_equal(est.score_samples(X), clone.score_samples(X))
    # a loaded model can keep training
    clone.partial_fit(X[:300])
    assert clone.n_iter_ == est.n_iter_ + 1


def test_pickle_from_other_version_warns(digits):
    X, _ = digits
    est = small().fit(X[:50])
    state = est.__getstate__()
    state["_skae_version"] = "0.0.1"
    other = Autoencoder.__new__(Autoencoder)
    with pytest.warns(UserWarning, match="0.0.1"):
        other.__setstate__(state)


def test_pipeline_and_grid_search(digits):
    X, y = digits
    pipe = Pipeline(
        [("ae", small(max_iter=30, n_components=16, hidden_layer_sizes=(32,), batch_size=32,
                      learning_rate_init=1e-2)),
         ("clf", LogisticRegression(max_iter=500))]
    )
    grid = GridSearchCV(pipe, {"ae__alpha": [0.0, 0.1]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X[:400], y[:400])
    # A strong weight penalty shrinks the code: the search must prefer none.
    assert grid.best_params_["ae__alpha"] == 0.0
    # The refitted pipeline's 16 codes classify about as well as PCA's 16 directions (within 10 of the
    # 200 test rows; 30 epochs on 400 rows).
    pca = Pipeline([("pca", PCA(16, random_state=0)), ("clf", LogisticRegression(max_iter=500))])
    assert grid.score(X[400:600], y[400:600]) >= pca.fit(X[:400], y[:400]).score(X[400:600], y[400:600]) - 0.05


# --------------------------------------------------------------------------- inputs


def test_input_containers_agree(digits):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    X = X[:120]
    est = small().fit(X)
    ref = est.transform(X)
    np.testing.assert_allclose(est.transform(X.tolist()), ref, rtol=1e-5)
    np.testing.assert_allclose(est.transform(sp.csr_matrix(X)), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.transform(sp.csc_matrix(X)), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.transform(np.asfortranarray(X)), ref, rtol=1e-5)
    ro = X.copy()
    ro.setflags(write=False)
    np.testing.assert_allclose(est.transform(ro), ref, rtol=1e-5)
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    est_df = small().fit(df)
    assert list(est_df.feature_names_in_) == list(df.columns)
    np.testing.assert_allclose(est_df.transform(df), ref, rtol=1e-5)


def test_sparse_fit_matches_dense(digits):
    X, _ = digits
    X = X[:200]
    dense = small().fit(X).transform(X)
    sparse = small().fit(sp.csr_matrix(X)).transform(X)
    np.testing.assert_allclose(dense, sparse, rtol=1e-4, atol=1e-5)


def test_memmap_and_integer_input(tmp_path, digits):
    X, _ = digits
    path = tmp_path / "X.npy"
    np.save(path, X[:200])
    mm = np.load(path, mmap_mode="r")
    est = small().fit(mm)
    np.testing.assert_allclose(est.transform(mm), small().fit(X[:200]).transform(X[:200]), rtol=1e-4)
    Xi = (X[:100] * 16).astype(np.int64)
    assert est.__class__(**est.get_params()).fit(Xi).transform(Xi).dtype == np.float32


def test_fit_does_not_modify_x(digits):
    X, _ = digits
    X = X[:100].astype(np.float64)
    before = X.copy()
    small(dropout=0.5).fit(X)
    np.testing.assert_array_equal(X, before)
    X32 = X.astype(np.float32)
    before32 = X32.copy()
    small().fit(X32).transform(X32)
    np.testing.assert_array_equal(X32, before32)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0]]), "infinity"),
        (np.array([[1 + 1j, 1.0], [1.0, 2.0]]), "[Cc]omplex"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), "[Ss]tring|could not convert"),
        (np.zeros((2, 2, 2)), "dim"),
        (np.zeros((0, 3)), "0 sample"),
        (np.array([[1e300, 1.0], [1.0, 2.0]]), "too large"),
    ],
)
def test_bad_input_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        small().fit(bad)


@pytest.mark.parametrize("unit", [1e-19, 1e19])
def test_training_is_the_same_in_units_whose_squares_leave_float32(digits, unit):
    # Squared errors of 1e-19 or 1e19 would underflow or overflow float32 (before: no epoch trained,
    # "diverged"); the objective is relative to the data's spread, so the model is the same.
    X = digits[0][:200].astype(np.float64)
    plain = small(max_iter=3).fit(X)
    scaled = small(max_iter=3).fit(X * unit)
    assert scaled.n_iter_ == 3
    np.testing.assert_allclose(scaled.transform(X[:20] * unit), plain.transform(X[:20]), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.array(scaled.loss_curve_) / unit**2, plain.loss_curve_, rtol=1e-3)


def test_early_stopping_names_why_no_row_is_left_to_train_on():
    X = np.random.RandomState(0).rand(20, 3)
    with pytest.raises(ValueError, match=r"validation_fraction=0.98 of n_samples=20 holds out 20 rows"):
        small(early_stopping=True, validation_fraction=0.98).fit(X)
    with pytest.raises(ValueError, match=r"needs at least 2 samples .* got n_samples=1"):
        small(early_stopping=True).fit(X[:1])
    # Refused before the network is rebuilt: a fitted model stays as it was.
    est = small(max_iter=2).fit(X)
    codes = est.transform(X)
    with pytest.raises(ValueError, match="validation_fraction"):
        est.set_params(early_stopping=True, validation_fraction=0.98).fit(X)
    np.testing.assert_array_equal(est.transform(X), codes)


def test_bce_outside_unit_interval_names_remedy():
    with pytest.raises(ValueError, match="MinMaxScaler"):
        small(loss="bce").fit(np.array([[0.0, 2.0], [1.0, 0.5]]))


@pytest.mark.parametrize("cls", [Autoencoder, SparseAutoencoder, DenoisingAutoencoder, ContractiveAutoencoder,
                                 HashingAutoencoder])
def test_bce_needs_the_sigmoid_output(cls):
    # A linear reconstruction is no probability: the cross-entropy would be clamped where it leaves
    # (0, 1), and those outputs would get no gradient.
    with pytest.raises(ValueError, match=r"needs output_activation='sigmoid' \(or 'auto'\), got 'identity'"):
        cls(loss="bce", output_activation="identity", max_iter=1).fit(np.array([[0.0, 1.0], [1.0, 0.5]] * 4))


@pytest.mark.parametrize(
    "kw",
    [{"n_components": 0}, {"activation": "swish"}, {"loss": "l1"}, {"dropout": 1.0},
     {"learning_rate_init": 0}, {"batch_size": 0}, {"hidden_layer_sizes": (4, -1)},
     {"validation_fraction": 1.0}, {"device": "tpu"}, {"precision": "float16"}],
)
def test_invalid_hyperparameters(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):  # the message names the parameter
        small(**kw).fit(np.ones((4, 3)))


def test_cuda_unavailable_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; this tests the message on CPU-only machines")
    with pytest.raises(ValueError, match="CUDA is not available"):
        small(device="cuda").fit(np.ones((4, 3)))


def test_extreme_values_give_finite_codes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)) * 1e30
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = small().fit(X)
    assert np.isfinite(est.transform(X)).all()
    assert all(torch.isfinite(p).all() for p in est.module_.parameters())


def test_divergence_restores_finite_weights(digits):
    X, _ = digits
    X = X * 1e6
    with pytest.warns(ConvergenceWarning, match="diverged.*learning_rate_init"):
        est = small(learning_rate_init=1e4, max_iter=50).fit(X)
    assert all(torch.isfinite(p).all() for p in est.module_.parameters())
    assert np.isfinite(est.transform(X)).all()
    assert all(np.isfinite(est.loss_curve_))


def test_learning_rate_change_applies_to_partial_fit(digits):
    """set_params(learning_rate_init=...) between partial_fit calls acts on the live optimizer."""
    X, _ = digits
    est = small().partial_fit(X)
    before = est.transform(X[:20])
    est.set_params(learning_rate_init=1e-12).partial_fit(X)
    np.testing.assert_allclose(est.transform(X[:20]), before, atol=1e-6)
    est.set_params(learning_rate_init=1e-2).partial_fit(X)
    assert np.abs(est.transform(X[:20]) - before).max() > 1e-3


@pytest.mark.parametrize("before, after", [(0.0, 1.0), (1.0, 0.0)])
def test_alpha_change_applies_to_partial_fit(digits, before, after):
    """set_params(alpha=...) between partial_fit calls decays the weights from the next call on (as
    MLPRegressor.partial_fit reads alpha at every call), the optimizer's moments kept."""
    X, _ = digits

    def weights_norm(est):
        return sum(float(p.detach().square().sum()) for p in est.module_.encoder.parameters() if p.dim() == 2)

    switched, kept = small(alpha=before).partial_fit(X), small(alpha=before).partial_fit(X)
    switched.set_params(alpha=after)
    for _ in range(8):
        switched.partial_fit(X)
        kept.partial_fit(X)
    heavier, lighter = (switched, kept) if after > before else (kept, switched)
    assert weights_norm(heavier) < 0.5 * weights_norm(lighter)
    # No change, no new optimizer: the same steps as without the set_params call.
    same = small(alpha=before).partial_fit(X).set_params(alpha=before)
    for _ in range(8):
        same.partial_fit(X)
    np.testing.assert_array_equal(same.transform(X[:20]), kept.transform(X[:20]))


def test_tangent_space_is_the_svd_of_the_standardised_jacobian(digits):
    X, _ = digits
    est = small(activation="tanh", hidden_layer_sizes=(16, 8)).fit(X[:200])
    x = X[:70]  # more rows than one Jacobian batch
    directions, sigma = est.tangent_space(x)
    assert directions.shape == (70, 4, 64) and sigma.shape == (70, 4)
    assert directions.dtype == sigma.dtype == np.float32
    J = est.jacobian(x).astype(np.float64)
    scale = est.module_.conditioning.scale.numpy().astype(np.float64)
    J_std = J * scale  # ∂h/∂x_std, the Jacobian in the network's standardised units
    np.testing.assert_allclose(sigma, np.linalg.svd(J_std, compute_uv=False), rtol=1e-4, atol=1e-6)
    # Directions: orthonormal in standardised units; each moves the code at its singular value.
    V_std = directions / scale
    gram = V_std @ V_std.transpose(0, 2, 1)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(4), gram.shape), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(J @ directions.transpose(0, 2, 1), axis=1), sigma, rtol=1e-4)
    # All of them: the squared singular values sum to the squared Frobenius norm (the CAE's penalty).
    np.testing.assert_allclose((sigma.astype(np.float64) ** 2).sum(axis=1), (J_std**2).sum(axis=(1, 2)), rtol=1e-4)
    # Deterministic signs; the leading ones alone are the first of all; rows do not interact.
    peak = np.take_along_axis(directions, np.abs(directions).argmax(axis=2)[..., None], axis=2)
    assert (peak > 0).all()
    lead, lead_sigma = est.tangent_space(x[:3], n_directions=2)
    np.testing.assert_allclose(lead, directions[:3, :2], atol=1e-5)
    np.testing.assert_allclose(lead_sigma, sigma[:3, :2], rtol=1e-5)


def test_tangent_space_of_a_linear_encoder_is_the_same_everywhere(digits):
    X, _ = digits
    lin = small(hidden_layer_sizes=(), activation="identity").fit(X[:200])
    directions, sigma = lin.tangent_space(X[:5], n_directions=3)
    np.testing.assert_allclose(directions, np.broadcast_to(directions[0], directions.shape), atol=1e-5)
    np.testing.assert_allclose(sigma, np.broadcast_to(sigma[0], sigma.shape), rtol=1e-5)


@pytest.mark.parametrize("n_directions", [0, 5, -1, 1.5, True, "2"])
def test_tangent_space_rejects_bad_n_directions(digits, n_directions):
    X, _ = digits
    est = small().fit(X[:50])
    with pytest.raises(ValueError, match=r"n_directions must be an integer in \[1, 4\]"):
        est.tangent_space(X[:2], n_directions=n_directions)


def _spread(codes):
    """The square root of the code units' mean variance."""
    return float(np.sqrt(np.var(np.asarray(codes, dtype=np.float64), axis=0).mean()))


def test_scale_codes_divides_the_linear_code_by_its_training_spread(digits):
    """The same network with and without scale_codes: one factor apart in the codes and the
    Jacobian, unit spread on the training rows, the same reconstructions."""
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scaled = small().fit(X)
        raw = small(scale_codes=False).fit(X)
    assert raw.code_scale_ == 1.0
    assert scaled.code_scale_ == pytest.approx(_spread(raw.transform(X)), rel=1e-5)
    assert abs(scaled.code_scale_ - 1.0) > 0.1  # the network's own units are not unit spread here
    Z = scaled.transform(X)
    assert _spread(Z) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(Z * scaled.code_scale_, raw.transform(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaled.inverse_transform(Z), raw.inverse_transform(raw.transform(X)), atol=1e-5)
    np.testing.assert_allclose(
        scaled.jacobian(X[:5]) * scaled.code_scale_, raw.jacobian(X[:5]), rtol=1e-4, atol=1e-6
    )
    Z_before = Z.copy()
    scaled.inverse_transform(Z)
    np.testing.assert_array_equal(Z, Z_before)  # the user's codes are not rescaled in place


@pytest.mark.parametrize("code_activation, scaled", [("identity", True), ("sigmoid", False), ("relu", False)])
def test_scale_codes_auto_scales_the_linear_code_only(digits, code_activation, scaled):
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = small(code_activation=code_activation, max_iter=2).fit(X)
    assert (est.code_scale_ != 1.0) == scaled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        forced = small(code_activation=code_activation, max_iter=2, scale_codes=True).fit(X)
    assert _spread(forced.transform(X)) == pytest.approx(1.0, rel=1e-5)


def test_scale_codes_partial_fit_pools_every_calls_rows(digits):
    """One partial_fit call gives fit's scale (max_iter=1); later calls pool their rows' codes, each
    read by the network of its call (as StandardScaler.partial_fit pools), so a call of a few rows,
    or of near-duplicates, barely moves it; a first call of one row leaves the network's units."""
    X, _ = digits

    def codes(est, rows):
        return est._apply(rows, lambda m, xb: m.encode(xb), (4,)).astype(np.float64)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = small(max_iter=1, tol=0).fit(X)
    est = small().partial_fit(X[:600])
    np.testing.assert_allclose(small().partial_fit(X).code_scale_, fitted.code_scale_, rtol=1e-6)
    seen = [codes(est, X[:600])]
    for rows in (X[600:1200], X[1200:1202], np.repeat(X[:1], 50, axis=0)):
        est.partial_fit(rows)
        seen.append(codes(est, rows))
        assert est.code_scale_ == pytest.approx(_spread(np.vstack(seen)), rel=1e-6)
    assert est.code_scale_ == pytest.approx(_spread(np.vstack(seen[:2])), rel=0.1)
    assert small().partial_fit(X[:1]).code_scale_ == 1.0
    # A fit starts the estimate anew.
    assert est.set_params(max_iter=1, tol=0).fit(X).code_scale_ == pytest.approx(fitted.code_scale_, rel=1e-6)


def test_scale_codes_a_pickle_from_before_keeps_the_network_units(digits):
    """An Autoencoder pickled before scale_codes existed loads with its codes as they were."""
    X, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = small(max_iter=2).fit(X)
    raw = est.transform(X[:10]) * est.code_scale_
    state = est.__getstate__()
    state.pop(DIGEST_KEY)
    del state["scale_codes"], state["code_scale_"]
    state = seal(state)  # as the version before wrote it
    old = Autoencoder.__new__(Autoencoder)
    old.__setstate__(state)
    np.testing.assert_allclose(old.transform(X[:10]), raw, rtol=1e-5, atol=1e-6)
