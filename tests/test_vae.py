"""Behaviour of the variational autoencoder: oracles (PPCA, closed-form marginals and posteriors of
linear-Gaussian models, Monte-Carlo KL, torch's multivariate normal, a heteroscedastic model's
likelihood by quadrature) and invariants (bounds, determinism, sampling, persistence)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch.distributions import MultivariateNormal, kl_divergence

from skae import VAE
from skae._integrity import DIGEST_KEY, seal
from skae._training import Batch
from skae.nn.vae import (
    _LIKELIHOOD_LOGVAR_BOUNDS,
    importance_weighted_bound,
    kl_standard_normal,
    kl_standard_normal_per_unit,
    reparameterize,
    soft_clamp,
    strictly_lower,
)

# The ELBO alone, the model of Kingma and Welling: no free bits, no input noise (the defaults are
# for codes as features). The oracles below are the ELBO's.
ELBO = {"free_bits": 0.0, "noise_level": 0.0}


def scale_tril(logvar, tril=None):
    """The posterior's Cholesky factor ``A = diag(exp(logvar / 2)) + tril``, as skae defines it."""
    A = torch.diag_embed(torch.exp(0.5 * logvar))
    return A if tril is None else A + tril


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


@pytest.fixture(scope="module", params=["diagonal", "full"])
def ppca_fit(request):
    # The learned decoder can rotate the latent space until PPCA's posterior is diagonal: both
    # posteriors reach the maximum likelihood.
    X = ppca_data()
    train, test = X[:3000], X[3000:]
    vae = VAE(
        **ELBO,
        n_components=3,
        posterior=request.param,
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


# ------------------------------------------- oracle: a fixed linear-Gaussian decoder, exact posterior


def linear_gaussian_model(d=4, n=2000, noise_var=0.5, seed=0):
    """``x = W z + b + e``, ``z ~ N(0, I_2)``, ``e ~ N(0, noise_var I)``, with ``W`` far from
    orthogonal (``Wᵀ W / noise_var = [[20, 18], [18, 20]]``): the exact posterior has correlation
    -0.86, and with the decoder held at ``W`` no rotation of the latent space removes it."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(d, 2)))[0]
    W = np.sqrt(noise_var) * U @ np.linalg.cholesky([[20.0, 18.0], [18.0, 20.0]]).T
    b = rng.normal(size=d)
    X = rng.normal(size=(n, 2)) @ W.T + b + np.sqrt(noise_var) * rng.normal(size=(n, d))
    return X.astype(np.float32), W, b, noise_var


def fit_encoder_to_fixed_decoder(posterior, X, W, b, noise_var):
    """A linear VAE whose decoder is held at ``x = W z + b`` with noise ``noise_var``: only the
    encoder learns. Returns the estimator and the likelihood's variances as the module holds them."""
    vae = VAE(
        **ELBO,
        n_components=2,
        posterior=posterior,
        hidden_layer_sizes=(),
        activation="identity",
        batch_size=500,
        learning_rate_init=3e-2,
        tol=0,
        n_iter_no_change=10**6,
        random_state=0,
    )
    fit_quietly(vae.set_params(max_iter=1), X)  # builds and conditions the network
    m = vae.module_
    loc, scale = m.conditioning.loc.double().numpy(), m.conditioning.scale.double().numpy()
    layer = m.decoder.layers[0]
    with torch.no_grad():
        # The decoder computes in standardised units: mean = loc + scale * (W' z + b').
        layer.weight.copy_(torch.from_numpy(W / scale[:, None]))
        layer.bias.copy_(torch.from_numpy((b - loc) / scale))
        m.raw_logvar.copy_(torch.from_numpy(np.log(noise_var / scale**2)))
    for param in (layer.weight, layer.bias, m.raw_logvar):
        param.requires_grad_(False)
    variances = torch.exp(m.likelihood_logvar()).double().numpy()
    # Adam with a decaying step: the reparameterisation noise leaves the weights jittering by about
    # the step size.
    vae.set_params(warm_start=True)
    for epochs, lr in ((100, 3e-2), (50, 3e-3), (25, 3e-4)):
        fit_quietly(vae.set_params(max_iter=epochs, learning_rate_init=lr), X)
    return vae, variances


@pytest.fixture(scope="module")
def fixed_decoder_fits():
    X, W, b, noise_var = linear_gaussian_model()
    return {p: fit_encoder_to_fixed_decoder(p, X, W, b, noise_var) for p in ("full", "diagonal")}, (
        X,
        W,
        b,
    )


def test_full_posterior_is_exact_for_a_fixed_linear_gaussian_decoder(fixed_decoder_fits):
    fits, (X, W, b) = fixed_decoder_fits
    vae, v = fits["full"]
    # The exact posterior: N(S Wᵀ V⁻¹ (x - b), S) with S = (I + Wᵀ V⁻¹ W)⁻¹, the same for every x.
    precision = np.eye(2) + W.T @ (W / v[:, None])
    S = np.linalg.inv(precision)
    mean = (X - b) @ (W / v[:, None]) @ S
    assert S[0, 1] / np.sqrt(S[0, 0] * S[1, 1]) < -0.85
    rms = np.sqrt(np.mean((vae.transform(X) - mean) ** 2, axis=0) / np.diag(S))
    assert np.all(rms < 0.1)  # in posterior standard deviations
    with torch.no_grad():
        A = scale_tril(*vae.module_.posterior(torch.from_numpy(X))[1:]).double().numpy()
    cov = A @ A.transpose(0, 2, 1)
    assert np.abs(cov - S).max() < 0.1 * np.abs(S).max()  # 0.04 measured
    # The ELBO reaches the exact log-likelihood: with q the exact posterior every importance weight
    # equals p(x), so even the Monte-Carlo ELBO has almost no noise.
    exact = multivariate_normal(b, W @ W.T + np.diag(v)).logpdf(X.astype(np.float64))
    elbo = vae.set_params(n_importance_samples=500).score_samples(X)
    assert abs(np.mean(exact - elbo)) < 0.01
    assert np.all(np.abs(exact - elbo) < 0.05)


def test_diagonal_posterior_falls_short_by_the_predicted_gap(fixed_decoder_fits):
    fits, (X, W, b) = fixed_decoder_fits
    vae, v = fits["diagonal"]
    precision = np.eye(2) + W.T @ (W / v[:, None])
    # The best diagonal Gaussian for a Gaussian posterior N(m, P⁻¹): mean m, variances 1 / P_kk.
    # It misses log p(x) by KL(q || p(z|x)) = (Σ_k log P_kk - log det P) / 2, for every x.
    gap = 0.5 * (np.log(np.diag(precision)).sum() - np.linalg.slogdet(precision)[1])
    assert gap > 0.6
    with torch.no_grad():
        _, logvar, tril = vae.module_.posterior(torch.from_numpy(X))
    assert tril is None
    variances = np.exp(logvar.double().numpy())
    np.testing.assert_allclose(variances, np.broadcast_to(1 / np.diag(precision), variances.shape), rtol=0.05)
    exact = multivariate_normal(b, W @ W.T + np.diag(v)).logpdf(X.astype(np.float64))
    elbo = vae.set_params(n_importance_samples=500).score_samples(X)
    assert np.mean(exact - elbo) == pytest.approx(gap, abs=0.03)
    # (No check of the importance-weighted estimate here: this q is narrower than the posterior by a
    # factor 7 in variance along its long axis, so the weights have infinite variance.)
    full_elbo = fits["full"][0].set_params(n_importance_samples=500).score_samples(X)
    assert np.mean(full_elbo - elbo) > 0.9 * gap


# ------------------------------------------------------------------ the full posterior's pieces


def random_posterior(n=6, k=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, k, generator=gen)
    logvar = torch.randn(n, k, generator=gen)
    tril = strictly_lower(torch.randn(n, k * (k - 1) // 2, generator=gen), k)
    return mu, logvar, tril


def test_full_posterior_kl_and_density_match_torch_multivariate_normal():
    mu, logvar, tril = random_posterior()
    A = scale_tril(logvar, tril)
    assert torch.equal(A, A.tril()) and torch.all(torch.diagonal(A, dim1=-2, dim2=-1) > 0)
    q = MultivariateNormal(mu.double(), scale_tril=A.double())
    prior = MultivariateNormal(torch.zeros(4, dtype=torch.float64), torch.eye(4, dtype=torch.float64))
    expected = kl_divergence(q, prior)
    torch.testing.assert_close(kl_standard_normal(mu, logvar, tril).double(), expected, rtol=1e-5, atol=1e-5)
    # The diagonal posterior is the special case tril = 0.
    diagonal = MultivariateNormal(mu.double(), scale_tril=scale_tril(logvar).double())
    torch.testing.assert_close(
        kl_standard_normal(mu, logvar).double(), kl_divergence(diagonal, prior), rtol=1e-5, atol=1e-5
    )
    # The codes and their log-density: one draw per row (training) and draws shared by every row
    # (the Monte-Carlo scores).
    gen = torch.Generator().manual_seed(1)
    for eps in (torch.randn(6, 4, generator=gen), torch.randn(5, 1, 4, generator=gen)):
        z, log_q = reparameterize(mu, logvar, tril, eps)
        torch.testing.assert_close(z, mu + (A @ eps.unsqueeze(-1)).squeeze(-1))
        torch.testing.assert_close(log_q.double(), q.log_prob(z.double()), rtol=1e-5, atol=1e-5)


def test_strictly_lower_fills_rows_in_order():
    entries = torch.arange(1.0, 7.0)
    expected = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0], [2, 3, 0, 0], [4, 5, 6, 0]], dtype=torch.float32)
    torch.testing.assert_close(strictly_lower(entries, 4), expected)
    assert strictly_lower(torch.zeros(3, 0), 1).shape == (3, 1, 1)  # K = 1: nothing below the diagonal


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize(
    "posterior, likelihood, likelihood_variance",
    [("full", "bernoulli", "feature"), ("full", "gaussian", "code"), ("diagonal", "gaussian", "code")],
)
def test_gradients_are_finite_at_initialisation(digits, posterior, likelihood, likelihood_variance, tied):
    X = torch.from_numpy(digits[0][:64])
    vae = VAE(
        n_components=5,
        hidden_layer_sizes=(16,),
        likelihood=likelihood,
        likelihood_variance=likelihood_variance,
        posterior=posterior,
        tied_weights=tied,
    )
    module = vae._build_module(X.shape[1])
    module.reset_parameters(torch.Generator().manual_seed(0))
    module.condition(X.mean(0), X.std(0).clamp_min(0.1))
    loss = vae._loss(module, Batch(X, torch.Generator().manual_seed(1))).value
    loss.backward()
    assert torch.isfinite(loss)
    for name, param in module.named_parameters():
        assert param.grad is not None and torch.all(torch.isfinite(param.grad)), name
    # The new heads learn from the first step on.
    heads = [m for m in ("tril_head", "variance_head") if hasattr(module, m)]
    assert heads
    for head in heads:
        assert getattr(module, head).weight.grad.abs().sum() > 0, head


