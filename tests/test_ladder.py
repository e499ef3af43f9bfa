"""LadderAutoencoder: the ladder network's pieces (combinator, batch statistics, costs) and behaviour."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import LadderAutoencoder
from skae.nn.ladder import LadderModule, _Combinator


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


def one_pass(m, x, noise_level=0.0, generator=None, **kw):
    """One encoder pass as per-layer (n, m) tensors: the noisy one when there is noise, else the clean one."""
    zs, moments, top = m._passes(x, noise_level, generator, **kw)
    return [z[0] for z in zs], moments, top[0]


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
    zs, _, _ = one_pass(m, x, batch_stats=True, update_running=True)
    for z in zs[1:]:  # every layer above the input: zero mean, unit variance over the batch
        torch.testing.assert_close(z.mean(0), torch.zeros(z.shape[1]), atol=1e-5, rtol=0)
        torch.testing.assert_close(z.var(0, unbiased=False), torch.ones(z.shape[1]), atol=1e-3, rtol=0)
    # Running averages moved a tenth of the way from (0, 1) towards the batch moments.
    pre = m.conditioning.standardize(x) @ m.weights[0].detach().T
    torch.testing.assert_close(m.running_mean_1, 0.1 * pre.mean(0))
    torch.testing.assert_close(m.running_var_1, 0.9 + 0.1 * pre.var(0, unbiased=False))


def test_appended_rows_do_not_shift_the_batch_statistics():
    """The classifier appends labeled rows to a step's batch: with stats_rows set, the statistics, and
    so every value of the original rows, are those of the original rows alone."""
    m = module().train()
    x = torch.randn(32, 20)
    extra = torch.randn(10, 20) * 50 + 7  # wildly off-distribution rows
    alone = one_pass(m, x, batch_stats=True)[0]
    m.stats_rows = 32
    together = one_pass(m, torch.cat([x, extra]), batch_stats=True)[0]
    m.stats_rows = None
    for a, b in zip(alone, together):
        torch.testing.assert_close(b[:32], a, atol=1e-5, rtol=1e-5)


def test_noise_reaches_every_layer_and_comes_from_the_generator():
    m = module().train()
    x = torch.randn(16, 20)
    clean = one_pass(m, x, batch_stats=True)[0]
    noisy = one_pass(m, x, 0.3, torch.Generator().manual_seed(1), batch_stats=True, input_noise_level=0.75)[0]
    again = one_pass(m, x, 0.3, torch.Generator().manual_seed(1), batch_stats=True, input_noise_level=0.75)[0]
    for l, (c, n, a) in enumerate(zip(clean, noisy, again)):
        assert torch.equal(n, a)
        # The input gets 0.75 standard deviations; the layers above are normalised before their 0.3
        # is added, so their difference from the clean pass is at least about that.
        assert float((n - c).detach().std()) > (0.6 if l == 0 else 0.25)


def test_denoising_weights_select_the_layers_and_are_validated(digits):
    kw = dict(n_components=10, hidden_layer_sizes=(32,), max_iter=3, random_state=0)
    gamma = fit_quiet(LadderAutoencoder(denoising_weights=[0, 0, 1], **kw), digits)
    assert np.isfinite(gamma.loss_curve_).all()
    # The weights pick the layers' costs: the Γ-model's score is minus its code layer's cost alone,
    # and weights on the input alone score the input's cost.
    inputs = fit_quiet(LadderAutoencoder(denoising_weights=[2, 0, 0], **kw), digits)
    for model, layer, weight in ((gamma, 2, 1.0), (inputs, 0, 2.0)):
        model.module_.eval()
        with torch.no_grad():
            costs, _ = model.module_.denoising_costs(torch.as_tensor(digits[:50], dtype=torch.float32), 0.0, None)
        expected = -weight * costs[layer].numpy()
        np.testing.assert_allclose(model.score_samples(digits[:50]), expected, rtol=1e-5, atol=1e-7)
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
        noisy, _, top = one_pass(m, x, 0.3, gen, input_noise_level=0.75)
        clean = one_pass(m, x)[0]
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


# ---------------------------------------------------------------- oracle: the ladder before its speed-up
# The formulation of the ladder step before the noisy and clean passes were stacked into one (each pass
# on its own, every layer normalised by an explicit mean and variance): the optimised module must give
# the same costs, code, gradients and running statistics.


def _reference_costs(m, x, noise_level, generator, input_noise_level, stats_rows=None):
    train = m.training

    def moments(z, name, batch_stats, update):
        if not batch_stats:
            return getattr(m, f"running_mean_{name}"), getattr(m, f"running_var_{name}")
        s = z if stats_rows is None else z[:stats_rows]
        mean = s.mean(dim=0)
        var = ((s - mean) ** 2).mean(dim=0)
        if update:
            with torch.no_grad():
                getattr(m, f"running_mean_{name}").lerp_(mean.detach(), 0.1)
                getattr(m, f"running_var_{name}").lerp_(var.detach(), 0.1)
        return mean, var

    def normalize(z, mean, var):
        return (z - mean) / torch.sqrt(var + 1e-5)

    def encode(noise, gen, input_noise, update):
        z = (x - m.conditioning.loc) / m.conditioning.scale
        if input_noise:
            z = z + input_noise * torch.randn(z.shape, generator=gen)
        zs, ms, h = [z], [None], z
        for i, w in enumerate(m.weights, start=1):
            mv = moments(h @ w.T, str(i), train, update)
            z = normalize(h @ w.T, *mv)
            if noise:
                z = z + noise * torch.randn(z.shape, generator=gen)
            zs.append(z)
            ms.append(mv)
            h = m._activate(i, z)
        return zs, ms, h

    def combinator(a, z, u):
        mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
        v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
        return (z - mu) * v + mu

    noisy, _, top = encode(noise_level, generator, input_noise_level, False)
    clean, ms, _ = encode(0.0, None, 0.0, train)
    estimates, u = [None] * (m.n_layers + 1), top
    for l in range(m.n_layers, -1, -1):
        if l < m.n_layers:
            u = estimates[l + 1] @ m.vertical[l].T
        u = normalize(u, *moments(u, f"u{l}", train, train))
        estimates[l] = combinator(m.combinators[l].a, noisy[l], u)
    weight = m.conditioning.scale**2
    costs = [((estimates[0] - clean[0]) ** 2 * weight / weight.mean()).mean(1)]
    costs += [((normalize(e, *ms[l]) - z) ** 2).mean(1) for l, (e, z) in enumerate(zip(estimates, clean)) if l]
    return costs, top


@pytest.mark.parametrize("stats_rows", [None, 24])
@pytest.mark.parametrize("input_noise", [0.75, 0.0])
def test_stacked_passes_equal_the_reference_formulation(stats_rows, input_noise):
    """Costs, noisy code, every parameter's gradient and the running statistics of the optimised
    module equal those of the step written out pass by pass (a tiny net, random combinators and a
    non-trivial conditioning so that no term is trivially zero)."""
    x = torch.randn(32, 20, generator=torch.Generator().manual_seed(11)) * 2 + 0.5
    results = []
    for impl in ("optimised", "reference"):
        m = module(sizes=(12, 6), k=3, seed=3).train()
        m.condition(torch.linspace(-1, 1, 20), torch.linspace(0.5, 2, 20))
        with torch.no_grad():
            for c in m.combinators:
                c.a.copy_(torch.randn(c.a.shape, generator=torch.Generator().manual_seed(c.a.shape[1])))
        gen = torch.Generator().manual_seed(7)
        if impl == "optimised":
            m.stats_rows = stats_rows
            costs, code = m.denoising_costs(x, 0.3, gen, input_noise)
        else:
            costs, code = _reference_costs(m, x, 0.3, gen, input_noise, stats_rows)
        total = sum(w * c for w, c in zip([3.0, 2.0, 0.5, 0.1], costs)).mean() + code.square().mean()
        total.backward()
        grads = {n: p.grad.clone() for n, p in m.named_parameters()}
        buffers = {n: b.clone() for n, b in m.named_buffers() if n.startswith("running")}
        results.append((costs, code.detach(), grads, buffers))
    (c1, k1, g1, b1), (c2, k2, g2, b2) = results
    for a, b in zip(c1, c2):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(k1, k2, rtol=1e-5, atol=1e-6)
    assert g1.keys() == g2.keys() and all(float(g.abs().sum()) > 0 for g in g2.values())
    for n in g1:
        # Float32 rounding (rsqrt against a square root and a division) only: within 1e-4 of the largest entry.
        torch.testing.assert_close(g1[n], g2[n], rtol=1e-3, atol=1e-4 * float(g2[n].abs().max()),
                                   msg=lambda s, n=n: f"{n}: {s}")
    for n in b1:
        torch.testing.assert_close(b1[n], b2[n], rtol=1e-5, atol=1e-6, msg=n)


def test_eval_costs_equal_the_reference_and_take_one_pass():
    m = module(seed=4)
    m.train()
    x = torch.randn(40, 20, generator=torch.Generator().manual_seed(13))
    m.denoising_costs(x, 0.3, torch.Generator().manual_seed(0))  # moves the running stats
    m.eval()
    x = torch.randn(9, 20, generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        costs, code = m.denoising_costs(x, 0.0, None)
        ref, ref_code = _reference_costs(m, x, 0.0, None, 0.0)
        assert m._passes(x)[0][1].shape[0] == 1
    for a, b in zip(costs, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(code, ref_code, rtol=1e-5, atol=1e-6)


def test_input_noise_in_the_data_units_is_the_same_for_every_feature():
    """input_noise_units="data": the noise the input gets has the same standard deviation, in the data's
    units, for every feature whatever its own spread (Rasmus et al.'s 0.3 on every pixel); "feature":
    a fixed share of each feature's scale."""
    x = torch.randn(4000, 20) * torch.linspace(0.1, 10, 20)
    m = module()
    m.condition(torch.zeros(20), torch.linspace(0.1, 10, 20))
    est = LadderAutoencoder(input_noise_level=0.3, input_noise_units="data")
    noise = est.input_noise_level / m.conditioning.scale
    zs = m._passes(x, 0.0, torch.Generator().manual_seed(0), input_noise_level=noise)[0][0]
    in_data_units = (zs[0] - zs[1]) * m.conditioning.scale
    torch.testing.assert_close(in_data_units.std(0), torch.full((20,), 0.3), rtol=0.06, atol=0)
    zs = m._passes(x, 0.0, torch.Generator().manual_seed(0), input_noise_level=0.3)[0][0]
    torch.testing.assert_close((zs[0] - zs[1]).std(0), torch.full((20,), 0.3), rtol=0.06, atol=0)


def test_published_configuration_fits(digits):
    est = LadderAutoencoder(n_components=4, hidden_layer_sizes=(8,), denoising_weights=(74, 10, 0.1),
                            noise_level=0.3, input_noise_level=0.3, input_noise_units="data", max_iter=2,
                            random_state=0)
    fit_quiet(est, digits / 16)
    assert np.isfinite(est.loss_curve_).all() and np.isfinite(est.transform(digits[:5] / 16)).all()


def _recording_losses(est):
    """Each training step's ``(unlabeled rows, objective)``, appended to the returned list."""
    steps = []
    loss = est._loss

    def recorded(module, batch):
        out = loss(module, batch)
        steps.append((batch.X.shape[0] - batch.n_extra, float(out.value.detach())))
        return out

    est._loss = recorded
    return steps


@pytest.mark.parametrize("n, sizes", [(67, [16, 16, 16, 19]), (72, [16, 16, 16, 16, 8]), (10, [10])])
def test_a_small_last_batch_joins_the_one_before(digits, n, sizes):
    """Batch normalisation over the 3 rows an epoch leaves (67 = 4 * 16 + 3) would be noise, in the
    step and in the running averages: those rows join the batch before. Half a batch or more is a step
    of its own, and the plain autoencoder keeps its batches."""
    X = digits[:n]
    lad = LadderAutoencoder(4, hidden_layer_sizes=(8,), batch_size=16, max_iter=2, n_iter_no_change=100,
                            learning_rate="linear_decay", random_state=0)
    steps = _recording_losses(lad)
    fit_quiet(lad, X)
    assert [rows for rows, _ in steps] == sizes * 2
    assert lad.t_ == 2 * n
    # The epoch's loss weighs each step by its rows, the merged one included.
    first = steps[: len(sizes)]
    expected = sum(rows * value for rows, value in first) / n * lad._loss_scale
    assert lad.loss_curve_[0] == pytest.approx(expected, rel=1e-5)
    # The linear decay counts the epochs' steps as taken: the last one runs one step away from 0.
    assert lad._optimizer.param_groups[0]["lr"] == pytest.approx(lad.learning_rate_init / len(steps), rel=1e-9)

    from skae import Autoencoder

    ae = Autoencoder(4, hidden_layer_sizes=(8,), batch_size=16, max_iter=1, random_state=0)
    plain = _recording_losses(ae)
    fit_quiet(ae, X)
    assert [rows for rows, _ in plain] == [16] * (n // 16) + ([n % 16] if n % 16 else [])


def test_a_time_boxed_epoch_counts_the_rows_it_saw(digits, monkeypatch):
    import skae._schedule

    class Clock:  # one second per reading
        now = 0.0

        def perf_counter(self):
            self.now += 1.0
            return self.now - 1.0

    monkeypatch.setattr(skae._schedule, "time", Clock())
    lad = LadderAutoencoder(4, hidden_layer_sizes=(8,), batch_size=16, max_iter=100, max_time=6.0, random_state=0)
    steps = _recording_losses(lad)
    lad.fit(digits[:67])
    # Six steps: a whole epoch of four (16, 16, 16 and the merged 19), then two of the next.
    assert [rows for rows, _ in steps] == [16, 16, 16, 19, 16, 16]
    assert lad.n_iter_ == 2 and lad.t_ == 67 + 32


def test_the_classifier_merges_the_ladders_small_last_batch(digits):
    from skae import AutoencoderClassifier

    y = load_digits().target[:67].copy()
    y[20:] = -1
    clf = AutoencoderClassifier(batch_size=16, labeled_batch_size=8, max_iter=1, random_state=0)
    steps = _recording_losses(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(digits[:67], y)
    assert [rows for rows, _ in steps] == [16, 16, 16, 19]


@pytest.mark.parametrize("unit", [1e-21, 1e19])
def test_training_is_the_same_in_units_whose_squares_leave_float32(digits, unit):
    # The input's cost weighs each feature by its variance relative to the mean: for pixels of 0 to
    # 16e-21 those squares underflowed (0 / 0) and for 0 to 16e19 their mean overflowed (every weight
    # 0), so that no epoch trained ("diverged") or the input went uncosted. The same ratios from the scales
    # relative to their largest give the model of ordinary units, up to rounding.
    X = digits[:200].astype(np.float64)
    params = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    plain = fit_quiet(LadderAutoencoder(**params), X)
    scaled = fit_quiet(LadderAutoencoder(**params), X * unit)
    assert scaled.n_iter_ == 3  # a diverged first epoch leaves 0
    np.testing.assert_allclose(scaled.transform(X[:20] * unit), plain.transform(X[:20]), rtol=0.02, atol=0.02)
