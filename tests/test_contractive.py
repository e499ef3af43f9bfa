"""ContractiveAutoencoder: an exact Jacobian penalty that contracts the encoder, on digits."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler
from torch import nn

from skae import Autoencoder, AutoencoderClassifier, ContractiveAutoencoder


@pytest.fixture(scope="module")
def digits():
    return MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)


def fit_quiet(est, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X) if y is None else est.fit(X, y)


def mean_jacobian_norm(est, X, standardized=False):
    """Mean ‖∂h/∂x‖²_F in the user's units, or with respect to the standardised input the penalty uses."""
    J = est.jacobian(X).astype(np.float64)
    if standardized:  # x_std = (x - loc) / scale, so ∂h/∂x_std = (∂h/∂x) diag(scale)
        J = J * est.module_.conditioning.scale.numpy()
    return (J**2).sum(axis=(1, 2)).mean()


def penalty(est, X, train=False, seed=0, module=None):
    """The training penalty's value on X, through the estimator's own forward pass."""
    module = est.module_ if module is None else module
    module.train(train)
    try:
        with torch.no_grad():
            _, _, penalty = est._penalised_pass(
                module, torch.from_numpy(X), torch.Generator().manual_seed(seed)
            )
            return penalty.double().mean().item()
    finally:
        module.eval()


@pytest.mark.parametrize(
    "hidden, activation",
    [
        ((), "relu"),
        ((32,), "relu"),
        ((32,), "tanh"),
        ((100,), "sigmoid"),  # first hidden layer wider than the input
        ((48, 24), "elu"),
        ((48, 24), "gelu"),
        ((16, 16, 16), "tanh"),
    ],
)
def test_penalty_equals_the_mean_squared_frobenius_norm_of_jacobian(digits, hidden, activation):
    cae = fit_quiet(
        ContractiveAutoencoder(
            n_components=6,
            contraction_estimator="exact",
            hidden_layer_sizes=hidden,
            activation=activation,
            max_iter=3,
            random_state=0,
        ),
        digits[:400],
    )
    X = digits[400:528]
    assert penalty(cae, X) == pytest.approx(mean_jacobian_norm(cae, X, standardized=True), rel=1e-4)


def test_penalty_with_tied_weights_equals_the_jacobian_value(digits):
    cae = fit_quiet(
        ContractiveAutoencoder(
            n_components=5,
            contraction_estimator="exact",
            hidden_layer_sizes=(20,),
            activation="tanh",
            tied_weights=True,
            max_iter=3,
            random_state=0,
        ),
        digits[:400],
    )
    assert penalty(cae, digits[:64]) == pytest.approx(
        mean_jacobian_norm(cae, digits[:64], standardized=True), rel=1e-4
    )


@pytest.mark.parametrize("estimator", ["exact", "stochastic"])
def test_contractive_encoder_is_much_flatter_than_the_plain_one(digits, estimator):
    arch = dict(
        n_components=16,
        hidden_layer_sizes=(64,),
        activation="tanh",
        tied_weights=True,  # the contractive default, for both
        max_iter=30,
        learning_rate_init=1e-2,
        random_state=0,
    )
    ae = fit_quiet(Autoencoder(**arch), digits)
    cae = fit_quiet(
        ContractiveAutoencoder(contraction_weight=0.1, contraction_estimator=estimator, **arch),
        digits,
    )
    assert mean_jacobian_norm(cae, digits) < 0.25 * mean_jacobian_norm(ae, digits)
    # ... and it still reconstructs, better than the mean image does.
    baseline = ((digits - digits.mean(axis=0)) ** 2).mean()
    assert -cae.score(digits) < 0.75 * baseline
    # A stronger penalty contracts more.
    strong = fit_quiet(
        ContractiveAutoencoder(contraction_weight=1.0, contraction_estimator=estimator, **arch),
        digits,
    )
    assert mean_jacobian_norm(strong, digits) < mean_jacobian_norm(cae, digits)


def test_zero_weight_trains_exactly_like_the_plain_autoencoder(digits):
    # The layer-by-layer forward pass that keeps the pre-activations is the module's own forward.
    arch = dict(n_components=4, hidden_layer_sizes=(16, 8), max_iter=3, random_state=0)
    for tied in (True, False):
        params = dict(arch, tied_weights=tied)
        a = fit_quiet(ContractiveAutoencoder(contraction_weight=0.0, **params), digits[:300])
        b = fit_quiet(Autoencoder(scale_codes=False, **params), digits[:300])  # its network's codes
        Xt = digits[:50]
        np.testing.assert_allclose(a.transform(Xt), b.transform(Xt), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)


def test_default_decoder_is_tied(digits):
    # Untied, the penalty could be evaded by shrinking the code and growing the decoder.
    cae = fit_quiet(ContractiveAutoencoder(max_iter=1, random_state=0), digits[:50])
    assert cae.tied_weights is True
    assert not hasattr(cae.module_.decoder, "layers")  # a TiedMLP: no weight matrices of its own


