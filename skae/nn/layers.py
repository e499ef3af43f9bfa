"""The building blocks every skae network shares: activations, dropout from an explicit generator,
the Glorot initialisation, ``Conditioning`` (the data's location and scale, as buffers), ``Dense``,
``MLP`` (its ``trace`` serves the contractive penalty) and ``TiedMLP``.

Parameters are allocated uninitialised (``torch.empty`` draws no random numbers) and filled by
``reset_parameters`` from a caller-supplied ``torch.Generator``, so building a module never touches
torch's global RNG.
"""

import contextlib
import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "Conditioning",
    "Dense",
    "TiedMLP",
    "dropout_mask",
    "glorot_uniform_",
    "isolated_rng",
    "logit",
    "run_layers",
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


def run_layers(net, x, layers, last=True, generator=None, trace=None):
    """The one layer loop of the fully connected networks (``MLP``, ``TiedMLP``, ``MLP.trace``).

    ``net.activation``, then in training ``net.dropout`` (masks from ``generator``, else
    ``net.generator``), after every affine map of ``layers`` but the last; the last map is applied
    only if ``last`` (else the input of the last layer is returned). With ``trace``, a pair of
    lists, every pre-activation is appended to the first and every layer's dropout multiplier (None
    without dropout, and for the last layer) to the second: what a Jacobian penalty needs.
    """
    # Plain iteration: slicing a ModuleList builds a new one per call, which costs as much as a
    # small layer's matmul at small batch sizes.
    act = ACTIVATIONS[net.activation]
    p = net.dropout if net.training else 0.0
    generator = net.generator if generator is None else generator
    n_hidden = len(layers) - 1
    for i, layer in enumerate(layers):
        if i == n_hidden and not last:
            return x
        z = layer(x)
        if trace is not None:
            trace[0].append(z)
        if i == n_hidden:
            if trace is not None:
                trace[1].append(None)
            return z
        x = act(z)
        mask = None
        if p:
            if generator is None and trace is None:
                # Outside a fit (no generator bound): torch's global RNG.
                x = F.dropout(x, p, training=True)
            else:
                mask = dropout_mask(x, p, generator)
                x = x * mask
        if trace is not None:
            trace[1].append(mask)


def _linear_t(x, weight, bias):
    """The affine map of a tied decoder layer: the encoder layer's weight, transposed."""
    return F.linear(x, weight.t(), bias)


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
        return run_layers(self, x, self.layers, last)

    def trace(self, x, generator=None):
        """The forward pass, keeping what a penalty on its Jacobian needs (no second pass).

        Returns ``(output, preactivations, multipliers)``: every layer's pre-activation and, per
        layer, the dropout multiplier applied to its activation (None without dropout, and for the
        last layer). The masks are drawn from ``generator`` (else the one the engine bound).
        """
        preactivations, multipliers = [], []
        z = run_layers(self, x, self.layers, generator=generator, trace=(preactivations, multipliers))
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
        layers = [
            partial(_linear_t, weight=layer.weight, bias=b)
            for layer, b in zip(reversed(self._encoder[0].layers), self.biases)
        ]
        return run_layers(self, z, layers, last)

    def forward(self, z):
        pre = self.preactivation(z)
        return pre if self.last_activation == "identity" else ACTIVATIONS[self.last_activation](pre)

    @property
    def output_bias(self):
        """The bias of the last layer."""
        return self.biases[-1]
