"""The fully connected autoencoder's network (Autoencoder, sparse, denoising, contractive) and
``UserModule``, which runs a network of the user's (``module=``) under the same contract."""

import inspect

import torch
from torch import nn

from .layers import ACTIVATIONS, MLP, Conditioning, TiedMLP, isolated_rng, logit, topk_mask

__all__ = ["AutoencoderModule", "UserModule"]


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

    def encode(self, x, k=None):
        """The code of x; with top-k units, ``k`` (default: the module's) of them kept per row."""
        h = self.encoder(self.conditioning.standardize(x))
        if self.k is not None:
            h = topk_mask(h, self.k if k is None else k)
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

    def encode(self, x, k=None):
        """The code of x; with top-k units, ``k`` (default: the module's) of them kept per row."""
        h = self.net.encode(self.conditioning.standardize(x))
        _check_output(h, self.n_components, "encode", "n_components")
        if self.code_bias:
            h = h + self.code_bias
        if self.code_activation != "identity":
            h = ACTIVATIONS[self.code_activation](h)
        if self.k is not None:
            h = topk_mask(h, self.k if k is None else k)
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
