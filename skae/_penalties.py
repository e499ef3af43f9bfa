"""Regularisation penalties as pure torch functions.

Each function takes tensors and returns a tensor that autograd differentiates; none knows about
scikit-learn or about the estimators that use it, so each can be tested alone against an oracle.
"""

import math

import torch

__all__ = [
    "l1_penalty",
    "kl_sparsity_penalty",
    "activation_derivative",
    "contractive_penalty",
    "jacobian_norm_by_products",
    "rademacher_like",
    "umap_cross_entropy",
    "cauchy_infonce",
]

# Keeps log(rho_hat) and log(1 - rho_hat) finite when a sigmoid unit saturates in float32.
_KL_EPS = 1e-6
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def l1_penalty(code):
    """Per-sample L1 norm of the code, ``‖h(x_n)‖₁``.

    Parameters
    ----------
    code : Tensor of shape (n_samples, n_components)

    Returns
    -------
    Tensor of shape (n_samples,)
    """
    return code.abs().sum(dim=1)


def kl_sparsity_penalty(code, target):
    """``Σ_k KL(ρ ‖ ρ̂_k)`` between Bernoulli distributions, ρ̂ the batch-mean activation.

    ``KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 - ρ) log((1 - ρ)/(1 - ρ̂))`` (Ng's sparse autoencoder notes).
    The code must lie in [0, 1] (sigmoid units); ρ̂ is clamped to ``[1e-6, 1 - 1e-6]`` so that a
    saturated unit gives a large, finite penalty rather than inf.

    Parameters
    ----------
    code : Tensor of shape (n_samples, n_components)
        Activations in [0, 1].
    target : float
        The target mean activation ρ, in (0, 1).

    Returns
    -------
    Tensor of shape ()
        A batch-level scalar: ρ̂ is a statistic of the whole batch, not of one sample.
    """
    rho_hat = code.mean(dim=0).clamp(_KL_EPS, 1.0 - _KL_EPS)
    rho = float(target)
    kl = rho * torch.log(rho / rho_hat) + (1.0 - rho) * torch.log((1.0 - rho) / (1.0 - rho_hat))
    return kl.sum()


def activation_derivative(name, z):
    """Elementwise derivative ``a'(z)`` of the activation ``name`` at pre-activation ``z``.

    Written in torch operations so that autograd can differentiate it once more (the contractive
    penalty's gradient needs ``a''``). Matches the functions in :data:`skae.nn.layers.ACTIVATIONS`
    (``elu`` with alpha=1, the exact erf ``gelu``).
    """
    if name == "identity":
        return torch.ones_like(z)
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "tanh":
        return 1.0 - torch.tanh(z).square()
    if name == "sigmoid":
        s = torch.sigmoid(z)
        return s * (1.0 - s)
    if name == "elu":
        return torch.where(z > 0, torch.ones_like(z), torch.exp(z.clamp(max=0.0)))
    if name == "gelu":
        cdf = 0.5 * (1.0 + torch.erf(z * _INV_SQRT_2))
        pdf = torch.exp(-0.5 * z.square()) * _INV_SQRT_2PI
        return cdf + z * pdf
    raise ValueError(f"Unknown activation {name!r}.")