def test_training_penalty_with_dropout_uses_the_estimators_generator(digits):
    cae = fit_quiet(
        ContractiveAutoencoder(
            n_components=4,
            contraction_estimator="exact",
            hidden_layer_sizes=(32, 16),
            dropout=0.3,
            max_iter=2,
            random_state=0,
        ),
        digits[:300],
    )
    X = digits[:64]
    # Training mode: dropout masks enter the penalty; the same seed gives the same masks.
    assert penalty(cae, X, train=True, seed=1) == penalty(cae, X, train=True, seed=1)
    assert penalty(cae, X, train=True, seed=1) != penalty(cae, X, train=True, seed=2)
    # Eval mode: no dropout, the value of the public jacobian.
    assert penalty(cae, X) == pytest.approx(mean_jacobian_norm(cae, X, standardized=True), rel=1e-4)


def test_fit_is_reproducible(digits):
    arch = dict(n_components=3, hidden_layer_sizes=(8,), max_iter=2, random_state=7)
    a = fit_quiet(ContractiveAutoencoder(**arch), digits[:200]).transform(digits[:10])
    b = fit_quiet(ContractiveAutoencoder(**arch), digits[:200]).transform(digits[:10])
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weight", [-0.1, "big"])
def test_bad_contraction_weight_raises(digits, weight):
    with pytest.raises(ValueError, match="'contraction_weight' parameter"):
        ContractiveAutoencoder(contraction_weight=weight, max_iter=1).fit(digits[:20])


# ------------------------------------------------------------------ the stochastic estimate


