"""Behaviour of the variational autoencoder: oracles (PPCA, closed-form marginals, Monte-Carlo KL)
and invariants (bounds, determinism, sampling, persistence)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from skae import VAE
from skae._vae import _LIKELIHOOD_LOGVAR_BOUNDS, kl_standard_normal, soft_clamp


def fit_quietly(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return MinMaxScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="module")
def digits_vae(digits):
    X, _ = digits
    vae = VAE(
        n_components=4,
        likelihood="bernoulli",
        hidden_layer_sizes=(32,),
        max_iter=15,
        learning_rate_init=3e-3,
        random_state=0,
    )
    return fit_quietly(vae, X)


def ppca_data(n=4000, d=10, k=3, noise=0.5, seed=0):
    """x = W z + mu + eps with z ~ N(0, I_k), eps ~ N(0, noise² I_d)."""
    rng = np.random.default_rng(seed)
    W = 2.0 * rng.normal(size=(d, k))
    mu = rng.normal(size=d)
    X = rng.normal(size=(n, k)) @ W.T + mu + noise * rng.normal(size=(n, d))
    return X.astype(np.float32)


# ------------------------------------------------------------------ oracle: probabilistic PCA


@pytest.fixture(scope="module")
def ppca_fit():
    X = ppca_data()
    train, test = X[:3000], X[3000:]
    vae = VAE(
        n_components=3,
        hidden_layer_sizes=(),
        activation="identity",
        likelihood="gaussian",
        learning_rate_init=3e-2,
        batch_size=500,
        max_iter=60,
        tol=0,
        random_state=0,
    )
    return fit_quietly(vae, train), train, test


def test_linear_vae_reaches_ppca_maximum_likelihood(ppca_fit):
    vae, train, test = ppca_fit
    d = train.shape[1]
    # PCA.score is the exact average log-likelihood of the maximum-likelihood PPCA model.
    ppca = PCA(n_components=3).fit(train).score(test)
    iw = float(np.mean(vae.log_likelihood(test), dtype=np.float64))
    assert abs(iw - ppca) / d < 0.05
    elbo = vae.score(test)
    assert elbo < iw


def test_importance_weighted_estimate_converges_to_exact_marginal(ppca_fit):
    # A linear-Gaussian decoder has the closed-form marginal p(x) = N(b, W Wᵀ + diag(v)).
    vae, _, test = ppca_fit
    m = vae.module_
    # The decoder computes in standardised units: mean = loc + scale * (W z + b).
    loc = m.conditioning.loc.double().numpy()
    scale = m.conditioning.scale.double().numpy()
    W = scale[:, None] * m.decoder.layers[0].weight.detach().double().numpy()
    b = loc + scale * m.decoder.layers[0].bias.detach().double().numpy()
    v = torch.exp(m.likelihood_logvar()).detach().double().numpy()
    exact = multivariate_normal(b, W @ W.T + np.diag(v)).logpdf(test[:200].astype(np.float64))
    iw = vae.log_likelihood(test[:200], n_importance_samples=1000)
    assert np.median(np.abs(iw - exact)) < 0.02
    assert abs(iw.mean() - exact.mean()) < 0.02
    # The ELBO is a lower bound on the exact value (up to Monte-Carlo noise in its expectation).
    assert vae.score(test[:200]) < exact.mean()


# --------------------------------------------------------------------------- the ELBO's pieces


def test_kl_matches_monte_carlo_estimate():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, generator=gen)
    logvar = torch.randn(5, 3, generator=gen)
    closed = kl_standard_normal(mu, logvar).double()
    n = 200_000
    std = torch.exp(0.5 * logvar).double()
    eps = torch.randn(n, 5, 3, generator=gen, dtype=torch.float64)
    z = mu.double() + std * eps
    log_q = (-0.5 * eps.square() - torch.log(std)).sum(-1)
    log_p = (-0.5 * z.square()).sum(-1)
    diff = log_q - log_p  # the 2π terms cancel
    mc, se = diff.mean(0), diff.std(0) / np.sqrt(n)
    assert torch.all((mc - closed).abs() < 4 * se + 1e-6)
    assert torch.all(closed >= 0)


def test_soft_clamp_is_identity_inside_and_bounded_outside():
    x = torch.tensor([-1e6, -50.0, -4.0, -2.0, 0.0, 50.0, 1e6])
    y = soft_clamp(x, -10.0, 5.0)
    assert torch.all(torch.isfinite(y))
    assert torch.all((y >= -10.0) & (y <= 5.0))
    assert torch.allclose(y[2:5], x[2:5], atol=2e-2)
    assert torch.all(torch.diff(y) >= 0)


def test_score_is_mean_elbo_and_importance_weighting_tightens_it(digits, digits_vae):
    X, _ = digits
    Xs = X[:400]
    elbo = digits_vae.score_samples(Xs)
    assert digits_vae.score(Xs) == pytest.approx(float(elbo.mean()), rel=1e-5)
    # Same draws as score_samples: never below the ELBO, row by row (Jensen).
    iw = digits_vae.log_likelihood(Xs)
    assert np.all(iw >= elbo - 1e-3)
    # On average the bound tightens as k grows. The draws are shared by all rows, so the mean over
    # rows carries the noise of k draws: average over seeds too.
    means = [
        np.mean(
            [
                digits_vae.log_likelihood(Xs, n_importance_samples=k, random_state=s).mean()
                for s in range(seeds)
            ]
        )
        for k, seeds in ((1, 30), (10, 10), (100, 3))
    ]
    assert means[0] <= means[1] + 0.05
    assert means[1] <= means[2] + 0.05
    assert means[2] > float(elbo.mean())


def test_beta_zero_is_a_noisy_autoencoder(digits):
    X, _ = digits
    kw = dict(
        n_components=8,
        likelihood="bernoulli",
        hidden_layer_sizes=(32,),
        max_iter=15,
        learning_rate_init=3e-3,
        random_state=0,
    )
    plain = fit_quietly(VAE(beta=0.0, **kw), X)
    vae = fit_quietly(VAE(beta=1.0, **kw), X)

    def recon_and_kl(est):
        R = est.inverse_transform(est.transform(X))
        with torch.no_grad():
            mu, logvar = est.module_.posterior(torch.from_numpy(X))
        return np.mean((R - X) ** 2), float(kl_standard_normal(mu, logvar).mean())

    err0, kl0 = recon_and_kl(plain)
    err1, kl1 = recon_and_kl(vae)
    assert err0 < err1
    assert kl0 > 2 * kl1


# --------------------------------------------------------------------------- numerical safety


def test_constant_features_give_bounded_log_variance_and_no_nan():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(200, 3)), np.full((200, 2), 3.0)].astype(np.float32)
    vae = fit_quietly(
        VAE(
            n_components=2,
            hidden_layer_sizes=(8,),
            learning_rate_init=1e-2,
            max_iter=40,
            random_state=0,
        ),
        X,
    )
    logvar = vae.module_.likelihood_logvar().detach().numpy()
    low, high = _LIKELIHOOD_LOGVAR_BOUNDS
    offset = vae.module_.logvar_offset.numpy()  # log scale², per feature
    assert np.all(logvar >= offset + low - 1e-4) and np.all(logvar <= offset + high + 1e-4)
    assert logvar[3:].max() < logvar[:3].min()  # the constant features are the most precise
    assert np.all(np.isfinite(vae.loss_curve_))
    for out in (
        vae.score_samples(X),
        vae.log_likelihood(X),
        vae.transform(X),
        vae.sample(5, random_state=0),
    ):
        assert np.all(np.isfinite(out))
    # An entirely constant X is fine too.
    const = fit_quietly(
        VAE(n_components=1, hidden_layer_sizes=(), max_iter=3, random_state=0),
        np.ones((20, 3), dtype=np.float32),
    )
    assert np.all(np.isfinite(const.score_samples(np.ones((4, 3)))))


def test_bernoulli_requires_unit_interval():
    X = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(
        ValueError, match=r"likelihood='bernoulli' needs X in \[0, 1\].*MinMaxScaler"
    ):
        VAE(likelihood="bernoulli", max_iter=1).fit(X)
    VAE(likelihood="gaussian", max_iter=1, hidden_layer_sizes=()).fit(X)  # fine


def test_likelihood_replaces_loss_and_output_activation():
    params = VAE().get_params()
    assert "loss" not in params and "output_activation" not in params
    with pytest.raises(ValueError, match="Invalid parameter 'loss'"):
        VAE().set_params(loss="bce")
    with pytest.raises(ValueError, match="likelihood"):
        VAE(likelihood="poisson").fit(np.zeros((5, 2)))


# --------------------------------------------------------------------------- methods


def test_transform_is_the_posterior_mean_and_decoder_gives_means(digits, digits_vae):
    X, _ = digits
    mu, _ = digits_vae.module_.posterior(torch.from_numpy(X[:50]))
    np.testing.assert_allclose(
        digits_vae.transform(X[:50]), mu.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    R = digits_vae.inverse_transform(digits_vae.transform(X[:50]))
    assert R.dtype == np.float32 and R.shape == (50, 64)
    assert R.min() >= 0 and R.max() <= 1  # Bernoulli means


def test_sample_shape_kinds_and_reproducibility(digits_vae):
    a = digits_vae.sample(7, random_state=0)
    assert a.shape == (7, 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a, digits_vae.sample(7, random_state=0))
    assert not np.array_equal(a, digits_vae.sample(7, random_state=1))
    assert not np.array_equal(digits_vae.sample(7), digits_vae.sample(7))
    draws = digits_vae.sample(7, random_state=0, kind="draw")
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_array_equal(draws, digits_vae.sample(7, random_state=0, kind="draw"))
    # The means are the decoded prior draws.
    z = torch.randn((7, 4), generator=torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(a, digits_vae.inverse_transform(z), rtol=1e-5, atol=1e-6)
    assert VAE().set_params(max_iter=1).fit(np.eye(3)).sample().shape == (1, 3)
    with pytest.raises(ValueError, match="kind"):
        digits_vae.sample(2, kind="noise")


def test_gaussian_draws_have_the_learned_variance(ppca_fit):
    vae = ppca_fit[0]
    means = vae.sample(4000, random_state=0)
    draws = vae.sample(4000, random_state=0, kind="draw")
    v = torch.exp(vae.module_.likelihood_logvar()).detach().numpy()
    np.testing.assert_allclose((draws - means).var(0), v, rtol=0.1)


def test_scores_are_deterministic_and_row_independent(digits, digits_vae):
    X, _ = digits
    full = digits_vae.score_samples(X[:300])
    np.testing.assert_array_equal(full, digits_vae.score_samples(X[:300]))
    np.testing.assert_allclose(digits_vae.score_samples(X[100:110]), full[100:110], rtol=1e-5)
    ll = digits_vae.log_likelihood(X[:300])
    np.testing.assert_allclose(digits_vae.log_likelihood(X[250:300]), ll[250:], rtol=1e-5)
    # Other seeds give other (but close) estimates.
    other = digits_vae.log_likelihood(X[:300], random_state=1)
    assert not np.array_equal(ll, other)
    assert abs(float(ll.mean() - other.mean())) < 0.5


def test_fit_is_reproducible_and_leaves_global_rng_alone(digits):
    X, _ = digits
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global state untouched?)
    torch_state = torch.get_rng_state().clone()
    kw = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=3, random_state=3)
    a = fit_quietly(VAE(**kw), X[:300])
    b = fit_quietly(VAE(**kw), X[:300])
    np.testing.assert_array_equal(a.transform(X[:20]), b.transform(X[:20]))
    np.testing.assert_array_equal(a.sample(3, random_state=0), b.sample(3, random_state=0))
    a.score_samples(X[:20])
    a.log_likelihood(X[:20])
    a.sample(3)
    assert np.array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_pickle_round_trip(digits, digits_vae):
    X, _ = digits
    clone = pickle.loads(pickle.dumps(digits_vae))
    np.testing.assert_array_equal(clone.transform(X[:20]), digits_vae.transform(X[:20]))
    np.testing.assert_array_equal(clone.score_samples(X[:20]), digits_vae.score_samples(X[:20]))
    np.testing.assert_array_equal(
        clone.sample(5, random_state=0), digits_vae.sample(5, random_state=0)
    )
    clone.partial_fit(X)  # training resumes
    assert clone.n_iter_ == digits_vae.n_iter_ + 1


def test_tied_weights_and_sparse_input(digits):
    import scipy.sparse as sp

    X, _ = digits
    vae = fit_quietly(
        VAE(
            n_components=3,
            likelihood="bernoulli",
            tied_weights=True,
            hidden_layer_sizes=(16,),
            max_iter=2,
            random_state=0,
        ),
        sp.csr_matrix(X),
    )
    assert vae.module_.decoder.biases[-1].shape == (64,)
    np.testing.assert_allclose(
        vae.score_samples(sp.csr_matrix(X[:10])), vae.score_samples(X[:10]), rtol=1e-5
    )