def contractive_penalty(preactivations, weights, activations, multipliers=None):
    """Per-sample squared Frobenius norm of the encoder Jacobian, ``‖∂h/∂x(x_n)‖²_F``, exactly.

    The encoder is ``h = a_L(W_L a_{L-1}(… a_1(W_1 x + b_1) …) + b_L)`` with elementwise
    activations, so its Jacobian is ``J = D_L W_L D_{L-1} W_{L-1} … D_1 W_1`` with
    ``D_l = diag(a_l'(z_l))`` (times the dropout multipliers, when training with dropout).

    - One layer: the closed form of Rifai et al. (2011), ``Σ_k a'(z_k)² ‖w_k‖²``: O(K) per sample
      once the row norms ``‖w_k‖²`` are known.
    - Deeper: the K×h matrix ``D_L W_L`` of every sample is carried from the code back towards the
      input, one layer at a time, as a single (n·K)×h by h×h' matrix product per layer (K
      vector-Jacobian products at once, with no per-sample Python loop). At the first layer,
      ``‖M W_1‖²_F = Σ (M G) ⊙ M`` with the Gram matrix ``G = W_1 W_1ᵀ`` is used instead when it
      is cheaper, i.e. when the first hidden layer is smaller than the input.

    Parameters
    ----------
    preactivations : list of Tensor
        ``z_l`` of shape (n_samples, h_l) for l = 1…L, input side first.
    weights : list of Tensor
        ``W_l`` of shape (h_l, h_{l-1}), in the same order.
    activations : list of str
        The activation applied to each ``z_l``.
    multipliers : list of (Tensor or None), optional
        Per-layer factors applied after each activation (e.g. the dropout mask divided by the keep
        probability), in the same order; None means 1.

    Returns
    -------
    Tensor of shape (n_samples,)
    """
    n_layers = len(weights)
    if not (len(preactivations) == len(activations) == n_layers) or n_layers == 0:
        raise ValueError("preactivations, weights and activations must be non-empty and aligned.")
    if multipliers is None:
        multipliers = [None] * n_layers

    def diag(l):
        d = activation_derivative(activations[l], preactivations[l])
        return d if multipliers[l] is None else d * multipliers[l]

    d_last = diag(n_layers - 1)  # (n, K)
    w_last = weights[-1]  # (K, h_{L-1})
    if n_layers == 1:
        return d_last.square() @ w_last.square().sum(dim=1)

    n, k = d_last.shape
    # M_n = D_L W_L, one (K, h_{L-1}) matrix per sample; a linear code (D_L = I) skips a pass.
    m = w_last.unsqueeze(0)
    if activations[-1] != "identity" or multipliers[-1] is not None:
        m = d_last.unsqueeze(2) * m
    for l in range(n_layers - 2, -1, -1):
        m = m * diag(l).unsqueeze(1)  # right-multiply by D_l
        w = weights[l]  # (h_l, h_{l-1})
        h_out, h_in = w.shape
        if l == 0 and h_out < h_in:
            gram = w @ w.t()
            return ((m.reshape(n * k, h_out) @ gram).reshape(n, k, h_out) * m).sum(dim=(1, 2))
        m = (m.reshape(n * k, h_out) @ w).reshape(n, k, h_in)
    return m.square().sum(dim=(1, 2))


def rademacher_like(t, generator):
    """A tensor shaped like ``t`` of independent signs ±1, drawn from ``generator``."""
    return torch.empty_like(t).bernoulli_(0.5, generator=generator).mul_(2.0).sub_(1.0)


def jacobian_norm_by_products(code, x, vectors, scale=None):
    """Per-sample ``Σ_v ‖vᵀ (∂code/∂x) diag(scale)‖²``, one vector-Jacobian product per ``v``.

    Needs nothing of the encoder but the autograd graph from ``x`` to ``code``, so it serves any
    module with an ``encode`` method. Each product is taken with ``create_graph=True``: the result is
    differentiable in the encoder's parameters (a double backward), as a training penalty must be.

    - With the K code-space basis vectors it is exact: ``‖∂h/∂x · diag(scale)‖²_F``.
    - With random vectors ``v`` of ``E[v vᵀ] = I`` (e.g. :func:`rademacher_like`) each term is an
      unbiased estimate of that norm, since ``E‖vᵀ M‖² = tr(Mᵀ E[v vᵀ] M) = ‖M‖²_F`` (Hutchinson's
      trace estimator; Hoffman, Roberts and Yaida, 2019). With signs ±1 its variance,
      ``2(‖M Mᵀ‖²_F − Σ_k (M Mᵀ)_kk²)``, is the smallest of any distribution with independent
      entries; drawn in code space it subtracts the diagonal of the small K×K matrix ``M Mᵀ``
      rather than that of the d×d ``Mᵀ M``, whose weight is spread over many more entries, and so
      is usually the lower of the two when K ≪ d.

    Parameters
    ----------
    code : Tensor of shape (n_samples, n_components)
        The encoder's output, computed from ``x`` with autograd recording.
    x : Tensor of shape (n_samples, ...)
        The encoder's input; must require grad.
    vectors : iterable of Tensor of shape (n_samples, n_components)
        The code-space vectors, one per product.
    scale : Tensor broadcastable to ``x``'s shape, optional
        Per-feature factor applied to ``∂code/∂x`` on the input side: with ``x`` in the user's
        units and ``scale`` the standardisation scale, the norm is that of the Jacobian with respect
        to the standardised input. None means 1.

    Returns
    -------
    Tensor of shape (n_samples,)
        The sum over ``vectors`` (divide by their number for a mean).
    """
    total = None
    for v in vectors:
        (g,) = torch.autograd.grad(code, x, grad_outputs=v, create_graph=True, retain_graph=True)
        if scale is not None:
            g = g * scale
        term = g.square().flatten(1).sum(dim=1)
        total = term if total is None else total + term
    if total is None:
        raise ValueError("vectors must hold at least one vector.")
    return total


