"""Torch modules behind the estimators: every network skae builds lives here.

The building blocks (activations, ``Dense``, ``MLP``, ``TiedMLP``, ``Conditioning``), the fully
connected ``AutoencoderModule`` (Autoencoder, Sparse, Denoising, Contractive), ``UserModule`` (a
network of the user's, through ``module=``), then ``VAEModule``, ``LadderModule`` and
``HashingModule``. The public convolutional network is in :mod:`skae.modules`.

The modules know nothing of scikit-learn: they take float tensors and return float tensors. Parameters are
allocated uninitialised (``torch.empty`` draws no random numbers) and filled by ``reset_parameters`` from a
caller-supplied ``torch.Generator``, so building a module never touches torch's global RNG.
"""

import contextlib
import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "Conditioning",
    "Dense",
    "MLP",
    "TiedMLP",
    "AutoencoderModule",
    "UserModule",
    "VAEModule",
    "LadderModule",
    "HashingModule",
    "dropout",
    "glorot_uniform_",
    "isolated_rng",
    "dropout_mask",
    "logit",
    "topk_mask",
]


def _identity(x):
    return x


ACTIVATIONS = {
    "identity": _identity,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "elu": F.elu,
    "gelu": F.gelu,
}

# Glorot & Bengio (2010) uniform bound, with the factor scikit-learn's MLP uses for sigmoid units.
_GLOROT_FACTOR = {"sigmoid": 2.0}


def dropout_mask(x, p, generator):
    """The inverted-dropout multiplier for ``x``: 0 with probability ``p``, else ``1 / (1 - p)``."""
    return torch.empty_like(x).bernoulli_(1.0 - p, generator=generator) / (1.0 - p)


def dropout(x, p, generator=None):
    """Inverted dropout whose mask is drawn from ``generator`` (torch's global RNG only if None)."""
    if generator is None:
        return F.dropout(x, p, training=True)
    return x * dropout_mask(x, p, generator)


def topk_mask(h, k):
    """Keep the ``k`` largest entries of each row of ``h`` and zero the rest (Makhzani & Frey, 2014)."""
    if k >= h.shape[1]:
        return h
    values, index = torch.topk(h, k, dim=1, sorted=False)
    return torch.zeros_like(h).scatter(1, index, values)


def logit(p, eps=1e-3):
    """``log(p / (1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]``: a finite output-bias start for sigmoid units."""
    p = p.clamp(eps, 1.0 - eps)
    return torch.log(p) - torch.log1p(-p)


def glorot_uniform_(weight, fan_in, fan_out, generator, activation="relu"):
    """Fill ``weight`` in place from Glorot & Bengio's uniform distribution, drawn from ``generator``."""
    bound = math.sqrt(_GLOROT_FACTOR.get(activation, 6.0) / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-bound, bound, generator=generator)


