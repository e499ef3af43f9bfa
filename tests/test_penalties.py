"""The penalty functions alone, against oracles: numpy formulas and autograd Jacobians."""

import numpy as np
import pytest
import torch

from skae._penalties import (
    activation_derivative,
    contractive_penalty,
    jacobian_norm_by_products,
    kl_sparsity_penalty,
    l1_penalty,
    rademacher_like,
)
from skae.nn.autoencoder import AutoencoderModule
from skae.nn.layers import ACTIVATIONS


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_l1_penalty_is_the_row_l1_norm():
    h = _rand(7, 5)
    np.testing.assert_allclose(l1_penalty(h).numpy(), np.abs(h.numpy()).sum(axis=1))


def test_kl_penalty_matches_the_bernoulli_kl_formula():
    code = torch.rand(50, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rho = 0.05
    rho_hat = code.numpy().mean(axis=0)
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    assert kl_sparsity_penalty(code, rho).item() == pytest.approx(expected, rel=1e-10)


def test_kl_penalty_is_zero_at_the_target_and_finite_when_saturated():
    at_target = torch.full((4, 3), 0.2)
    assert kl_sparsity_penalty(at_target, 0.2).item() == pytest.approx(0.0, abs=1e-6)
    for saturated in (torch.zeros(4, 3), torch.ones(4, 3)):
        value = kl_sparsity_penalty(saturated, 0.05)
        assert torch.isfinite(value) and value.item() > 1.0
    # KL grows as the mean activation moves away from the target, on either side.
    values = [kl_sparsity_penalty(torch.full((2, 1), m), 0.3).item() for m in (0.01, 0.1, 0.3)]
    assert values[0] > values[1] > values[2]
    values = [kl_sparsity_penalty(torch.full((2, 1), m), 0.3).item() for m in (0.3, 0.6, 0.99)]
    assert values[0] < values[1] < values[2]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_autograd(name):
    z = _rand(200, seed=1) * 3
    z.requires_grad_(True)
    (grad,) = torch.autograd.grad(ACTIVATIONS[name](z).sum(), z)
    np.testing.assert_allclose(
        activation_derivative(name, z.detach()).numpy(), grad.numpy(), atol=1e-12
    )


def test_unknown_activation_and_misaligned_inputs_raise():
    with pytest.raises(ValueError, match="Unknown activation 'swish'"):
        activation_derivative("swish", torch.zeros(2))
    with pytest.raises(ValueError, match="aligned"):
        contractive_penalty([torch.zeros(2, 3)], [], ["relu"])


def _encoder_pieces(module, x, multipliers=None):
    """Pre-activations of each encoder layer (optional dropout multipliers on hidden layers)."""
    enc = module.encoder
    pre, h = [], x
    for i, layer in enumerate(enc.layers):
        z = layer(h)
        pre.append(z)
        last = i == len(enc.layers) - 1
        h = ACTIVATIONS[enc.last_activation if last else enc.activation](z)
        if multipliers is not None and multipliers[i] is not None:
            h = h * multipliers[i]
    acts = [enc.activation] * (len(enc.layers) - 1) + [enc.last_activation]
    return pre, [layer.weight for layer in enc.layers], acts, h


def _jacobian_norms(module, x, multipliers=None):
    """Oracle: ‖∂h/∂x‖²_F of each row, from torch.func's Jacobian of the (masked) encoder."""
    hidden = module.encoder.layers[:-1]
    if multipliers is None:
        multipliers = [
            torch.ones(x.shape[0], layer.weight.shape[0], dtype=x.dtype) for layer in hidden
        ]
    multipliers = list(multipliers[: len(hidden)])

    def jacobian_one(row, *masks):
        def encode(r):
            return _encoder_pieces(module, r.unsqueeze(0), [*masks, None])[3].squeeze(0)

        return torch.func.jacrev(encode)(row)

    # The masks are per sample: vmap over them alongside the rows.
    J = torch.func.vmap(jacobian_one)(x, *multipliers)
    return J.square().sum(dim=(1, 2))


def _module(n_features, n_components, hidden, activation, code_activation, seed=0):
    m = AutoencoderModule(n_features, n_components, hidden, activation, code_activation)
    m.reset_parameters(torch.Generator().manual_seed(seed))
    with torch.no_grad():  # non-zero biases so that every activation is exercised off its centre
        for layer in m.encoder.layers:
            layer.bias.normal_(0, 0.5, generator=torch.Generator().manual_seed(seed + 1))
    return m.double()


@pytest.mark.parametrize("code_activation", sorted(ACTIVATIONS))
def test_one_layer_closed_form_equals_the_jacobian(code_activation):
    m = _module(12, 5, (), "relu", code_activation)
    x = _rand(30, 12, seed=2)
    pieces = _encoder_pieces(m, x)
    penalty = contractive_penalty(*pieces[:3])
    torch.testing.assert_close(penalty, _jacobian_norms(m, x), rtol=1e-10, atol=0)


# (16, 8): first hidden layer wider than the input; (6, 9): narrower, the Gram-matrix path.
@pytest.mark.parametrize("hidden", [(16,), (16, 8), (6, 9), (6, 9, 7)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "elu", "gelu"])
@pytest.mark.parametrize("code_activation", ["identity", "sigmoid"])
def test_deep_penalty_equals_the_jacobian(hidden, activation, code_activation):
    m = _module(12, 4, hidden, activation, code_activation)
    x = _rand(25, 12, seed=3)
    penalty = contractive_penalty(*_encoder_pieces(m, x)[:3])
    torch.testing.assert_close(penalty, _jacobian_norms(m, x), rtol=1e-10, atol=0)


def test_penalty_with_dropout_multipliers_equals_the_masked_jacobian():
    m = _module(10, 3, (8, 6), "tanh", "identity")
    x = _rand(20, 10, seed=4)
    g = torch.Generator().manual_seed(5)
    masks = [
        torch.bernoulli(torch.full((20, h), 0.7, dtype=torch.float64), generator=g) / 0.7
        for h in (8, 6)
    ] + [None]
    pre, weights, acts, _ = _encoder_pieces(m, x, masks)
    penalty = contractive_penalty(pre, weights, acts, masks)
    torch.testing.assert_close(penalty, _jacobian_norms(m, x, masks), rtol=1e-10, atol=0)


@pytest.mark.parametrize("hidden", [(), (7,), (16, 5)])
def test_penalty_gradient_equals_the_jacobian_norm_gradient(hidden):
    # The training signal, not only the value: second derivatives of the activations included.
    m = _module(9, 3, hidden, "tanh", "sigmoid")
    x = _rand(15, 9, seed=6)
    params = list(m.encoder.parameters())
    value = contractive_penalty(*_encoder_pieces(m, x)[:3]).mean()
    grads = torch.autograd.grad(value, params)
    oracle = torch.autograd.grad(_jacobian_norms(m, x).mean(), params)
    for g, o in zip(grads, oracle, strict=True):
        torch.testing.assert_close(g, o, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ penalties by Jacobian products


def _conditioned_module(n_features=9, n_components=3, hidden=(7, 5), seed=0):
    """A double-precision module that standardises its input with random location and scale."""
    m = _module(n_features, n_components, hidden, "tanh", "sigmoid", seed=seed)
    g = torch.Generator().manual_seed(seed + 10)
    loc = torch.randn(n_features, generator=g, dtype=torch.float64)
    scale = torch.rand(n_features, generator=g, dtype=torch.float64) * 3 + 0.1
    m.condition(loc, scale)
    return m


def _exact_standardised(m, x):
    """Oracle: ‖∂h/∂x_std‖²_F per row, the Jacobian with respect to the standardised input."""
    return _jacobian_norms(m, m.conditioning.standardize(x))


def test_products_with_the_basis_vectors_give_the_exact_penalty():
    m = _conditioned_module()
    x = _rand(20, 9, seed=7).requires_grad_(True)
    code = m.encode(x)
    eye = torch.eye(3, dtype=x.dtype)
    value = jacobian_norm_by_products(code, x, [e.expand_as(code) for e in eye], m.conditioning.scale)
    torch.testing.assert_close(value, _exact_standardised(m, x.detach()), rtol=1e-10, atol=0)
    # Without the scale: the Jacobian in the input's own units, K / scale² larger per feature.
    plain = jacobian_norm_by_products(code, x, [e.expand_as(code) for e in eye])
    J = torch.func.vmap(torch.func.jacrev(lambda r: m.encode(r.unsqueeze(0)).squeeze(0)))(x.detach())
    torch.testing.assert_close(plain, J.square().sum(dim=(1, 2)), rtol=1e-10, atol=0)


def test_mean_over_every_sign_vector_is_exact_in_value_and_gradient():
    # The uniform distribution over the 2^K sign vectors has E[v vᵀ] = I exactly, so the mean of
    # the estimate over all of them is the exact penalty, and so is the mean of its gradient: the
    # identity that makes the random-projection estimate unbiased, checked without sampling.
    m = _conditioned_module(n_components=3)
    x = _rand(15, 9, seed=8).requires_grad_(True)
    params = list(m.encoder.parameters())
    code = m.encode(x)
    signs = torch.tensor(
        [[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], dtype=x.dtype
    )
    vectors = [v.expand_as(code) for v in signs]
    value = jacobian_norm_by_products(code, x, vectors, m.conditioning.scale) / len(signs)
    exact = _exact_standardised(m, x.detach())
    torch.testing.assert_close(value, exact, rtol=1e-10, atol=0)
    # One sign vector alone is not exact: the average is what removes the cross terms.
    single = jacobian_norm_by_products(code, x, vectors[:1], m.conditioning.scale)
    assert not torch.allclose(single, exact, rtol=1e-3)
    grads = torch.autograd.grad(value.mean(), params)
    oracle = torch.autograd.grad(exact.mean(), params)
    for g, o in zip(grads, oracle, strict=True):
        torch.testing.assert_close(g, o, rtol=1e-9, atol=1e-12)


def test_rademacher_estimate_is_unbiased_within_a_few_standard_errors():
    m = _conditioned_module(n_features=12, n_components=5, hidden=(16, 8), seed=3)
    x = _rand(8, 12, seed=9)
    n_draws = 4000
    # Every draw at once: the batch repeated, one independent sign vector per row.
    rep = x.repeat(n_draws, 1).requires_grad_(True)
    code = m.encode(rep)
    v = rademacher_like(code, torch.Generator().manual_seed(0))
    draws = jacobian_norm_by_products(code, rep, [v], m.conditioning.scale).detach()
    draws = draws.reshape(n_draws, len(x))
    mean, se = draws.mean(dim=0), draws.std(dim=0) / n_draws**0.5
    exact = _exact_standardised(m, x)
    assert ((mean - exact).abs() < 4 * se).all(), ((mean - exact) / se)
    # ... a test that can fail: the standard errors are small, and one draw is far off.
    assert (se < 0.05 * exact).all()
    assert ((draws[0] - exact).abs() > 4 * se).any()


def test_rademacher_signs_come_from_the_generator_only():
    t = torch.zeros(1000, 4, dtype=torch.float32)
    before = torch.get_rng_state()
    a = rademacher_like(t, torch.Generator().manual_seed(1))
    b = rademacher_like(t, torch.Generator().manual_seed(1))
    c = rademacher_like(t, torch.Generator().manual_seed(2))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == t.dtype and set(a.unique().tolist()) == {-1.0, 1.0}
    assert abs(a.mean().item()) < 0.05


def test_products_need_at_least_one_vector():
    x = _rand(3, 4).requires_grad_(True)
    with pytest.raises(ValueError, match="at least one"):
        jacobian_norm_by_products(x * 2, x, [])
