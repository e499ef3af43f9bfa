"""DenoisingAutoencoder: it denoises, its noise has the right statistics, transform is clean."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder, DenoisingAutoencoder


@pytest.fixture(scope="module")
def split():
    X = MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(X))
    return X[perm[:1400]], X[perm[1400:]]


# Same architecture and budget for the plain and the denoising autoencoder: a 32-unit code for
# 64 pixels is loose enough that a plain autoencoder learns to pass noise through.
ARCH = dict(
    n_components=32, hidden_layer_sizes=(64,), max_iter=20, learning_rate_init=1e-2, random_state=0
)


def fit_quiet(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


@pytest.fixture(scope="module")
def plain(split):
    return fit_quiet(Autoencoder(**ARCH), split[0])


@pytest.mark.parametrize(
    "noise, level", [("gaussian", 1.0), ("masking", 0.3), ("salt_and_pepper", 0.2)]
)
def test_dae_restores_corrupted_held_out_digits_better_than_a_plain_autoencoder(
    split, plain, noise, level
):
    X_train, X_test = split
    dae = fit_quiet(DenoisingAutoencoder(noise=noise, noise_level=level, **ARCH), X_train)
    # Held-out digits corrupted with the training noise (another seed than training's).
    noisy = dae._corrupt(torch.from_numpy(X_test), torch.Generator().manual_seed(123), dae.module_).numpy()

    def error(model):
        return ((model.inverse_transform(model.transform(noisy)) - X_test) ** 2).mean()

    assert error(dae) < 0.85 * error(plain)
    assert error(dae) < 0.5 * ((noisy - X_test) ** 2).mean()  # it removes most of the noise


@pytest.fixture(scope="module")
def fitted(split):
    return {
        noise: fit_quiet(
            DenoisingAutoencoder(noise=noise, noise_level=0.25, **{**ARCH, "max_iter": 1}), split[0]
        )
        for noise in ["gaussian", "masking", "salt_and_pepper"]
    }


def corrupt_many(dae, X, seed=0, repeats=20):
    X = torch.from_numpy(np.tile(X, (repeats, 1)))
    return X.numpy(), dae._corrupt(X, torch.Generator().manual_seed(seed), dae.module_).numpy()


def test_gaussian_noise_has_the_asked_standard_deviation(split, fitted):
    clean, noisy = corrupt_many(fitted["gaussian"], split[0])
    # In units of each feature's scale (its standard deviation, as the network standardises it).
    diff = (noisy - clean) / fitted["gaussian"].module_.conditioning.scale.numpy()
    assert abs(diff.mean()) < 5e-3
    assert diff.std() == pytest.approx(0.25, rel=0.01)


def test_masking_zeroes_the_asked_fraction(split, fitted):
    clean, noisy = corrupt_many(fitted["masking"], split[0])
    changed = noisy != clean
    assert (noisy[changed] == 0).all()
    # Among the non-zero pixels (where a zero is visible), the masked fraction is noise_level.
    visible = clean != 0
    assert (noisy[visible] == 0).mean() == pytest.approx(0.25, abs=0.005)
    np.testing.assert_array_equal(noisy[~changed], clean[~changed])


def test_salt_and_pepper_writes_the_feature_min_or_max(split, fitted):
    dae = fitted["salt_and_pepper"]
    X = split[0]
    np.testing.assert_array_equal(dae.data_min_, X.min(axis=0))
    np.testing.assert_array_equal(dae.data_max_, X.max(axis=0))
    clean, noisy = corrupt_many(dae, X)
    low = np.broadcast_to(dae.data_min_, clean.shape)
    high = np.broadcast_to(dae.data_max_, clean.shape)
    is_low, is_high = noisy == low, noisy == high
    assert (is_low | is_high | (noisy == clean)).all()
    # Pixels that are strictly inside their range show the hit fraction and the even split.
    inside = (clean > low) & (clean < high)
    hit_low, hit_high = is_low[inside].mean(), is_high[inside].mean()
    assert hit_low + hit_high == pytest.approx(0.25, abs=0.005)
    assert hit_low == pytest.approx(hit_high, abs=0.005)


def test_every_batch_gets_a_fresh_corruption(fitted, split):
    g = torch.Generator().manual_seed(0)
    X = torch.from_numpy(split[0][:50])
    a = fitted["masking"]._corrupt(X, g, fitted["masking"].module_)
    b = fitted["masking"]._corrupt(X, g, fitted["masking"].module_)
    assert not torch.equal(a, b)


def test_no_noise_at_transform_inverse_transform_and_score(split, fitted):
    X = split[1]
    for dae in fitted.values():
        Z = dae.transform(X)
        # transform is the encoder on the clean input, inverse_transform the decoder, and
        # score_samples (loss="mse") minus the mean squared error of that clean round trip.
        with torch.inference_mode():
            expected = dae.module_.encode(torch.from_numpy(X))
            decoded = dae.module_.decode(expected).numpy()
        np.testing.assert_allclose(Z, expected.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(dae.inverse_transform(Z), decoded, rtol=1e-5, atol=1e-6)
        mse = ((decoded - X) ** 2).mean(axis=1)
        np.testing.assert_allclose(dae.score_samples(X), -mse, rtol=1e-4, atol=1e-6)


def test_fit_is_reproducible_and_the_seed_drives_the_noise(split):
    X = split[0][:300]
    params = dict(ARCH, max_iter=3, noise="masking", noise_level=0.5)
    a = fit_quiet(DenoisingAutoencoder(**params), X).transform(X[:20])
    b = fit_quiet(DenoisingAutoencoder(**params), X).transform(X[:20])
    np.testing.assert_array_equal(a, b)
    # noise_level=0 trains exactly like a plain Autoencoder with the same seed and conditioning.
    params0 = dict(ARCH, max_iter=3, conditioning="auto", alpha=0.0)
    c = fit_quiet(DenoisingAutoencoder(noise_level=0.0, **params0), X).transform(X[:20])
    d = fit_quiet(Autoencoder(scale_codes=False, **params0), X).transform(X[:20])
    np.testing.assert_array_equal(c, d)
    assert not np.allclose(a, c)


def test_sparse_input_ranges_and_warm_start_keeps_them(split):
    X = split[0][:200]
    Xs = sp.csr_matrix(np.where(X > 0.3, X, 0) + 0.0)
    params = dict(ARCH, max_iter=1, noise="salt_and_pepper", warm_start=True)
    dae = fit_quiet(DenoisingAutoencoder(**params), Xs)
    dense = Xs.toarray()
    np.testing.assert_array_equal(dae.data_min_, dense.min(axis=0))
    np.testing.assert_array_equal(dae.data_max_, dense.max(axis=0))
    assert dae.data_min_.dtype == np.float32
    fit_quiet(dae, X * 2)  # warm start: the network and the ranges it was trained with are kept
    np.testing.assert_array_equal(dae.data_max_, dense.max(axis=0))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"noise": "masking", "noise_level": 1.5}, r"must be in \[0, 1\], got 1.5"),
        ({"noise": "salt_and_pepper", "noise_level": 2}, r"must be in \[0, 1\], got 2"),
        ({"noise_level": -0.1}, "'noise_level' parameter"),
        ({"noise": "dropout"}, "'noise' parameter"),
    ],
)
def test_bad_parameters_raise_clear_errors(split, params, match):
    with pytest.raises(ValueError, match=match):
        DenoisingAutoencoder(max_iter=1, **params).fit(split[0][:20])


def test_large_gaussian_noise_is_allowed(split):
    dae = fit_quiet(DenoisingAutoencoder(noise_level=2.0, max_iter=1, random_state=0), split[0][:50])
    assert np.isfinite(dae.loss_curve_).all()
    # Gaussian noise is not clipped at a level above 1: its sd is twice each feature's scale.
    clean, noisy = corrupt_many(dae, split[0][:50])
    assert ((noisy - clean) / dae.module_.conditioning.scale.numpy()).std() == pytest.approx(2.0, rel=0.01)
