"""Torch modules behind the estimators.

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
