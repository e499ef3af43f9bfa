"""The penalty functions alone, against oracles: numpy formulas and autograd Jacobians."""

import numpy as np
import pytest
import torch

from skae._modules import ACTIVATIONS, AutoencoderModule
from skae._penalties import (
    activation_derivative,
    contractive_penalty,
    kl_sparsity_penalty,
    l1_penalty,
)


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