def umap_cross_entropy(head, tail, negatives, a, b, eps=1e-3):
    """UMAP's fuzzy cross-entropy of edges and negative samples in the code space, per edge.

    With the low-dimensional similarity ``q(d) = 1 / (1 + a d^(2b))`` (McInnes et al., 2018), an edge
    ``(i, j)`` of the neighbour graph costs ``-log q(‖z_i - z_j‖)`` (attraction) and each of its
    negative samples ``k`` costs ``-log(1 - q(‖z_i - z_k‖))`` (repulsion). Written with
    ``t = log a + b log(d² + eps)``: ``-log q = softplus(t)`` and ``-log(1 - q) = softplus(-t)``, both
    stable; ``eps`` (in squared code units) bounds the repulsion of coincident points.

    Parameters
    ----------
    head, tail : Tensor of shape (n_edges, n_components)
        Codes of the two ends of each edge.
    negatives : Tensor of shape (n_edges, n_negatives, n_components)
        Codes of each edge's negative samples (drawn by the caller).
    a, b : float
        The similarity curve (see ``skae._neighbor_graph.umap_curve``).
    eps : float, default=1e-3

    Returns
    -------
    Tensor of shape (n_edges,)
        Attraction plus the summed repulsion of each edge's negatives.
    """
    log_a = math.log(a)
    t_pos = log_a + b * torch.log((head - tail).square().sum(dim=1) + eps)
    t_neg = log_a + b * torch.log((head.unsqueeze(1) - negatives).square().sum(dim=2) + eps)
    return torch.nn.functional.softplus(t_pos) + torch.nn.functional.softplus(-t_neg).sum(dim=1)


def cauchy_infonce(code, n_heads):
    """t-SNE's kernel in a contrastive loss (InfoNCE) over one step's codes, per edge.

    ``code`` holds the step's heads (its first ``n_heads`` rows) followed by blocks of ``n_heads``
    rows, one neighbour (tail) of each head per block. With t-SNE's similarity
    ``q(d) = 1 / (1 + d²)``, the edge from head ``i`` to its tail ``j`` costs
    ``-log(q_ij / (q_ij + Σ_k q_ik))``, the sum over every code of the step but row ``i``'s own head
    and tails: the normalised loss of t-SNE with the partition function estimated on the step's
    codes (Damrich, Böhm, Hamprecht and Kobak, 2023). Unlike UMAP's cross-entropy, each edge's
    repulsion is relative: a head is pushed from the step's other codes only as far as it is
    pulled to its neighbour.

    Parameters
    ----------
    code : Tensor of shape ((n_tails + 1) * n_heads, n_components)
    n_heads : int

    Returns
    -------
    Tensor of shape (n_tails * n_heads,)
        One loss per edge, tail block after tail block.
    """
    m = n_heads
    heads = code[:m]
    n_tails = code.shape[0] // m - 1
    tails = code[m:].reshape(n_tails, m, -1)
    log_q_pos = -torch.log1p((heads.unsqueeze(0) - tails).square().sum(dim=2))  # (n_tails, m)
    # Squared distances of every head to every code of the step, without a square root (whose
    # gradient is undefined where two codes coincide).
    sq = code.square().sum(dim=1)
    d2 = (sq[:m, None] + sq[None, :] - 2.0 * heads @ code.T).clamp_min(0.0)
    own = torch.arange(code.shape[0], device=code.device) % m == torch.arange(m, device=code.device)[:, None]
    log_q_neg = (-torch.log1p(d2)).masked_fill(own, float("-inf"))
    log_z = torch.logsumexp(log_q_neg, dim=1)  # (m,); -inf when the step has one head, no negatives
    return (torch.logaddexp(log_q_pos, log_z) - log_q_pos).reshape(-1)