@contextlib.contextmanager
def isolated_rng(seed, device=None):
    """Run the block with torch's global RNG seeded by ``seed``, and restore its state afterwards.

    For code that can only draw from the global RNG (layers built by torch, ``nn.Dropout``): its
    draws then depend on ``seed`` alone, and the caller's global random state is left as it was.
    The CPU's generator is always isolated; a CUDA ``device``'s too.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    cuda = device.type == "cuda"
    index = (device.index if device.index is not None else torch.cuda.current_device()) if cuda else None
    with torch.random.fork_rng(devices=[index] if cuda else [], device_type="cuda"):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


class Conditioning(nn.Module):
    """Per-feature location and scale of the data, learned at the first fit, as buffers.

    The network computes in standardised units ``(x - loc) / scale`` so that the optimiser sees a
    well-conditioned problem whatever the user's units; :meth:`unstandardize` maps an output back.
    Being buffers, ``loc`` and ``scale`` are saved in the ``state_dict`` and follow ``.to(device)``.
    Until :meth:`set` is called they are the identity (0 and 1).
    """

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("loc", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))

    def set(self, loc, scale):
        with torch.no_grad():
            self.loc.copy_(torch.as_tensor(loc, dtype=self.loc.dtype))
            self.scale.copy_(torch.as_tensor(scale, dtype=self.scale.dtype))

    def standardize(self, x):
        return (x - self.loc) / self.scale

    def unstandardize(self, y):
        return torch.addcmul(self.loc, y, self.scale)


class Dense(nn.Module):
    """An affine layer ``x @ W.T + b`` whose initialisation draws from an explicit generator."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_out, n_in))
        self.bias = nn.Parameter(torch.empty(n_out))

    def reset_parameters(self, generator, activation="relu"):
        n_out, n_in = self.weight.shape
        glorot_uniform_(self.weight, n_in, n_out, generator, activation)
        with torch.no_grad():
            self.bias.zero_()

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class MLP(nn.Module):
    """A stack of :class:`Dense` layers: ``activation`` between them, ``last_activation`` after the last.

    Dropout, when asked for, acts on the hidden activations only (not on the input nor on the output).
    """

    def __init__(self, sizes, activation="relu", last_activation="identity", dropout=0.0):
        super().__init__()
        self.layers = nn.ModuleList(Dense(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation
        self.last_activation = last_activation
        self.dropout = float(dropout)
        # Bound by the training engine to the estimator's generator for the length of a fit.
        self.generator = None

    def reset_parameters(self, generator):
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            layer.reset_parameters(generator, self.last_activation if last else self.activation)

    def hidden(self, x):
        """All layers but the last, activated: the input of the last layer."""
        return self._run(x, last=False)

    def preactivation(self, x):
        """The last layer's output before ``last_activation``."""
        return self._run(x, last=True)

    def last_layer(self, h):
        """The last layer alone: ``preactivation(x) == last_layer(hidden(x))``."""
        return self.layers[-1](h)

    def _run(self, x, last):
        # Plain iteration: slicing a ModuleList builds a new one per call, which costs as much as a
        # small layer's matmul at small batch sizes.
        act = ACTIVATIONS[self.activation]
        drop = self.dropout if self.training else 0.0
        n_hidden = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == n_hidden:
                return layer(x) if last else x
            x = act(layer(x))
            if drop:
                x = dropout(x, drop, self.generator)

    def trace(self, x, generator=None):
        """The forward pass, keeping what a penalty on its Jacobian needs (no second pass).

        Returns ``(output, preactivations, multipliers)``: every layer's pre-activation and, per
        layer, the dropout multiplier applied to its activation (None without dropout, and for the
        last layer). The masks are drawn from ``generator`` (else the one the engine bound).
        """
        act = ACTIVATIONS[self.activation]
        drop = self.dropout if self.training else 0.0
        generator = self.generator if generator is None else generator
        n_hidden = len(self.layers) - 1
        preactivations, multipliers = [], []
        for i, layer in enumerate(self.layers):
            z = layer(x)
            preactivations.append(z)
            if i == n_hidden:
                multipliers.append(None)
                break
            x = act(z)
            mask = None
            if drop:
                mask = dropout_mask(x, drop, generator)
                x = x * mask
            multipliers.append(mask)
        return ACTIVATIONS[self.last_activation](z), preactivations, multipliers

    def forward(self, x):
        pre = self.preactivation(x)
        return pre if self.last_activation == "identity" else ACTIVATIONS[self.last_activation](pre)

    @property
    def output_bias(self):
        """The bias of the last layer."""
        return self.layers[-1].bias


class TiedMLP(nn.Module):
    """The mirror image of an :class:`MLP` that reuses its weights transposed, with biases of its own.

    The encoder is held in a plain list so that its parameters are registered once, by the encoder.
    """

    def __init__(self, encoder, activation="relu", last_activation="identity", dropout=0.0):
        super().__init__()
        self._encoder = [encoder]
        self.biases = nn.ParameterList(
            nn.Parameter(torch.empty(layer.weight.shape[1])) for layer in reversed(encoder.layers)
        )
        self.activation = activation
        self.last_activation = last_activation
        self.dropout = float(dropout)
        self.generator = None  # as in MLP

    def reset_parameters(self, generator):
        with torch.no_grad():
            for b in self.biases:
                b.zero_()

    def hidden(self, z):
        """All layers but the last, activated: the input of the last layer (as :meth:`MLP.hidden`)."""
        return self._run(z, last=False)

    def preactivation(self, z):
        """The last layer's output before ``last_activation``."""
        return self._run(z, last=True)

    def last_layer(self, h):
        """The last layer alone: ``preactivation(z) == last_layer(hidden(z))``."""
        return F.linear(h, self._encoder[0].layers[0].weight.t(), self.biases[-1])

    def _run(self, z, last):
        act = ACTIVATIONS[self.activation]
        weights = [layer.weight for layer in reversed(self._encoder[0].layers)]
        n = len(weights)
        for i, (w, b) in enumerate(zip(weights, self.biases)):
            if i == n - 1 and not last:
                return z
            z = F.linear(z, w.t(), b)
            if i < n - 1:
                z = act(z)
                if self.dropout and self.training:
                    z = dropout(z, self.dropout, self.generator)
        return z

    def forward(self, z):
        pre = self.preactivation(z)
        return pre if self.last_activation == "identity" else ACTIVATIONS[self.last_activation](pre)

    @property
    def output_bias(self):
        """The bias of the last layer."""
        return self.biases[-1]


class AutoencoderModule(nn.Module):
    """Encoder ``n_features → hidden… → n_components`` and its mirrored decoder, in standardised units.

    The encoder sees ``(x - loc) / scale`` (see :class:`Conditioning`); an identity output is mapped
    back to the data's units, ``loc + scale * out``, so that codes, reconstructions and Jacobians are
    those of the user's data. A sigmoid output is a probability and is not rescaled.

    Parameters
    ----------
    n_features, n_components : int
    hidden_layer_sizes : sequence of int
        Encoder hidden sizes; the decoder uses them in reverse.
    activation : str
        Hidden activation, a key of :data:`ACTIVATIONS`.
    code_activation : str
        Activation of the code layer (identity for a linear code).
    output_activation : str
        Activation of the reconstruction.
    tied_weights : bool
    dropout : float
    k : int or None
        When set, only the ``k`` largest code units of each sample are kept (k-sparse code).
    code_bias : float, default=0.0
        Initial bias of the code units (e.g. the logit of a target activation for sigmoid units).
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        code_activation="identity",
        output_activation="identity",
        tied_weights=False,
        dropout=0.0,
        k=None,
        code_bias=0.0,
    ):
        super().__init__()
        hidden = [int(h) for h in hidden_layer_sizes]
        self.conditioning = Conditioning(n_features)
        self.encoder = MLP([n_features, *hidden, n_components], activation, code_activation, dropout)
        if tied_weights:
            self.decoder = TiedMLP(self.encoder, activation, output_activation, dropout)
        else:
            self.decoder = MLP(
                [n_components, *hidden[::-1], n_features], activation, output_activation, dropout
            )
        self.output_activation = output_activation
        self.k = k
        self.code_bias = float(code_bias)

    def reset_parameters(self, generator):
        self.encoder.reset_parameters(generator)
        self.decoder.reset_parameters(generator)
        if self.code_bias:
            with torch.no_grad():
                self.encoder.output_bias.fill_(self.code_bias)

    def condition(self, loc, scale):
        """Learn the data's location and scale; start the reconstruction at the data's mean."""
        self.conditioning.set(loc, scale)
        if self.output_activation == "sigmoid":
            with torch.no_grad():
                self.decoder.output_bias.copy_(logit(self.conditioning.loc))

    def encode(self, x):
        h = self.encoder(self.conditioning.standardize(x))
        if self.k is not None:
            h = topk_mask(h, self.k)
        return h

    def decode_preactivation(self, z):
        pre = self.decoder.preactivation(z)
        return self.conditioning.unstandardize(pre) if self.output_activation == "identity" else pre

    def decode(self, z):
        pre = self.decode_preactivation(z)
        return pre if self.output_activation == "identity" else ACTIVATIONS[self.output_activation](pre)

    def forward(self, x):
        code = self.encode(x)
        return code, self.decode_preactivation(code)


def _accepts_argument(method):
    """Whether ``method`` takes at least one positional argument (besides ``self``)."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional or p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters)


def _check_output(out, width, method, what):
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != width:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"module.{method} must return a tensor of shape (n_samples, {what}={width}), got {shape}."
        )


class UserModule(nn.Module):
    """A network built by a user's factory, run by skae like :class:`AutoencoderModule`.

    ``build()`` returns an ``nn.Module`` with ``encode(x) -> code`` and ``decode(code) -> output``
    working in standardised units: it sees ``(x - loc) / scale`` (see :class:`Conditioning`), its
    code is the pre-activation of ``code_activation`` and its output that of ``output_activation``.
    An identity output is mapped back to the data's units, ``loc + scale * out``; a sigmoid output
    is offset by the logit of the data's mean. Either way the reconstruction starts near the data's
    mean when the network's output starts near zero, as the built-in networks' do.

    Randomness never comes from torch's global RNG state, nor changes it:

    - ``reset_parameters(generator)`` calls the network's own ``reset_parameters(generator)`` when
      it takes one; otherwise it builds a fresh network with the global RNG seeded from
      ``generator`` (and restored afterwards), and takes its weights, so that torch's layers, which
      initialise themselves from the global RNG, depend on ``generator`` alone.
    - In training, while the engine binds a ``generator``, the forward pass runs with the global RNG
      seeded from it and restored (:func:`isolated_rng`): ``nn.Dropout`` and friends in the
      network draw from the estimator's random stream.

    Output shapes are checked at every call, so that a network that returns images instead of rows
    fails with a clear message rather than broadcasting in the loss.
    """

    def __init__(
        self,
        build,
        n_features,
        n_components,
        code_activation="identity",
        output_activation="identity",
        k=None,
        code_bias=0.0,
    ):
        super().__init__()
        self._build = build
        with isolated_rng(0):  # construction draws from the global RNG: keep it untouched
            net = build()
        missing = [m for m in ("encode", "decode") if not callable(getattr(net, m, None))]
        if not isinstance(net, nn.Module) or missing:
            raise TypeError(
                "module must build a torch.nn.Module with encode(x) and decode(code) methods; it "
                f"built a {type(net).__qualname__}"
                + (f" without {' and '.join(missing)}." if isinstance(net, nn.Module) else ".")
            )
        self.net = net
        self.conditioning = Conditioning(n_features)
        self.register_buffer("output_offset", torch.zeros(n_features))
        self.n_features = n_features
        self.n_components = n_components
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.k = k
        self.code_bias = float(code_bias)
        self._generator = None
        self._seed = None
        self._calls = 0

    @property
    def generator(self):
        """The estimator's generator while the engine trains the network (None otherwise)."""
        return self._generator

    @generator.setter
    def generator(self, generator):
        self._generator = generator
        self._calls = 0
        self._seed = None
        if generator is not None:
            # One draw per fit, then one seed per training step: no host sync per batch.
            self._seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))

    def reset_parameters(self, generator):
        reset = getattr(self.net, "reset_parameters", None)
        if callable(reset) and _accepts_argument(reset):
            reset(generator)
            return
        seed = int(torch.randint(2**62, (1,), generator=generator))
        with isolated_rng(seed):
            fresh = self._build()
        self.net.load_state_dict(fresh.state_dict())

    def condition(self, loc, scale):
        """Learn the data's location and scale; start a sigmoid output at the data's mean."""
        self.conditioning.set(loc, scale)
        if self.output_activation == "sigmoid":
            with torch.no_grad():
                self.output_offset.copy_(logit(self.conditioning.loc))

    def encode(self, x):
        h = self.net.encode(self.conditioning.standardize(x))
        _check_output(h, self.n_components, "encode", "n_components")
        if self.code_bias:
            h = h + self.code_bias
        if self.code_activation != "identity":
            h = ACTIVATIONS[self.code_activation](h)
        if self.k is not None:
            h = topk_mask(h, self.k)
        return h

    def decode_preactivation(self, z):
        out = self.net.decode(z)
        _check_output(out, self.n_features, "decode", "n_features")
        if self.output_activation == "identity":
            return self.conditioning.unstandardize(out)
        return out + self.output_offset

    def decode(self, z):
        pre = self.decode_preactivation(z)
        return pre if self.output_activation == "identity" else ACTIVATIONS[self.output_activation](pre)

    def forward(self, x):
        if not (self.training and self._generator is not None):
            code = self.encode(x)
            return code, self.decode_preactivation(code)
        self._calls += 1
        with isolated_rng((self._seed + self._calls) % 2**63, x.device):
            code = self.encode(x)
            return code, self.decode_preactivation(code)


