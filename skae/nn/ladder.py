"""The ladder network of Rasmus et al. (2015): a noisy and a clean batch-normalised encoder pass, and
a decoder that denoises every layer from its lateral connection and the layer above."""


import torch
import torch.nn.functional as F
from torch import nn

from .._losses import _FLOAT32_SQUARES
from .layers import ACTIVATIONS, Conditioning, glorot_uniform_

__all__ = ["LadderModule"]

# Added to batch variances before the square root: batch normalisation of a batch of one row (or of a
# unit that is constant over the batch) gives zeros rather than NaN.
_BN_EPS = 1e-5
# Weight of the newest batch in the running statistics used at inference.
_BN_MOMENTUM = 0.1


class _Combinator(nn.Module):
    """The "vanilla" denoising function ``g(z̃, u)`` of Rasmus et al. (2015), per unit:

    ``ẑ = (z̃ - μ(u)) ⊙ v(u) + μ(u)`` with ``μ(u) = a1 σ(a2 u + a3) + a4 u + a5`` and
    ``v(u) = a6 σ(a7 u + a8) + a9 u + a10``. It starts at ``ẑ = 0`` (a2 = a7 = 1, the rest 0), and
    learns how much of the noisy lateral value ``z̃`` to keep (``v``) given the top-down signal ``u``.
    """

    def __init__(self, width):
        super().__init__()
        self.a = nn.Parameter(torch.empty(10, width))

    def reset_parameters(self):
        with torch.no_grad():
            self.a.zero_()
            self.a[1].fill_(1.0)
            self.a[6].fill_(1.0)

    def forward(self, z_noisy, u):
        # Fused multiply-adds: about half the elementwise ops of the formula written out.
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 = self.a.unbind(0)
        mu = torch.addcmul(torch.addcmul(a4, a3, u), a0, torch.sigmoid(torch.addcmul(a2, a1, u)))
        v = torch.addcmul(torch.addcmul(a9, a8, u), a5, torch.sigmoid(torch.addcmul(a7, a6, u)))
        return torch.addcmul(mu, z_noisy - mu, v)