class _Opaque(nn.Module):
    """A module that offers only ``encode`` / ``decode`` (no MLP the exact closed form can read)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def encode(self, x):
        return self.inner.encode(x)

    def decode_preactivation(self, z):
        return self.inner.decode_preactivation(z)

    def forward(self, x):
        return self.inner(x)


@pytest.fixture(scope="module")
def stochastic_cae(digits):
    return fit_quiet(
        ContractiveAutoencoder(
            n_components=12,
            contraction_estimator="stochastic",
            hidden_layer_sizes=(32, 16),
            activation="tanh",
            max_iter=3,
            random_state=0,
        ),
        digits[:400],
    )


def test_stochastic_penalty_is_unbiased_for_the_exact_one(digits, stochastic_cae):
    # The estimator's own forward pass, with a fresh generator per draw: the draws' mean matches
    # the exact ‖∂h/∂x_std‖²_F (from the public jacobian) within a few standard errors.
    X = digits[400:464]
    exact = mean_jacobian_norm(stochastic_cae, X, standardized=True)
    draws = np.array([penalty(stochastic_cae, X, seed=seed) for seed in range(300)])
    se = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - exact) < 4 * se
    assert se < 0.01 * exact  # ... and the test could fail: the draws pin the mean down
    assert draws.std() > 0  # they are random draws, not the exact value again


def test_any_module_with_encode_gets_both_penalties(digits, stochastic_cae):
    # Neither path needs the MLP: vector-Jacobian products through autograd of module.encode,
    # K basis vectors for the exact value, random signs for the estimate.
    X = digits[400:464]
    opaque = _Opaque(stochastic_cae.module_)
    exact = mean_jacobian_norm(stochastic_cae, X, standardized=True)
    params = stochastic_cae.get_params()
    try:
        stochastic_cae.set_params(contraction_estimator="exact")
        assert penalty(stochastic_cae, X, module=opaque) == pytest.approx(exact, rel=1e-4)
    finally:
        stochastic_cae.set_params(**params)
    for seed in (0, 1):  # the same draws as through the MLP's module: only module.encode is used
        assert penalty(stochastic_cae, X, seed=seed, module=opaque) == pytest.approx(
            penalty(stochastic_cae, X, seed=seed), rel=1e-5
        )


@pytest.mark.parametrize(
    "hidden, n_components, n_projections, opaque, exact",
    [
        ((), 30, 1, False, True),  # one layer: the closed form
        ((16,), 2, 1, False, True),  # small code
        ((16,), 3, 1, False, False),
        ((16, 8), 4, 2, False, True),
        ((16, 8), 5, 2, False, False),
        ((16,), 1, 1, True, True),  # any module: K products vs n_projections products
        ((16,), 2, 1, True, False),
        ((16,), 2, 2, True, True),
    ],
)
def test_auto_is_exact_where_exact_is_cheap(digits, hidden, n_components, n_projections, opaque, exact):
    cae = ContractiveAutoencoder(
        n_components=n_components,
        hidden_layer_sizes=hidden,
        n_projections=n_projections,
        max_iter=1,
        random_state=0,
    )
    module = fit_quiet(cae, digits[:50]).module_
    assert cae._exact(_Opaque(module) if opaque else module) is exact
    for forced in ("exact", "stochastic"):
        assert cae.set_params(contraction_estimator=forced)._exact(module) is (forced == "exact")


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_stochastic_fit_is_reproducible_and_leaves_global_rng_alone(digits, dropout):
    arch = dict(
        n_components=6,
        contraction_estimator="stochastic",
        n_projections=2,
        hidden_layer_sizes=(16, 8),
        dropout=dropout,
        max_iter=3,
    )
    before = torch.get_rng_state()
    a = fit_quiet(ContractiveAutoencoder(random_state=3, **arch), digits[:200])
    assert torch.equal(torch.get_rng_state(), before)
    b = fit_quiet(ContractiveAutoencoder(random_state=3, **arch), digits[:200])
    c = fit_quiet(ContractiveAutoencoder(random_state=4, **arch), digits[:200])
    np.testing.assert_array_equal(a.transform(digits[:10]), b.transform(digits[:10]))
    assert a.loss_curve_ == b.loss_curve_ and a.loss_curve_ != c.loss_curve_


def test_stochastic_penalty_in_the_semi_supervised_classifier(digits):
    X = digits[:300]
    y = load_digits().target[:300].copy()
    y[30:] = -1
    clf = AutoencoderClassifier(
        ContractiveAutoencoder(
            n_components=8,
            contraction_estimator="stochastic",
            hidden_layer_sizes=(32,),
            max_iter=3,
        ),
        max_iter=3,
        random_state=0,
    )
    a = fit_quiet(clf, X, y).predict_proba(X[:20])
    b = fit_quiet(clf, X, y).predict_proba(X[:20])
    np.testing.assert_array_equal(a, b)
    # The penalty is in the classifier's objective: a heavier one (the same draws) gives another model.
    c = fit_quiet(clone(clf).set_params(autoencoder__contraction_weight=1.0), X, y).predict_proba(X[:20])
    assert np.abs(a - c).max() > 1e-4


def test_stochastic_training_resumes_identically_after_a_roundtrip(digits):
    # The generator's state travels with the model, so the next projections are the same ones.
    est = ContractiveAutoencoder(
        n_components=6, contraction_estimator="stochastic", hidden_layer_sizes=(16,), max_iter=2, random_state=0
    )
    est = fit_quiet(est, digits[:200])
    copy = pickle.loads(pickle.dumps(est))
    assert copy.get_params() == est.get_params()
    est.partial_fit(digits[:200])
    copy.partial_fit(digits[:200])
    np.testing.assert_array_equal(copy.transform(digits[:10]), est.transform(digits[:10]))
    assert copy.loss_curve_ == est.loss_curve_


@pytest.mark.parametrize(
    "params, match",
    [
        ({"contraction_estimator": "hutchinson"}, "'contraction_estimator' parameter"),
        ({"n_projections": 0}, "'n_projections' parameter"),
        ({"n_projections": 1.5}, "'n_projections' parameter"),
    ],
)
def test_bad_estimator_parameters_raise(digits, params, match):
    with pytest.raises(ValueError, match=match):
        ContractiveAutoencoder(max_iter=1, **params).fit(digits[:20])


# ------------------------------------------------------------------ tangent planes


def _circle(seed, n=400, d=10, noise=0.01):
    """A circle under a random linear map into R^d (features of unequal spread), small noise.

    Returns the samples and the unit tangent of the noiseless circle at each.
    """
    rng = np.random.RandomState(seed)
    A = rng.randn(d, 2)
    t = rng.uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(t), np.sin(t)] @ A.T + noise * rng.randn(n, d)
    T = np.c_[-np.sin(t), np.cos(t)] @ A.T
    return X.astype(np.float32), T / np.linalg.norm(T, axis=1, keepdims=True)


def _angles(directions, tangents):
    """Largest principal angle (degrees) between each sample's directions and its tangent space."""
    return np.degrees(
        [subspace_angles(v.T, t[:, None]).max() for v, t in zip(directions, tangents, strict=True)]
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tangent_space_recovers_a_circles_tangents(seed):
    # A code of 2 units for a 1-D manifold (a circle needs 2 to be encoded continuously): the
    # leading direction must be the circle's tangent. The contractive encoder is flat across the
    # circle, so its leading direction is the tangent; a plain encoder's need not be.
    X, T = _circle(seed)
    arch = dict(
        n_components=2,
        hidden_layer_sizes=(32,),
        activation="sigmoid",
        max_iter=200,
        tol=0.0,
        learning_rate_init=1e-2,
        batch_size=256,  # 400 steps: the budget these bounds were set for, whatever the default batch
        random_state=seed,
    )
    cae = fit_quiet(ContractiveAutoencoder(contraction_weight=0.01, **arch), X)
    ae = fit_quiet(Autoencoder(**arch), X)
    directions, sigma = cae.tangent_space(X, n_directions=1)
    cae_angles = _angles(directions, T)
    assert np.median(cae_angles) < 12 and np.percentile(cae_angles, 90) < 25
    assert np.median(cae_angles) < np.median(_angles(ae.tangent_space(X, n_directions=1)[0], T))
    assert (sigma > 0).all()
    # The singular vectors of the Jacobian in the user's units instead: on features of unequal
    # spread they leave the tangent, even for this encoder (hence the standardised metric).
    _, _, vt = np.linalg.svd(cae.jacobian(X))
    assert np.median(_angles(vt[:, :1], T)) > 2 * np.median(cae_angles)
