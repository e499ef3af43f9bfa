"""The VAE's network and the pieces of its objective: the Gaussian posterior (diagonal or full), the
reparameterised draws, the closed-form KL, the Gaussian or Bernoulli likelihood and the
importance-weighted bound. The objective itself, ``VAE._loss``, assembles them."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import MLP, Conditioning, Dense, TiedMLP, logit

__all__ = [
    "VAEModule",
    "importance_weighted_bound",
    "kl_standard_normal",
    "kl_standard_normal_per_unit",
    "reparameterize",
    "soft_clamp",
    "strictly_lower",
]

_LOG_2PI = math.log(2.0 * math.pi)
_LN2 = math.log(2.0)
# log of float32-safe mean squares (skae._losses._FLOAT32_SQUARES): the likelihood's log-variance offset
# outside them (data in units of 1e-19 or 1e19) is computed in units of the deviation.
_LOG_FLOAT32_SQUARES = (math.log(1e-30), math.log(1e30))

# Soft bounds on log-variances. The posterior's are absolute (the prior N(0, I) fixes the latent
# scale); the likelihood's are relative to each feature's variance (its conditioning scale²), so
# that rescaling a feature rescales them.
_POSTERIOR_LOGVAR_BOUNDS = (-16.0, 6.0)
_LIKELIHOOD_LOGVAR_BOUNDS = (-10.0, 5.0)
# The full posterior's Cholesky factor A has the diagonal exp(logvar / 2), bounded as above: det A
# >= exp(-8 K), so Σ = A Aᵀ is never singular whatever the entries below the diagonal. Those are left
# free, like mu: the KL term's ‖tril‖² keeps them small, and a bound would cost as much as the rest
# of the full posterior's arithmetic on small networks.

def soft_clamp(x, low, high):
    """Smoothly bound ``x`` to ``(low, high)``: close to the identity well inside, flat outside.

    ``low + softplus(x - low) - softplus(x - high)``: the gradient never vanishes abruptly, and
    ``exp`` of the result can neither overflow nor underflow to zero.
    """
    return low + F.softplus(x - low) - F.softplus(x - high)


def strictly_lower(entries, k):
    """The ``(..., k, k)`` strictly lower-triangular matrices whose entries, row by row, are the
    last axis of ``entries`` (of length ``k (k - 1) / 2``)."""
    rows, cols = torch.tril_indices(k, k, offset=-1, device=entries.device)
    # A scatter into the flattened matrices: about twice as fast as indexed assignment, backward
    # included, for K = 50.
    flat = entries.reshape(math.prod(entries.shape[:-1]), entries.shape[-1])
    out = flat.new_zeros((flat.shape[0], k * k))
    out = out.scatter(1, (rows * k + cols).expand(flat.shape[0], -1), flat)
    return out.reshape(*entries.shape[:-1], k, k)


def reparameterize(mu, logvar, tril, eps):
    """``z = mu + A eps`` and ``log q(z|x) = log N(z; mu, A Aᵀ)``, ``A = diag(exp(logvar / 2)) + tril``.

    ``tril`` (the strictly lower part of ``A``, shape ``(n, K, K)``) is None for a diagonal
    posterior. ``eps`` broadcasts against ``mu`` (e.g. ``(s, 1, K)`` draws for ``(n, K)`` rows give
    ``(s, n, K)`` codes). Since ``A`` is triangular, ``log det A = Σ logvar / 2`` and ``A⁻¹ (z - mu)
    = eps``: the density needs no solve.
    """
    z = mu + torch.exp(0.5 * logvar) * eps
    if tril is not None:
        # einsum, not a broadcast matmul: for draws shared by all rows that would copy ``tril`` once
        # per draw (a hundred times slower for K = 50).
        z = z + torch.einsum("...ij,...j->...i", tril, eps)
    log_q = -0.5 * (eps.square().sum(-1) + logvar.sum(-1) + mu.shape[-1] * _LOG_2PI)
    return z, log_q


def kl_standard_normal(mu, logvar, tril=None):
    """``KL(N(mu, A Aᵀ) || N(0, I))`` per row, in closed form, ``A = diag(exp(logvar / 2)) + tril``.

    ``½ (tr Σ + μᵀμ − K − log det Σ)`` with ``tr Σ = ‖A‖²_F = Σ exp(logvar) + ‖tril‖²_F`` and
    ``log det Σ = Σ logvar``; ``tril=None`` is the diagonal posterior.
    """
    kl = kl_standard_normal_per_unit(mu, logvar).sum(-1)
    if tril is not None:
        kl = kl + 0.5 * tril.float().square().sum((-2, -1))
    return kl


def kl_standard_normal_per_unit(mu, logvar, tril=None):
    """:func:`kl_standard_normal` split over the latent units: shape ``(..., K)``, summing to it.

    Unit ``k``'s share is ``½ (μ_k² + Σ_kk − logvar_k − 1)``, ``Σ_kk = exp(logvar_k) + Σ_j tril_kj²``:
    for the diagonal posterior, the KL of each unit's own Gaussian from N(0, 1).
    """
    mu, logvar = mu.float(), logvar.float()
    variance = torch.exp(logvar)
    if tril is not None:
        variance = variance + tril.float().square().sum(-1)
    return 0.5 * (mu.square() + variance - logvar - 1.0)


def log_weights(module, x, z, log_q):
    """``log p(x|z) + log p(z) - log q(z|x)`` of draws ``z`` (shape ``(draws, n, K)``) for the rows ``x``.

    ``log_q`` (shape ``(draws, n)``) is the draws' log-density under the posterior; the result has the
    same shape. Decodes every draw at once: callers that bound memory pass chunks of draws.
    """
    draws, n = z.shape[0], z.shape[1]
    out, out_logvar = module.decode_distribution(z.reshape(draws * n, -1))
    out = out.reshape(draws, n, -1)
    if out_logvar is not None and out_logvar.dim() > 1:  # one per row and draw
        out_logvar = out_logvar.reshape(draws, n, -1)
    log_px = module.log_likelihood(x.unsqueeze(0).expand_as(out), out, out_logvar)
    log_pz = -0.5 * (z.square().sum(-1) + z.shape[-1] * _LOG_2PI)
    return log_px + log_pz - log_q


def importance_weighted_bound(log_w):
    """``log (1/k) Σ_k exp(log_w_k)`` over the first axis of ``log_w`` (shape ``(k, n)``), per row.

    With ``log_w_k = log p(x, z_k) - log q(z_k|x)``, ``z_k ~ q(z|x)``, this is the bound of Burda et
    al. (2016): for ``k = 1`` it is the one-draw ELBO estimate, and its expectation increases with
    ``k`` towards ``log p(x)``. Computed in float32 or above with a log-sum-exp, so that weights far
    below ``exp(-88)`` do not underflow.
    """
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])


class VAEModule(nn.Module):
    """Gaussian encoder ``q(z|x) = N(mu(x), A(x) A(x)ᵀ)`` and a decoder for ``p(x|z)``.

    The encoder is an :class:`~skae.nn.layers.MLP` ``n_features → hidden… → n_components`` whose
    output is ``mu``; heads on the last hidden layer (on ``x`` itself without hidden layers) give
    the Cholesky factor ``A``: its diagonal as log-variances ``logvar`` (``A_kk = exp(logvar_k /
    2)``), and, for ``posterior="full"``, its ``K (K - 1) / 2`` entries below the diagonal
    (``A`` is diagonal otherwise). The decoder mirrors the encoder and outputs the likelihood's
    natural parameter: Bernoulli logits, or Gaussian means with a learned log-variance, one per
    feature (``likelihood_variance="feature"``) or a function of the code from a head on the
    decoder's last hidden layer (``"code"``).

    Parameters
    ----------
    n_features, n_components : int
    hidden_layer_sizes : sequence of int
    activation : str
    likelihood : {"gaussian", "bernoulli"}
    tied_weights : bool
        Decoder weights are the ``mu`` path's, transposed.
    dropout : float
    posterior : {"diagonal", "full"}
    likelihood_variance : {"feature", "code"}
        Used by the Gaussian likelihood only.

    Like :class:`~skae.nn.autoencoder.AutoencoderModule` it computes in standardised units: the encoder
    sees ``(x - loc) / scale`` and Gaussian means are mapped back to ``loc + scale * out``, with the
    likelihood's log-variances bounded relative to ``log scale²`` per feature (see :meth:`condition`).
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        likelihood="gaussian",
        tied_weights=False,
        dropout=0.0,
        posterior="diagonal",
        likelihood_variance="feature",
    ):
        super().__init__()
        hidden = [int(h) for h in hidden_layer_sizes]
        self.conditioning = Conditioning(n_features)
        self.encoder = MLP([n_features, *hidden, n_components], activation, "identity", dropout)
        n_last = hidden[-1] if hidden else n_features
        self.logvar_head = Dense(n_last, n_components)
        self.covariance = posterior
        if posterior == "full":
            self.tril_head = Dense(n_last, n_components * (n_components - 1) // 2)
        if tied_weights:
            self.decoder = TiedMLP(self.encoder, activation, "identity", dropout)
        else:
            self.decoder = MLP(
                [n_components, *hidden[::-1], n_features], activation, "identity", dropout
            )
        self.likelihood = likelihood
        self.likelihood_variance = likelihood_variance if likelihood == "gaussian" else None
        if self.likelihood_variance == "code":
            self.variance_head = Dense(hidden[0] if hidden else n_components, n_features)
        elif likelihood == "gaussian":
            self.raw_logvar = nn.Parameter(torch.empty(n_features))

    def reset_parameters(self, generator):
        self.encoder.reset_parameters(generator)
        self.decoder.reset_parameters(generator)
        # Small initial posterior log-variances: start close to a plain autoencoder with sigma ~ 1.
        self.logvar_head.reset_parameters(generator, "sigmoid")
        with torch.no_grad():
            self.logvar_head.weight.mul_(0.1)
            if self.likelihood_variance == "feature":
                # The data's own per-feature variance (before any feature is explained by z).
                self.raw_logvar.zero_()
            elif self.likelihood_variance == "code":
                # The same start, whatever the code: it learns where the noise is larger.
                self.variance_head.weight.zero_()
                self.variance_head.bias.zero_()
        if self.covariance == "full":
            # Small correlations to start with: close to the diagonal posterior.
            self.tril_head.reset_parameters(generator, "sigmoid")
            with torch.no_grad():
                self.tril_head.weight.mul_(0.1)

    def condition(self, loc, scale):
        """Learn the data's location and scale; start the decoder at the data's mean.

        Gaussian means start at ``loc`` (a zero output in standardised units), Bernoulli logits at
        the logit of the mean; the Gaussian likelihood's variance starts at ``scale²``.
        """
        self.conditioning.set(loc, scale)
        if self.likelihood == "bernoulli":
            with torch.no_grad():
                self.decoder.output_bias.copy_(logit(self.conditioning.loc))

    # -- posterior

    def posterior(self, x):
        """``(mu, logvar, tril)`` of ``q(z|x) = N(mu, A Aᵀ)``, ``A = diag(exp(logvar / 2)) + tril``.

        ``tril``, the strictly lower-triangular part of ``A`` (shape ``(n, K, K)``), is None for the
        diagonal posterior.
        """
        h = self.encoder.hidden(self.conditioning.standardize(x))
        mu = self.encoder.last_layer(h)
        logvar = soft_clamp(self.logvar_head(h), *_POSTERIOR_LOGVAR_BOUNDS)
        tril = None
        if self.covariance == "full":
            tril = strictly_lower(self.tril_head(h), mu.shape[-1])
        return mu, logvar, tril

    def encode(self, x):
        return self.encoder(self.conditioning.standardize(x))

    # -- likelihood

    @property
    def logvar_offset(self):
        """Centre of each feature's likelihood log-variance bounds: ``log scale²``."""
        return 2.0 * torch.log(self.conditioning.scale)

    def likelihood_logvar(self, raw=None):
        """Log-variance of the Gaussian likelihood, softly bounded relative to each feature's scale.

        ``raw`` is the unbounded value, per row for the code-dependent variance; None reads the
        learned per-feature one.
        """
        low, high = _LIKELIHOOD_LOGVAR_BOUNDS
        raw = self.raw_logvar if raw is None else raw
        return self.logvar_offset + soft_clamp(raw, low, high)

    def decode_preactivation(self, z):
        """Bernoulli logits or Gaussian means."""
        out = self.decoder.preactivation(z)
        return out if self.likelihood == "bernoulli" else self.conditioning.unstandardize(out)

    def decode_distribution(self, z):
        """``(out, logvar)`` of ``p(x|z)``: the decoder output (:meth:`decode_preactivation`) and
        the Gaussian's log-variance, of shape ``(n_features,)`` or, when it depends on the code, that
        of ``out`` (None for the Bernoulli likelihood)."""
        if self.likelihood_variance != "code":
            out = self.decode_preactivation(z)
            return out, (self.likelihood_logvar() if self.likelihood == "gaussian" else None)
        h = self.decoder.hidden(z)
        out = self.conditioning.unstandardize(self.decoder.last_layer(h))
        return out, self.likelihood_logvar(self.variance_head(h))

    def decode(self, z):
        """The decoder mean ``E[x|z]``."""
        out = self.decode_preactivation(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def log_likelihood(self, x, out, logvar):
        """``log p(x|z)`` per row, summed over features, from :meth:`decode_distribution`'s output."""
        out = out.float()
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1)
        logvar = logvar.float()
        # Features in units whose squares leave float32's range (1e-19: the squares underflow and
        # exp(-logvar) overflows; 1e19): the error and the variance are taken in units of a power of
        # two near the feature's scale, exactly 1 elsewhere (so that ordinary features are bit for bit
        # as before, and no branch is chosen on the host).
        offset = self.logvar_offset  # 2 log scale, per feature
        ordinary = (offset > _LOG_FLOAT32_SQUARES[0]) & (offset < _LOG_FLOAT32_SQUARES[1])
        exponent = torch.where(ordinary, torch.zeros_like(offset), -torch.round(offset / (2.0 * _LN2)))
        sq = ((x - out) * torch.ldexp(torch.ones_like(offset), exponent)).square()
        sq = sq * torch.exp(-(logvar + 2.0 * _LN2 * exponent))
        return -0.5 * (sq + logvar + _LOG_2PI).sum(-1)

    def sample_likelihood(self, out, logvar, generator):
        """Draws ``x ~ p(x|z)`` given :meth:`decode_distribution`'s output."""
        if self.likelihood == "bernoulli":
            return torch.bernoulli(torch.sigmoid(out), generator=generator)
        std = torch.exp(0.5 * logvar).to(out.device, out.dtype)
        noise = torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        return out + std * noise

    def forward(self, x):
        code = self.encode(x)
        return code, self.decode_preactivation(code)
