"""ContractiveAutoencoder: an exact Jacobian penalty that contracts the encoder, on digits."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder, ContractiveAutoencoder


@pytest.fixture(scope="module")
def digits():
    return MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)


def fit_quiet(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


def mean_jacobian_norm(est, X, standardized=False):
    """Mean ‖∂h/∂x‖²_F in the user's units, or with respect to the standardised input the penalty uses."""
    J = est.jacobian(X).astype(np.float64)
    if standardized:  # x_std = (x - loc) / scale, so ∂h/∂x_std = (∂h/∂x) diag(scale)
        J = J * est.module_.conditioning.scale.numpy()
    return (J**2).sum(axis=(1, 2)).mean()


def penalty(est, X, train=False, seed=0):
    """The training penalty's value on X, through the estimator's own forward pass."""
    module = est.module_
    module.train(train)
    try:
        with torch.no_grad():
            _, output = est._forward(
                module, torch.from_numpy(X), torch.Generator().manual_seed(seed)
            )
            return est._contraction(module, output).double().mean().item()
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


def test_contractive_encoder_is_much_flatter_than_the_plain_one(digits):
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
    cae = fit_quiet(ContractiveAutoencoder(contraction_weight=0.1, **arch), digits)
    assert mean_jacobian_norm(cae, digits) < 0.25 * mean_jacobian_norm(ae, digits)
    # ... and it still reconstructs, better than the mean image does.
    baseline = ((digits - digits.mean(axis=0)) ** 2).mean()
    assert -cae.score(digits) < 0.75 * baseline
    # A stronger penalty contracts more.
    strong = fit_quiet(ContractiveAutoencoder(contraction_weight=1.0, **arch), digits)
    assert mean_jacobian_norm(strong, digits) < mean_jacobian_norm(cae, digits)


def test_zero_weight_trains_exactly_like_the_plain_autoencoder(digits):
    # The layer-by-layer forward pass that keeps the pre-activations is the module's own forward.
    arch = dict(n_components=4, hidden_layer_sizes=(16, 8), max_iter=3, random_state=0)
    for tied in (True, False):
        params = dict(arch, tied_weights=tied)
        a = fit_quiet(ContractiveAutoencoder(contraction_weight=0.0, **params), digits[:300])
        b = fit_quiet(Autoencoder(**params), digits[:300])
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
            n_components=4, hidden_layer_sizes=(32, 16), dropout=0.3, max_iter=2, random_state=0
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