@pytest.mark.parametrize("n_components", [1, 3])
def test_full_posterior_methods(digits, n_components):
    X, _ = digits
    kw = dict(
        n_components=n_components,
        likelihood="bernoulli",
        hidden_layer_sizes=(16,),
        max_iter=3,
        random_state=0,
    )
    vae = fit_quietly(VAE(posterior="full", **kw), X[:300])
    elbo = vae.score_samples(X[:50])
    iw = vae.log_likelihood(X[:50])
    assert np.all(np.isfinite(elbo)) and np.all(iw >= elbo - 1e-3)
    np.testing.assert_allclose(vae.log_likelihood(X[40:50]), iw[40:], rtol=1e-5)  # row-independent
    assert vae.transform(X[:5]).shape == (5, n_components)
    assert vae.sample(3, random_state=0).shape == (3, 64)
    with torch.no_grad():
        _, _, tril = vae.module_.posterior(torch.from_numpy(X[:5]))
    assert tril.shape == (5, n_components, n_components)
    if n_components == 1:  # nothing below the diagonal: the diagonal posterior, weight for weight
        diagonal = fit_quietly(VAE(posterior="diagonal", **kw), X[:300])
        np.testing.assert_allclose(diagonal.score_samples(X[:50]), elbo, rtol=1e-5)