class LadderModule(nn.Module):
    """Encoder ``n_features → hidden… → n_components`` with batch normalisation, and a decoder that
    denoises every layer from the layer above and the noisy lateral value.

    Layer ``l`` of the encoder is ``z_l = BN(W_l h_{l-1})``, ``h_l = a(γ_l ⊙ (z_l + β_l))`` (γ on the
    code layer only); the input layer is ``h_0 = z_0 = (x - loc) / scale``. The noisy pass adds
    Gaussian noise of standard deviation ``noise_level`` to every ``z_l``. The decoder computes, from
    the top down, ``u_L = BN(h̃_L)``, ``u_l = BN(V_{l+1} ẑ_{l+1})`` and ``ẑ_l = g_l(z̃_l, u_l)``.
    Batch statistics are used in training (their running averages at inference), so that the
    normalised ``z_l`` cannot shrink to make the denoising cost vanish.
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes=(), activation="relu",
                 code_activation="identity"):
        super().__init__()
        sizes = [int(n_features), *[int(h) for h in hidden_layer_sizes], int(n_components)]
        self.sizes = sizes
        self.activation = activation
        self.code_activation = code_activation
        self.conditioning = Conditioning(n_features)
        n = len(sizes) - 1
        # Encoder weights W_1..W_L (no biases: batch normalisation removes them; β shifts instead).
        self.weights = nn.ParameterList(nn.Parameter(torch.empty(b, a)) for a, b in zip(sizes[:-1], sizes[1:]))
        self.betas = nn.ParameterList(nn.Parameter(torch.empty(b)) for b in sizes[1:])
        self.code_gamma = nn.Parameter(torch.empty(sizes[-1]))
        # Decoder: V_l maps layer l down to layer l-1; one combinator per layer, input included.
        self.vertical = nn.ParameterList(nn.Parameter(torch.empty(a, b)) for a, b in zip(sizes[:-1], sizes[1:]))
        self.combinators = nn.ModuleList(_Combinator(m) for m in sizes)
        for i, m in enumerate(sizes[1:], start=1):
            self.register_buffer(f"running_mean_{i}", torch.zeros(m))
            self.register_buffer(f"running_var_{i}", torch.ones(m))
        # The decoder normalises its top-down signal u_l too (running averages at inference).
        for i, m in enumerate(sizes):
            self.register_buffer(f"running_mean_u{i}", torch.zeros(m))
            self.register_buffer(f"running_var_u{i}", torch.ones(m))
        self.n_layers = n
        # When set, batch statistics come from the first ``stats_rows`` rows only (the rest of the
        # batch is normalised with them): the semi-supervised classifier appends labeled rows that
        # must not shift the statistics of the data's distribution.
        self.stats_rows = None

    def decayed_parameters(self):
        """The weight matrices (the encoder's ``W_l``, the decoder's ``V_l``): what ``alpha`` decays."""
        return [*self.weights, *self.vertical]

    def reset_parameters(self, generator):
        with torch.no_grad():
            for w in [*self.weights, *self.vertical]:
                fan_out, fan_in = w.shape
                glorot_uniform_(w, fan_in, fan_out, generator)
            for b in self.betas:
                b.zero_()
            self.code_gamma.fill_(1.0)
            for c in self.combinators:
                c.reset_parameters()
            for name, buf in self.named_buffers():
                if name.startswith("running_"):
                    buf.fill_(0.0 if name.startswith("running_mean") else 1.0)

    def condition(self, loc, scale):
        self.conditioning.set(loc, scale)

    def _activate(self, i, z):
        if i == self.n_layers:
            return ACTIVATIONS[self.code_activation](self.code_gamma * (z + self.betas[i - 1]))
        return ACTIVATIONS[self.activation](z + self.betas[i - 1])

    def _passes(self, x, noise_level=0.0, generator=None, batch_stats=False, update_running=False,
                input_noise_level=None):
        """The encoder's passes, stacked along a first axis: ``(zs, moments, top)``.

        With noise, two passes: the noisy one (index 0) and the clean one (index 1), computed together
        so that each layer is one matrix product of twice the rows and every elementwise operation
        runs once over both (on CPU, the ladder's step is bound by its many small elementwise
        operations as much as by its products). Without noise, the clean pass alone. Each pass is
        normalised with its own batch statistics; the clean pass's (the last) update the running
        averages when asked. ``zs[l]`` has shape ``(passes, n, m_l)``, ``moments[l]`` is
        ``(mean, 1/sqrt(var + eps))`` of every pass (None for the input), ``top`` the activated code.
        """
        z = self.conditioning.standardize(x)
        input_noise = noise_level if input_noise_level is None else input_noise_level
        # A tensor: a standard deviation per feature (in standardised units).
        per_feature = torch.is_tensor(input_noise)
        if noise_level or per_feature or input_noise:
            # One operation builds both passes' inputs: noise in the first half of a zero buffer.
            if per_feature:
                z = torch.addcmul(z, self._noise_buffer(z, generator), input_noise)
            elif input_noise:
                z = torch.add(z, self._noise_buffer(z, generator), alpha=input_noise)
            else:
                z = z.repeat(2, 1, 1)
        else:
            z = z.unsqueeze(0)
        zs, moments = [z], [None]
        h = z
        for i, w in enumerate(self.weights, start=1):
            z, mean, inv_std = self._batch_norm(F.linear(h, w), str(i), batch_stats, update_running)
            if noise_level and z.shape[0] == 2:
                z = torch.add(z, self._noise_buffer(z[0], generator), alpha=noise_level)
            zs.append(z)
            moments.append((mean, inv_std))
            h = self._activate(i, z)
        return zs, moments, h

    @staticmethod
    def _noise_buffer(like, generator):
        """``(2, *like.shape)``: standard normal draws in the first half (the same draws as
        ``torch.randn(like.shape)``), zeros in the second."""
        buf = like.new_empty((2, *like.shape))
        buf[0].normal_(generator=generator)
        buf[1].zero_()
        return buf

    def _batch_norm(self, z, name, batch_stats, update_running):
        """Normalise ``z`` (rows on the second-to-last axis, every leading index its own batch) with
        its batch moments, or with the running averages ``running_*_{name}``; the last batch's
        moments update the running averages if asked. Returns ``(normalised, mean, 1/sqrt(var + eps))``.
        """
        if not batch_stats:
            # Shaped as batch moments would be, so that callers index the passes the same way.
            shape = (1,) * (z.dim() - 1) + (-1,)
            mean = getattr(self, f"running_mean_{name}").view(shape)
            inv_std = torch.rsqrt(getattr(self, f"running_var_{name}") + _BN_EPS).view(shape)
            return (z - mean) * inv_std, mean, inv_std
        rows = self.stats_rows
        stats = z if rows is None else z[..., :rows, :]
        # Written out rather than torch.var_mean, whose backward costs twice as much on CPU; biased,
        # as batch normalisation uses.
        mean = stats.mean(dim=-2, keepdim=True)
        centred = stats - mean
        var = (centred * centred).mean(dim=-2, keepdim=True)
        if update_running:
            with torch.no_grad():
                m = z.shape[-1]
                getattr(self, f"running_mean_{name}").lerp_(mean.detach().reshape(-1, m)[-1].float(), _BN_MOMENTUM)
                getattr(self, f"running_var_{name}").lerp_(var.detach().reshape(-1, m)[-1].float(), _BN_MOMENTUM)
        inv_std = torch.rsqrt(var + _BN_EPS)
        # Without a separate statistics block the centred values are already at hand.
        return (centred if rows is None else z - mean) * inv_std, mean, inv_std

    def _decode(self, laterals, top):
        """The decoder's estimates ``ẑ_l`` (input first) from the noisy laterals and the top code."""
        estimates = [None] * (self.n_layers + 1)
        u = top
        for l in range(self.n_layers, -1, -1):
            if l < self.n_layers:
                u = F.linear(estimates[l + 1], self.vertical[l])
            u = self._batch_norm(u, f"u{l}", self.training, self.training)[0]
            lateral = laterals[l] if laterals is not None else torch.zeros_like(u)
            estimates[l] = self.combinators[l](lateral, u)
        return estimates

    def denoising_costs(self, x, noise_level, generator, input_noise_level=None):
        """Per-sample squared errors ``‖z_l - ẑ_l‖² / m_l`` for every layer (a list, input first).

        In training: a noisy pass (batch statistics), a clean pass (batch statistics, which also
        update the running averages) and the decoder; each ``ẑ_l`` is normalised with the clean pass's
        batch statistics before it is compared with the clean ``z_l``. In eval mode both passes use
        the running statistics (one pass when there is no noise). Also returns the noisy code, which
        the semi-supervised classifier feeds to its head.
        """
        train = self.training
        zs, moments, top = self._passes(x, noise_level, generator, batch_stats=train, update_running=train,
                                        input_noise_level=input_noise_level)
        estimates = self._decode([z[0] for z in zs], top[0])
        costs = []
        for l, (z, z_hat) in enumerate(zip(zs, estimates)):
            clean = z[-1]
            if l == 0:
                sq = (z_hat - clean).float().square()
                # The input's error in the user's units, relative to the mean variance (as every skae
                # reconstruction loss): a feature counts by its variance, so rare, nearly constant
                # features (an image's border pixels) do not dominate the cost as they would in
                # standardised units.
                scale = self.conditioning.scale
                weight = scale.square()
                mean_square = weight.mean()
                # Scales whose squares leave float32's range (data in units of 1e-19 or 1e19): the same
                # ratios from the scales relative to the largest (chosen without a host sync on a GPU).
                relative = (scale / scale.max()).square()
                ordinary = (mean_square > _FLOAT32_SQUARES[0]) & (mean_square < _FLOAT32_SQUARES[1])
                sq = sq * torch.where(ordinary, weight / mean_square, relative / relative.mean())
            else:
                mean, inv_std = moments[l]
                sq = ((z_hat - mean[-1]) * inv_std[-1] - clean).float().square()
            costs.append(sq.mean(dim=1))
        return costs, top[0]

    def encode(self, x):
        return self._passes(x, batch_stats=self.training)[2][0]

    def decode(self, z):
        """The input layer's estimate from the code alone (every lateral at its mean, 0)."""
        estimates = self._decode(None, z)
        return self.conditioning.unstandardize(estimates[0])

    def decode_preactivation(self, z):
        return self.decode(z)

    def forward(self, x):
        code = self.encode(x)
        return code, self.decode(code)
