"""The ``conditioning`` parameter: what the network's input conditioning is ("standard", "center", "none")."""

import io
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skae import VAE, Autoencoder, AutoencoderClassifier, DenoisingAutoencoder, NeighborEmbeddingAutoencoder
from skae._integrity import DIGEST_KEY

DIGITS = (load_digits().data[:300] / 16.0).astype(np.float32)


def spectral_gap_data(n=600, d=12, seed=0):
    """Near a 3-dimensional subspace (variances 25, 16, 9 against 0.04), every feature shifted by 3."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = np.r_[5.0, 4.0, 3.0, np.full(d - 3, 0.2)]
    return ((rng.normal(size=(n, d)) * scales) @ basis.T + 3.0).astype(np.float32)


def linear_ae(**kw):
    params = dict(
        n_components=3, hidden_layer_sizes=(), activation="identity", learning_rate_init=1e-2,
        max_iter=1500, tol=0, random_state=0,
    )
    params.update(kw)
    params.setdefault("batch_size", 600)  # full batch: no mini-batch noise floor above PCA's optimum
    return Autoencoder(**params)


def fit_quietly(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args)


def decoder_span_angle(ae, pca):
    Z = np.vstack([np.zeros((1, ae.n_components)), np.eye(ae.n_components)]).astype(np.float32)
    D = ae.inverse_transform(Z).astype(np.float64)
    return subspace_angles((D[1:] - D[0]).T, pca.components_.T).max()


@pytest.mark.parametrize("conditioning", ["standard", "center", "none"])
def test_statistics_the_network_keeps(conditioning):
    X = DIGITS * 3.0 + 1.0
    ae = Autoencoder(n_components=2, hidden_layer_sizes=(8,), max_iter=1, conditioning=conditioning, random_state=0)
    fit_quietly(ae, X)
    loc = ae.module_.conditioning.loc.numpy()
    scale = ae.module_.conditioning.scale.numpy()
    if conditioning == "none":
        assert np.all(loc == 0) and np.all(scale == 1)
    else:
        np.testing.assert_allclose(loc, X.mean(axis=0, dtype=np.float64), rtol=1e-5, atol=1e-6)
        if conditioning == "center":
            assert np.all(scale == 1)
        else:
            assert not np.allclose(scale, 1)


@pytest.mark.parametrize("conditioning", ["standard", "center", "none"])
def test_a_linear_encoder_reads_the_input_as_conditioned(conditioning):
    """The code of a one-layer linear encoder is W (x - loc) / scale + b: raw x for "none"."""
    X = DIGITS * 3.0 + 1.0
    ae = fit_quietly(linear_ae(n_components=2, max_iter=2, conditioning=conditioning), X)
    layer = ae.module_.encoder.layers[0]
    W, b = layer.weight.detach().numpy().astype(np.float64), layer.bias.detach().numpy()
    shift = {"standard": X.mean(0), "center": X.mean(0), "none": 0.0}[conditioning]
    # "standard" divides by the std, raised for near-constant pixels: the scale the network keeps.
    divide = ae.module_.conditioning.scale.numpy() if conditioning == "standard" else 1.0
    expected = ((X - shift) / divide) @ W.T + b
    # transform divides the network's linear code by its spread on the training rows (scale_codes).
    assert ae.code_scale_ == pytest.approx(np.sqrt(expected.var(axis=0).mean()), rel=1e-4)
    np.testing.assert_allclose(ae.transform(X), expected / ae.code_scale_, rtol=1e-4, atol=1e-4)


def test_none_finds_pcas_subspace_on_centred_data():
    X = spectral_gap_data()
    X = X - X.mean(axis=0)
    pca = PCA(3).fit(X)
    ae = fit_quietly(linear_ae(conditioning="none"), X)
    assert decoder_span_angle(ae, pca) < 0.05
    ae_mse = np.mean((ae.inverse_transform(ae.transform(X)) - X) ** 2, dtype=np.float64)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert ae_mse <= 1.02 * pca_mse
    # Scores and losses are in the user's units whatever the conditioning.
    assert ae.score(X) == pytest.approx(-ae_mse, rel=1e-3)
    assert ae.loss_curve_[-1] == pytest.approx(ae_mse, rel=0.05)


def test_center_finds_pcas_subspace_on_shifted_data():
    X = spectral_gap_data()
    pca = PCA(3).fit(X)
    ae = fit_quietly(linear_ae(conditioning="center"), X)
    assert decoder_span_angle(ae, pca) < 0.05
    # The reconstruction starts (zero code contribution) at the data's mean, in the user's units.
    np.testing.assert_allclose(ae.module_.conditioning.loc.numpy(), X.mean(0), rtol=1e-5)


@pytest.mark.parametrize("conditioning", ["center", "none"])
def test_the_objective_stays_relative_to_the_data_variance(conditioning):
    """So that tol and penalty weights mean the same under every conditioning."""
    X = DIGITS * 7.0
    ae = fit_quietly(Autoencoder(n_components=2, max_iter=1, conditioning=conditioning, random_state=0), X)
    assert ae._loss_scale == pytest.approx(float(np.mean(X.var(0, dtype=np.float64))), rel=1e-5)


@pytest.mark.parametrize("conditioning", ["center", "none"])
def test_persistence_keeps_the_conditioning(conditioning):
    ae = fit_quietly(
        DenoisingAutoencoder(n_components=2, hidden_layer_sizes=(8,), max_iter=2, conditioning=conditioning,
                             random_state=0),
        DIGITS,
    )
    buffer = io.BytesIO()
    pickle.dump(ae, buffer)
    loaded = pickle.loads(buffer.getvalue())
    assert loaded.get_params()["conditioning"] == conditioning
    np.testing.assert_array_equal(loaded.transform(DIGITS), ae.transform(DIGITS))
    np.testing.assert_array_equal(loaded.module_.conditioning.scale.numpy(), ae.module_.conditioning.scale.numpy())


def test_classifier_and_vae_take_it():
    y = load_digits().target[:300].copy()
    y[100:] = -1
    clf = fit_quietly(
        AutoencoderClassifier(Autoencoder(n_components=4, hidden_layer_sizes=(8,)), max_iter=2,
                              conditioning="none", random_state=0),
        DIGITS, y,
    )
    assert np.all(clf.module_.autoencoder.conditioning.scale.numpy() == 1)
    assert np.all(clf.module_.autoencoder.conditioning.loc.numpy() == 0)
    vae = fit_quietly(VAE(n_components=2, hidden_layer_sizes=(8,), max_iter=2, conditioning="center",
                          random_state=0), DIGITS)
    assert np.all(vae.module_.conditioning.scale.numpy() == 1)
    assert np.isfinite(vae.score(DIGITS))


@pytest.mark.parametrize("cls", [Autoencoder, DenoisingAutoencoder, VAE, NeighborEmbeddingAutoencoder])
def test_auto_centres_data_that_fills_the_unit_box_and_standardises_the_rest(cls):
    params = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=2, conditioning="auto", random_state=0)
    # Pixels in [0, 1], dense or sparse: centred only, as "center" does, bit for bit.
    for X in (DIGITS, sp.csr_matrix(DIGITS)):
        auto, center = (fit_quietly(cls(**{**params, "conditioning": c}), X) for c in ("auto", "center"))
        assert np.all(auto.module_.conditioning.scale.numpy() == 1)
        np.testing.assert_allclose(auto.module_.conditioning.loc.numpy(), DIGITS.mean(axis=0), atol=1e-6)
        np.testing.assert_array_equal(auto.transform(X), center.transform(X))
    # One value outside [0, 1] (here the shifted pixels, and a single negative value), or values in
    # [0, 1] spanning less than half of it (the pixels in [0, 0.1] and [0, 1e-19]): standardised.
    nudged = DIGITS.copy()
    nudged[0, 10] = -0.01
    for X in (DIGITS * 3.0 + 1.0, nudged, DIGITS * 0.1, DIGITS * 1e-19):
        auto, standard = (fit_quietly(cls(**{**params, "conditioning": c}), X) for c in ("auto", "standard"))
        assert not np.allclose(auto.module_.conditioning.scale.numpy(), 1)
        np.testing.assert_array_equal(auto.transform(X), standard.transform(X))


def test_auto_denoises_pixels_of_a_small_unit_as_well_as_pixels():
    # Centred only, pixels in [0, 0.1] met Gaussian noise of 0.5 in their own unit (five times their
    # range): the DenoisingAutoencoder reconstructed nothing (R² 0.00 against 0.74 at the default
    # since). Its codes and reconstructions are now those of the pixels in [0, 1] up to the unit.
    X = (load_digits().data / 16.0).astype(np.float32)
    Xtr, Xte = X[:1000], X[1000:1300]

    def r2(est, X_fit, X_test):
        reconstruction = est.inverse_transform(est.transform(X_test))
        return 1 - ((reconstruction - X_test) ** 2).sum() / ((X_test - X_fit.mean(axis=0)) ** 2).sum()

    params = dict(n_components=8, hidden_layer_sizes=(32,), max_iter=20, random_state=0)
    small = fit_quietly(DenoisingAutoencoder(**params), Xtr * 0.1)
    standard = fit_quietly(DenoisingAutoencoder(**params, conditioning="standard"), Xtr)
    expected = r2(standard, Xtr, Xte)
    assert expected > 0.5 and r2(small, Xtr * 0.1, Xte * 0.1) == pytest.approx(expected, abs=1e-3)


def test_auto_is_the_default_of_the_noise_and_likelihood_models_and_the_map_only():
    assert DenoisingAutoencoder().conditioning == VAE().conditioning == "auto"
    assert NeighborEmbeddingAutoencoder().conditioning == "auto"
    assert Autoencoder().conditioning == "standard"


@pytest.mark.parametrize("value", ["standardize", "minmax", None, 1])
def test_invalid_conditioning(value):
    with pytest.raises(InvalidParameterError, match="conditioning"):
        Autoencoder(conditioning=value).fit(DIGITS)


def test_a_pickle_from_before_the_parameter_loads_with_the_default():
    ae = fit_quietly(Autoencoder(n_components=2, hidden_layer_sizes=(8,), max_iter=1, random_state=0), DIGITS)
    state = ae.__getstate__()
    for name in ("conditioning", "learning_rate", "decay_start", "max_time"):
        del state[name]
    del state[DIGEST_KEY]  # a file from before these parameters predates the digest too
    old = Autoencoder.__new__(Autoencoder)
    old.__setstate__(state)
    params = old.get_params()
    assert (params["conditioning"], params["learning_rate"], params["decay_start"], params["max_time"]) == (
        "standard", "constant", 0.0, None
    )
    np.testing.assert_array_equal(old.transform(DIGITS), ae.transform(DIGITS))