# ------------------------------------------------------------- a variance that depends on the code


def heteroscedastic_data(n, seed):
    """A line in 4-D whose noise grows tenfold along it: ``x = a t + 1 + s(t) e``, ``t ~ N(0, 1)``,
    ``s(t) = 0.1 + 0.9 sigmoid(3 t)``."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 1))
    s = 0.1 + 0.9 / (1 + np.exp(-3 * t))
    return (t * HETERO_SLOPE + 1.0 + s * rng.normal(size=(n, 4))).astype(np.float32)


HETERO_SLOPE = np.array([2.0, -1.0, 1.5, 0.5])


def heteroscedastic_log_likelihood(X):
    """The exact log-density of :func:`heteroscedastic_data`, by quadrature over ``t``."""
    t = np.linspace(-7, 7, 4001)
    s = 0.1 + 0.9 / (1 + np.exp(-3 * t))
    mean = t[:, None] * HETERO_SLOPE + 1.0
    X = X.astype(np.float64)[:, None, :]
    log_px_t = (-0.5 * ((X - mean) / s[:, None]) ** 2 - np.log(s)[:, None] - 0.5 * np.log(2 * np.pi)).sum(-1)
    log_pt = -0.5 * t**2 - 0.5 * np.log(2 * np.pi)
    return logsumexp(log_px_t + log_pt, axis=1) + np.log(t[1] - t[0])


def test_code_dependent_variance_wins_on_heteroscedastic_data():
    train, test = heteroscedastic_data(2000, 0), heteroscedastic_data(1000, 1)
    exact = heteroscedastic_log_likelihood(test).mean()
    scores = {}
    for variance in ("feature", "code"):
        vae = VAE(
            **ELBO,
            n_components=1,
            likelihood_variance=variance,
            hidden_layer_sizes=(16,),
            activation="tanh",
            learning_rate_init=1e-2,
            max_iter=60,
            batch_size=200,
            random_state=0,
        )
        scores[variance] = float(np.mean(fit_quietly(vae, train).log_likelihood(test)))
    # One variance per feature must cover the noisiest end of the line: it loses about a nat.
    assert scores["code"] > scores["feature"] + 0.8
    assert scores["code"] > exact - 0.25
    assert scores["code"] < exact + 0.05  # a lower bound, up to Monte-Carlo noise


def test_code_dependent_variance_cannot_collapse_onto_training_points():
    # Six points, as many latent dimensions as features and no KL term: the decoder can pin each
    # point and shrink its variance there without end. The bound stops it at exp(-10) times each
    # feature's variance, so the density stays finite.
    X = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    vae = VAE(
        **ELBO,
        n_components=3,
        beta=0.0,
        likelihood_variance="code",
        hidden_layer_sizes=(32,),
        learning_rate_init=1e-2,
        max_iter=300,
        tol=0,
        n_iter_no_change=10**6,
        random_state=0,
    )
    fit_quietly(vae, X)
    m = vae.module_
    low, high = _LIKELIHOOD_LOGVAR_BOUNDS
    offset = m.logvar_offset
    with torch.no_grad():
        _, logvar = m.decode_distribution(torch.from_numpy(vae.transform(X)))
    relative = (logvar - offset).numpy()
    assert relative.min() < -6  # it did collapse as far as it could go, towards the bound...
    assert relative.min() >= low - 1e-4 and relative.max() <= high + 1e-4  # ...and no further
    assert np.all(np.isfinite(vae.loss_curve_))
    # log p(x|z) <= Σ_j -(log scale_j² + low + log 2π) / 2, whatever z: beta=0 trains on it alone.
    cap = float((-0.5 * (offset + low + np.log(2 * np.pi))).sum())
    assert min(vae.loss_curve_) > -cap
    # However far the decoder pushes, the variance stays within its bounds.
    with torch.no_grad():
        m.variance_head.bias.fill_(-1e6)
        _, floor = m.decode_distribution(torch.zeros(2, 3))
        m.variance_head.bias.fill_(1e6)
        _, ceiling = m.decode_distribution(torch.zeros(2, 3))
    torch.testing.assert_close(floor, (offset + low).expand(2, -1))
    torch.testing.assert_close(ceiling, (offset + high).expand(2, -1))
    for out in (vae.score_samples(X), vae.log_likelihood(X), vae.sample(4, random_state=0, kind="draw")):
        assert np.all(np.isfinite(out))


def test_code_dependent_draws_have_the_decoded_variance():
    X = heteroscedastic_data(500, 0)
    vae = fit_quietly(
        VAE(n_components=1, likelihood_variance="code", hidden_layer_sizes=(8,), max_iter=5, random_state=0), X
    )
    means = vae.sample(4000, random_state=0)
    draws = vae.sample(4000, random_state=0, kind="draw")
    z = torch.randn((4000, 1), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, logvar = vae.module_.decode_distribution(z)
    # Standardised residuals: unit variance whatever the code's variance.
    r = (draws - means) / np.exp(0.5 * logvar.numpy())
    np.testing.assert_allclose(r.var(0), 1.0, rtol=0.1)


def test_code_dependent_variance_needs_the_gaussian_likelihood():
    with pytest.raises(ValueError, match="likelihood_variance='code'.*likelihood='gaussian'"):
        VAE(likelihood="bernoulli", likelihood_variance="code", max_iter=1).fit(np.eye(3))
    with pytest.raises(ValueError, match="posterior"):
        VAE(posterior="low-rank").fit(np.eye(3))


# 5 epochs, as in test_common: the checks fit hundreds of times and assert no quality.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [VAE(posterior="full", likelihood_variance="code", max_iter=5, hidden_layer_sizes=(8,), random_state=0)]
)
def test_full_posterior_and_code_variance_pass_the_estimator_checks(estimator, check):
    check(estimator)


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
            mu, logvar, _ = est.module_.posterior(torch.from_numpy(X))
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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one-epoch fits
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
    mu, _, _ = digits_vae.module_.posterior(torch.from_numpy(X[:50]))
    np.testing.assert_allclose(
        digits_vae.transform(X[:50]), mu.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    R = digits_vae.inverse_transform(digits_vae.transform(X[:50]))
    assert R.dtype == np.float32 and R.shape == (50, 64)
    assert R.min() >= 0 and R.max() <= 1  # Bernoulli means


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one-epoch fits
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


# ------------------------------------------------------------------ the IWAE objective (Burda et al.)


def iwae_kw(**params):
    kw = dict(
        **ELBO,
        n_components=8,
        likelihood="bernoulli",
        hidden_layer_sizes=(32,),
        learning_rate_init=3e-3,
        random_state=0,
    )
    return {**kw, **params}


def test_iwae_with_one_sample_is_the_elbo(digits):
    X, _ = digits
    # The bound of one draw is that draw's log-weight: the one-sample ELBO estimate.
    log_w = torch.randn(1, 7, dtype=torch.float64)
    torch.testing.assert_close(importance_weighted_bound(log_w), log_w[0])
    # Its expectation is the closed-form ELBO that objective="elbo" trains: with k=1 the two train
    # identically (the closed-form KL is the lower-variance estimate of the same expectation).
    kw = iwae_kw(max_iter=3)
    elbo = fit_quietly(VAE(objective="elbo", **kw), X[:400])
    iwae = fit_quietly(VAE(objective="iwae", n_train_samples=1, **kw), X[:400])
    assert iwae.loss_curve_ == elbo.loss_curve_
    np.testing.assert_array_equal(iwae.transform(X[:50]), elbo.transform(X[:50]))
    # The training loss (closed-form KL) and the Monte-Carlo ELBO of score_samples (log p(x, z) -
    # log q(z|x) averaged over draws) agree on average: the same bound, two estimators.
    module = elbo.module_
    Xt = torch.from_numpy(X[:400])
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        losses = [float(elbo._loss(module.eval(), Batch(Xt, gen)).value) for _ in range(50)]
    mc = -elbo.set_params(n_importance_samples=500).score(X[:400])
    assert np.mean(losses) == pytest.approx(mc, abs=0.05)


def test_iwae_training_loss_is_the_bound_of_its_draws(digits):
    # The training path (k draws per row, decoded as one batch) and the scoring path (_mc_bounds,
    # draws shared by rows) compute the same weights: row by row, with the training draws.
    X, _ = digits
    vae = fit_quietly(VAE(objective="iwae", n_train_samples=4, **iwae_kw(max_iter=2)), X[:200])
    module = vae.module_.eval()
    Xt = torch.from_numpy(X[:6])
    with torch.no_grad():
        loss = vae._loss(module, Batch(Xt, torch.Generator().manual_seed(5))).value
        eps = torch.randn((4, 6, vae.n_components), generator=torch.Generator().manual_seed(5))
        bounds = [vae._mc_bounds(module, Xt[i : i + 1], eps[:, i])[1] for i in range(6)]
    assert float(loss) == pytest.approx(-float(torch.cat(bounds).mean()), rel=1e-5)


def test_iwae_gradient_is_the_normalised_weighted_sum_of_log_weight_gradients(digits):
    # The documented estimator: grad log (1/k) sum w_i = sum_i w~_i grad log w_i, w~ = w / sum w,
    # through both the decoder and the encoder (not the doubly reparameterised one).
    X, _ = digits
    k = 3
    vae = fit_quietly(VAE(objective="iwae", n_train_samples=k, **iwae_kw(max_iter=1)), X[:100])
    module = vae.module_.eval()
    params = [p for p in module.parameters() if p.requires_grad]
    x = torch.from_numpy(X[:1])
    eps = torch.randn((k, 1, vae.n_components), generator=torch.Generator().manual_seed(1))
    loss = vae._loss(module, Batch(x, torch.Generator().manual_seed(1))).value
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    per_draw = []
    log_w = []
    for i in range(k):
        lw = vae._mc_bounds(module, x, eps[i])[0]  # one draw: its log-weight
        log_w.append(lw.detach().double())
        per_draw.append(torch.autograd.grad(lw.sum(), params, allow_unused=True))
    weights = torch.softmax(torch.cat(log_w), 0)
    for j, g in enumerate(grads):
        if g is None:
            continue
        expected = -sum(float(weights[i]) * per_draw[i][j] for i in range(k))
        torch.testing.assert_close(g, expected, rtol=1e-4, atol=1e-5)


def test_iwae_bound_is_tighter_on_held_out_data(digits):
    X, _ = digits
    rng = np.random.RandomState(0)
    order = rng.permutation(len(X))
    train, test = X[order[:1400]], X[order[1400:]]
    kw = iwae_kw(max_iter=20)
    elbo = fit_quietly(VAE(**kw), train)
    iwae = fit_quietly(VAE(objective="iwae", n_train_samples=5, **kw), train)

    def bound(vae, k):  # E[L_k] on held-out rows, averaged over draws
        return np.mean([vae.log_likelihood(test, n_importance_samples=k, random_state=s).mean() for s in range(5)])

    # Each model's own training bound on held-out data: IWAE's L_5 is tighter than the ELBO model's
    # ELBO (0.64 nats measured), and far above its own ELBO (its q is wider: it trades the ELBO for
    # the bound).
    assert bound(iwae, 5) > elbo.score(test) + 0.3
    assert bound(iwae, 5) > iwae.score(test) + 0.5
    # And the log-likelihood they reach, estimated with k=500: the IWAE model's is higher (0.27 nats
    # measured after 20 epochs, 0.15 after 40).
    assert iwae.log_likelihood(test, n_importance_samples=500).mean() > elbo.log_likelihood(
        test, n_importance_samples=500
    ).mean()


def test_iwae_parameters_are_validated(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="objective"):
        VAE(objective="vimco").fit(X[:50])
    with pytest.raises(ValueError, match="n_train_samples"):
        VAE(n_train_samples=0).fit(X[:50])


# ---------------------------------------------------------------------------------- free bits, input noise


@pytest.mark.parametrize("full", [False, True])
def test_kl_per_unit_sums_to_the_kl(full):
    rng = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(7, 5, generator=rng), torch.randn(7, 5, generator=rng)
    tril = strictly_lower(torch.randn(7, 10, generator=rng), 5) if full else None
    per_unit = kl_standard_normal_per_unit(mu, logvar, tril)
    assert per_unit.shape == (7, 5) and bool((per_unit >= 0).all())
    torch.testing.assert_close(per_unit.sum(-1), kl_standard_normal(mu, logvar, tril))
    if not full:  # each unit's own KL(N(mu_k, var_k) || N(0, 1)), from torch's distributions
        q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
        torch.testing.assert_close(per_unit, kl_divergence(q, torch.distributions.Normal(0.0, 1.0)))


def test_free_bits_above_every_units_kl_train_as_no_kl_at_all(digits):
    # A floor no unit reaches leaves the KL term constant: its gradient is zero, so the weights
    # follow those of beta=0 exactly, and the loss differs by the floor's constant only.
    X = digits[0][:300]
    params = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    free = fit_quietly(VAE(free_bits=1e6, **params), X)
    no_kl = fit_quietly(VAE(beta=0.0, **params), X)  # both with the default input noise, the same draws
    np.testing.assert_array_equal(free.transform(X), no_kl.transform(X))
    np.testing.assert_allclose(np.array(free.loss_curve_) - np.array(no_kl.loss_curve_), 3e6, rtol=1e-6)


def test_free_bits_keep_units_from_collapsing(digits):
    X = digits[0]
    params = dict(n_components=16, hidden_layer_sizes=(64,), max_iter=40, random_state=0)
    plain = fit_quietly(VAE(**ELBO, **params), X)
    free = fit_quietly(VAE(free_bits=0.5, noise_level=0.0, **params), X)
    active = [int((est.transform(X).std(axis=0) > 0.1).sum()) for est in (plain, free)]
    assert active[0] < 16 and active[1] == 16, active
    # The bounds it reports are still the model's own: the ELBO below the log-likelihood.
    assert free.score(X) <= free.log_likelihood(X).mean()


def test_input_noise_is_used_in_training_only(digits):
    X = digits[0][:300]
    before = X.copy()
    params = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    noisy = fit_quietly(VAE(noise_level=0.5, **params), X)
    clean = fit_quietly(VAE(noise_level=0.0, **params), X)
    np.testing.assert_array_equal(X, before)  # the user's rows are not corrupted in place
    assert not np.array_equal(noisy.transform(X), clean.transform(X))
    # transform is the posterior mean of the clean rows; score_samples draws its fixed seed's noise only.
    with torch.inference_mode():
        mean = noisy.module_.encode(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(noisy.transform(X), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(noisy.score_samples(X), noisy.score_samples(X))
    again = fit_quietly(VAE(noise_level=0.5, **params), X)
    np.testing.assert_array_equal(again.transform(X), noisy.transform(X))


def test_free_bits_need_the_elbo():
    with pytest.raises(ValueError, match="free_bits=0.5 .* objective='iwae'"):
        VAE(free_bits=0.5, objective="iwae", max_iter=1).fit(np.random.RandomState(0).rand(20, 4))


def test_auto_free_bits_are_half_a_nat_with_the_elbo_and_none_with_iwae(digits):
    X = digits[0][:200]
    params = dict(n_components=3, hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    auto = fit_quietly(VAE(**params), X)
    half = fit_quietly(VAE(free_bits=0.5, **params), X)
    np.testing.assert_array_equal(auto.transform(X), half.transform(X))
    iwae = dict(params, objective="iwae", n_train_samples=3)
    np.testing.assert_array_equal(
        fit_quietly(VAE(**iwae), X).transform(X), fit_quietly(VAE(free_bits=0.0, **iwae), X).transform(X)
    )


def test_a_pickle_from_before_free_bits_and_noise_loads_as_the_elbo_alone(digits):
    # Those VAEs fitted the ELBO alone: a refit of one loaded must too, not the new defaults.
    X = digits[0][:200]
    vae = fit_quietly(VAE(n_components=2, hidden_layer_sizes=(8,), max_iter=1, random_state=0), X)
    state = vae.__getstate__()
    del state["free_bits"], state["noise_level"]
    old = VAE.__new__(VAE)
    old.__setstate__(seal({k: v for k, v in state.items() if k != DIGEST_KEY}))  # its digest covers the saved keys
    assert (old.free_bits, old.noise_level) == (0.0, 0.0)
    np.testing.assert_array_equal(old.transform(X), vae.transform(X))


@pytest.mark.parametrize("likelihood_variance", ["feature", "code"])
@pytest.mark.parametrize("unit", [1e-19, 1e19])
def test_training_is_the_same_in_units_whose_squares_leave_float32(likelihood_variance, unit):
    # The Gaussian likelihood squared the error, then divided by the variance: for pixels in units of
    # 1e-19 the square underflowed and exp(-logvar) overflowed (0 * inf: "diverged" in the first epoch,
    # through the gradient of the form not even chosen). The error is now squared in units of the
    # deviation there; the model is that of ordinary units, its codes equal to rounding.
    X = (load_digits().data[:200] / 16).astype(np.float64)
    params = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=3, random_state=0, conditioning="standard",
                  likelihood_variance=likelihood_variance)
    plain = fit_quietly(VAE(**params), X)
    scaled = fit_quietly(VAE(**params), X * unit)
    assert scaled.n_iter_ == 3
    np.testing.assert_allclose(scaled.transform(X[:20] * unit), plain.transform(X[:20]), atol=1e-4)
    np.testing.assert_allclose(scaled.inverse_transform(plain.transform(X[:5])) / unit,
                               plain.inverse_transform(plain.transform(X[:5])), rtol=1e-3, atol=1e-4)


def test_features_of_mixed_units_train_as_in_ordinary_units():
    # The choice is per feature: 20 of 64 pixels in units of 1e-21 diverged in the first epoch
    # when it was made on the mean over features.
    X = (load_digits().data[:200] / 16).astype(np.float64)
    mixed = X.copy()
    mixed[:, :20] *= 1e-21
    params = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=3, random_state=0, conditioning="standard")
    plain = fit_quietly(VAE(**params), X)
    est = fit_quietly(VAE(**params), mixed)
    assert est.n_iter_ == 3
    np.testing.assert_allclose(est.transform(mixed[:20]), plain.transform(X[:20]), atol=1e-4)
