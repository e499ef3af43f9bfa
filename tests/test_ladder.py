"""LadderAutoencoder: the ladder network's pieces (combinator, batch statistics, costs) and behaviour."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import LadderAutoencoder
from skae._ladder import LadderModule, _Combinator


@pytest.fixture(scope="module")
def digits():
    return load_digits().data.astype(np.float32)


def fit_quiet(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


def module(sizes=(12, 6), n_features=20, k=3, seed=0):
    m = LadderModule(n_features, k, sizes)
    m.reset_parameters(torch.Generator().manual_seed(seed))
    return m


def test_combinator_starts_at_zero_and_is_the_paper_formula():
    g = _Combinator(4)
    g.reset_parameters()
    z, u = torch.randn(5, 4), torch.randn(5, 4)
    assert torch.equal(g(z, u), torch.zeros(5, 4))  # v = mu = 0 at the start
    with torch.no_grad():
        g.a.copy_(torch.randn(10, 4))
    a = g.a.detach()
    mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
    v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
    torch.testing.assert_close(g(z, u), (z - mu) * v + mu)


def test_clean_pass_is_batch_normalised_and_updates_running_statistics():
    m = module().train()
    x = torch.randn(64, 20) * 3 + 1
    zs, moments, _ = m._encode(x, batch_stats=True, update_running=True)
    for z in zs[1:]:  # every layer above the input: zero mean, unit variance over the batch
        torch.testing.assert_close(z.mean(0), torch.zeros(z.shape[1]), atol=1e-5, rtol=0)
        torch.testing.assert_close(z.var(0, unbiased=False), torch.ones(z.shape[1]), atol=1e-3, rtol=0)
    # Running averages moved a tenth of the way from (0, 1) towards the batch moments.
    torch.testing.assert_close(m.running_mean_1, 0.1 * moments[1][0].detach())
    torch.testing.assert_close(m.running_var_1, 0.9 + 0.1 * moments[1][1].detach())


def test_appended_rows_do_not_shift_the_batch_statistics():
    """The classifier appends labeled rows to a step's batch: with stats_rows set, the statistics, and
    so every value of the original rows, are those of the original rows alone."""
    m = module().train()
    x = torch.randn(32, 20)
    extra = torch.randn(10, 20) * 50 + 7  # wildly off-distribution rows
    alone = m._encode(x, batch_stats=True)[0]
    m.stats_rows = 32
    together = m._encode(torch.cat([x, extra]), batch_stats=True)[0]
    m.stats_rows = None
    for a, b in zip(alone, together):
        torch.testing.assert_close(b[:32], a, atol=1e-5, rtol=1e-5)


def test_noise_reaches_every_layer_and_comes_from_the_generator():
    m = module().train()
    x = torch.randn(16, 20)
    clean = m._encode(x, batch_stats=True)[0]
    noisy = m._encode(x, 0.3, torch.Generator().manual_seed(1), batch_stats=True, input_noise_level=0.75)[0]
    again = m._encode(x, 0.3, torch.Generator().manual_seed(1), batch_stats=True, input_noise_level=0.75)[0]
    for l, (c, n, a) in enumerate(zip(clean, noisy, again)):
        assert torch.equal(n, a)
        # The input gets 0.75 standard deviations; the layers above are normalised before their 0.3
        # is added, so their difference from the clean pass is at least about that.
        assert float((n - c).detach().std()) > (0.6 if l == 0 else 0.25)


def test_denoising_weights_select_the_layers_and_are_validated(digits):
    kw = dict(n_components=10, hidden_layer_sizes=(32,), max_iter=3, random_state=0)
    gamma = fit_quiet(LadderAutoencoder(denoising_weights=[0, 0, 1], **kw), digits)
    assert np.isfinite(gamma.loss_curve_).all()
    with pytest.raises(ValueError, match=r"denoising_weights must hold 3 non-negative numbers"):
        LadderAutoencoder(denoising_weights=[1, 1], **kw).fit(digits)
    with pytest.raises(ValueError, match=r"non-negative"):
        LadderAutoencoder(denoising_weights=[1, -1, 1], **kw).fit(digits)
    # "auto": Rasmus et al.'s pattern, the input's weight scaled to the standardised input.
    assert LadderAutoencoder(hidden_layer_sizes=(8, 8, 8))._weights() == [100.0, 10.0, 0.1, 0.1, 0.1]


def test_training_learns_to_denoise_the_input(digits):
    """After training, the decoder's estimate of the input from the noisy pass is much closer to the
    clean (standardised) input than the noisy input is: the ladder is a denoising autoencoder."""
    est = fit_quiet(LadderAutoencoder(n_components=10, hidden_layer_sizes=(64,), max_iter=30, random_state=0), digits)
    m = est.module_.eval()
    x = torch.from_numpy(digits[:300])
    with torch.no_grad():
        gen = torch.Generator().manual_seed(5)
        noisy, _, top = m._encode(x, 0.3, gen, input_noise_level=0.75)
        clean = m._encode(x)[0]
        estimate = m._decode(noisy, top)[0]
    assert float(((estimate - clean[0]) ** 2).mean()) < 0.5 * float(((noisy[0] - clean[0]) ** 2).mean())
    assert est.loss_curve_[-1] < 0.5 * est.loss_curve_[0]


def test_outputs_are_deterministic_row_independent_and_shaped(digits):
    est = fit_quiet(LadderAutoencoder(n_components=4, hidden_layer_sizes=(16,), max_iter=3, random_state=0), digits)
    codes = est.transform(digits[:50])
    np.testing.assert_array_equal(est.transform(digits[:50]), codes)
    np.testing.assert_allclose(est.transform(digits[:1]), codes[:1], rtol=1e-5, atol=1e-6)
    scores = est.score_samples(digits[:50])
    np.testing.assert_allclose(est.score_samples(digits[10:11]), scores[10:11], rtol=1e-5, atol=1e-6)
    assert scores.shape == (50,) and np.all(scores <= 0)
    assert est.inverse_transform(codes).shape == (50, 64)
    assert est.jacobian(digits[:2]).shape == (2, 4, 64)