# ------------------------------------------------------------------ the VAE's network

_LOG_2PI = math.log(2.0 * math.pi)

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


class VAEModule(nn.Module):
    """Gaussian encoder ``q(z|x) = N(mu(x), A(x) A(x)ᵀ)`` and a decoder for ``p(x|z)``.

    The encoder is an :class:`~skae._modules.MLP` ``n_features → hidden… → n_components`` whose
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

    Like :class:`~skae._modules.AutoencoderModule` it computes in standardised units: the encoder
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
        sq = (x - out).square() * torch.exp(-logvar)
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


# ------------------------------------------------------------------ the ladder network

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

    def reset_parameters(self, generator):
        with torch.no_grad():
            for w in [*self.weights, *self.vertical]:
                fan_out, fan_in = w.shape
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                w.uniform_(-bound, bound, generator=generator)
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
                weight = self.conditioning.scale.square()
                sq = sq * (weight / weight.mean())
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


# ------------------------------------------------------------------ the hashing network

# Weight of the newest mini-batch in the running statistics of the code pre-activations.
_CODE_MOMENTUM = 0.1
_CODE_EPS = 1e-5


class HashingModule(AutoencoderModule):
    """An :class:`AutoencoderModule` whose ``encode`` returns bits: 1 where the code pre-activation is > 0.

    ``logits`` is the code pre-activation. With ``standardize=True`` it is standardized per unit: by the
    mini-batch's mean and variance in training (like batch normalization, without a learned scale or
    shift), by running averages of them otherwise. Each bit is then 1 for about half the data, and
    the scale of the pre-activations is fixed, so training noise of a given level cannot be drowned
    by growing the weights.
    """

    def __init__(self, n_features, n_components, *, standardize, **kwargs):
        super().__init__(n_features, n_components, code_activation="identity", **kwargs)
        self.standardize = standardize
        self.register_buffer("code_mean", torch.zeros(n_components))
        self.register_buffer("code_var", torch.ones(n_components))

    def reset_parameters(self, generator):
        super().reset_parameters(generator)
        self.code_mean.zero_()
        self.code_var.fill_(1.0)

    def logits(self, x):
        a = super().encode(x)
        if not self.standardize:
            return a
        if self.training and a.shape[0] > 1:
            mean, var = a.mean(0), a.var(0, unbiased=False)
            with torch.no_grad():
                self.code_mean.lerp_(mean.detach().to(self.code_mean.dtype), _CODE_MOMENTUM)
                self.code_var.lerp_(var.detach().to(self.code_var.dtype), _CODE_MOMENTUM)
        else:
            mean, var = self.code_mean, self.code_var
        return (a - mean) * torch.rsqrt(var + _CODE_EPS)

    def encode(self, x):
        return (self.logits(x) > 0).to(x.dtype)
