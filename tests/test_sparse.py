"""SparseAutoencoder: each kind of sparsity does what it claims, on digits."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder, SparseAutoencoder


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data
    return MinMaxScaler().fit_transform(X).astype(np.float32)


def fitted(X, **kw):
    params = dict(
        n_components=32, hidden_layer_sizes=(), max_iter=10, learning_rate_init=1e-2, random_state=0
    )
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SparseAutoencoder(**params).fit(X)


def test_l1_sparsity_grows_monotonically_with_the_weight(digits):
    mean_abs, near_zero, scores = [], [], []
    for weight in [0.0, 1e-2, 1e-1, 1.0]:
        sae = fitted(digits, sparsity="l1", sparsity_weight=weight)
        H = sae.transform(digits)
        assert H.min() >= 0  # ReLU code units
        mean_abs.append(np.abs(H).mean())
        near_zero.append((H == 0).mean())  # exact zeros: a measure the code's scale cannot fake
        scores.append(sae.score(digits))
    assert (np.diff(mean_abs) < 0).all(), mean_abs
    assert (np.diff(near_zero) > 0).all(), near_zero
    assert near_zero[-1] > 0.9
    # The price of sparsity is paid in reconstruction.
    assert scores[0] > scores[-1]


def test_kl_moves_the_mean_activation_towards_the_target(digits):
    target = 0.05
    gaps = []
    for weight in [0.0, 1e-1, 1.0, 10.0]:
        H = fitted(digits, sparsity="kl", sparsity_weight=weight, sparsity_target=target).transform(
            digits
        )
        assert H.min() >= 0 and H.max() <= 1  # sigmoid code units
        gaps.append(np.abs(H.mean(axis=0) - target).mean())
    assert (np.diff(gaps) < 0).all(), gaps
    assert gaps[-1] < 0.01 < 0.1 < gaps[0]


def test_topk_keeps_at_most_k_units_with_an_overcomplete_code(digits):
    k = 10
    sae = fitted(digits, sparsity="topk", k=k, n_components=100, hidden_layer_sizes=(64,))
    H = sae.transform(digits)
    assert H.shape == (len(digits), 100)  # more code units than the 64 pixels
    nonzero = (H != 0).sum(axis=1)
    assert nonzero.max() <= k
    assert np.median(nonzero) == k  # the kept units are generically non-zero
    # The decoder learned from k-sparse codes: reconstruction far better than the mean image.
    R = sae.inverse_transform(H)
    baseline = ((digits - digits.mean(axis=0)) ** 2).mean()
    assert ((R - digits) ** 2).mean() < 0.6 * baseline
    # score_samples decodes the same k-sparse code as transform.
    np.testing.assert_allclose(
        -((R - digits) ** 2).mean(axis=1), sae.score_samples(digits), rtol=1e-4, atol=1e-6
    )


def test_k_equal_to_n_components_is_the_plain_linear_code(digits):
    H = fitted(digits[:300], sparsity="topk", k=4, n_components=4, max_iter=2).transform(
        digits[:50]
    )
    assert (H != 0).all()
    # Keeping every unit is no constraint: the plain Autoencoder's network, trained the same way.
    plain = Autoencoder(n_components=4, hidden_layer_sizes=(), max_iter=2, learning_rate_init=1e-2,
                        scale_codes=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_array_equal(H, plain.fit(digits[:300]).transform(digits[:50]))


@pytest.mark.parametrize("sparsity", ["l1", "kl", "topk"])
def test_overcomplete_codes_and_sparse_input_work(digits, sparsity):
    X = sp.csr_matrix(np.where(digits[:200] > 0.5, digits[:200], 0))
    sae = fitted(X, sparsity=sparsity, n_components=128, k=5, max_iter=2)
    assert sae.transform(X).shape == (200, 128)
    assert sae.get_feature_names_out()[0] == "sparseautoencoder0"


def test_k_is_ignored_unless_topk(digits):
    a = fitted(digits[:200], sparsity="l1", k=3, max_iter=2).transform(digits[:20])
    b = fitted(digits[:200], sparsity="l1", k=None, max_iter=2).transform(digits[:20])
    np.testing.assert_array_equal(a, b)


def test_transform_k_widens_the_code_of_the_same_dictionary(digits):
    sae = fitted(digits, sparsity="topk", k=5, n_components=40)
    narrow = sae.transform(digits)
    reconstruction = sae.score_samples(digits)
    wide = sae.set_params(transform_k=15).transform(digits)  # no refit: read at each call
    assert ((narrow != 0).sum(axis=1) <= 5).all() and np.median((wide != 0).sum(axis=1)) == 15
    # The wide code keeps the narrow code's units, with the same values, and adds the next ten.
    kept = narrow != 0
    np.testing.assert_array_equal(wide[kept], narrow[kept])
    # Training and reconstruction stay at k: score_samples is unchanged, and equals the
    # reconstruction of the k-sparse code, not of the wider one.
    np.testing.assert_array_equal(sae.score_samples(digits), reconstruction)
    np.testing.assert_allclose(
        -((sae.inverse_transform(narrow) - digits) ** 2).mean(axis=1), reconstruction, rtol=1e-4, atol=1e-6
    )
    # Fitting with transform_k set trains exactly as without it.
    again = fitted(digits, sparsity="topk", k=5, n_components=40, transform_k=15)
    np.testing.assert_array_equal(again.transform(digits), wide)
    assert again.loss_curve_ == sae.loss_curve_


def test_transform_k_is_ignored_unless_topk(digits):
    a = fitted(digits[:200], sparsity="l1", transform_k=3, max_iter=2).transform(digits[:20])
    b = fitted(digits[:200], sparsity="l1", max_iter=2).transform(digits[:20])
    np.testing.assert_array_equal(a, b)


def test_transform_k_above_n_components_is_refused_at_fit_and_at_transform(digits):
    with pytest.raises(ValueError, match=r"1 <= transform_k <= n_components=8.*transform_k=9"):
        SparseAutoencoder(8, sparsity="topk", k=2, transform_k=9, max_iter=1).fit(digits[:20])
    sae = fitted(digits[:50], sparsity="topk", k=2, n_components=8, max_iter=1)
    for bad in (9, 0, 2.5):
        with pytest.raises(ValueError, match=rf"transform_k={bad}"):
            sae.set_params(transform_k=bad).transform(digits[:5])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"sparsity": "topk"}, "sparsity='topk' needs k"),
        ({"sparsity": "topk", "k": 9, "n_components": 8}, r"1 <= k <= n_components=8.*k=9"),
        ({"sparsity": "topk", "k": 0}, "'k' parameter"),
        ({"sparsity": "l2"}, "'sparsity' parameter"),
        ({"sparsity_weight": -1.0}, "'sparsity_weight' parameter"),
        ({"sparsity_target": 0.0}, "'sparsity_target' parameter"),
        ({"sparsity_target": 1.0}, "'sparsity_target' parameter"),
    ],
)
def test_bad_parameters_raise_clear_errors(digits, params, match):
    with pytest.raises(ValueError, match=match):
        SparseAutoencoder(max_iter=1, **params).fit(digits[:20])


def test_k_set_on_a_fitted_model_is_the_k_of_its_outputs(digits):
    # k shapes no weight. Before, transform kept the k of the last training call (k=9 > n_components
    # included, without a word). The oracle: transform_k=5 on the model as trained with k=2.
    sae = fitted(digits, sparsity="topk", k=2, n_components=8, max_iter=2)
    expected = sae.set_params(transform_k=5).transform(digits)
    codes = sae.set_params(k=5, transform_k=None).transform(digits)
    np.testing.assert_array_equal(codes, expected)
    assert (codes != 0).sum(axis=1).max() == 5
    with pytest.raises(ValueError, match="k must satisfy 1 <= k <= n_components=8"):
        sae.set_params(k=9).transform(digits)


def test_k_can_be_lowered_between_warm_started_fits(digits):
    sae = fitted(digits, sparsity="topk", k=20, n_components=40, max_iter=2, warm_start=True)
    assert ((sae.transform(digits) != 0).sum(axis=1) > 10).all()
    weights = sae.module_.encoder.layers[0].weight.detach().clone()
    fitted_again = sae.set_params(k=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted_again.fit(digits)
    assert ((sae.transform(digits) != 0).sum(axis=1) <= 5).all()
    # Warm start: training went on from the previous weights rather than a fresh network.
    assert sae.n_iter_ == 4 and not torch.equal(weights, sae.module_.encoder.layers[0].weight)
