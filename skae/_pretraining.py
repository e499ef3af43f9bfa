"""Greedy layer-wise pretraining of the fully connected autoencoder (Hinton & Salakhutdinov, 2006;
Bengio et al., 2007).

The deep network ``n_features → h1 → … → n_components → … → h1 → n_features`` is seen as a stack of
neighbour-layer pairs: encoder layer ``i`` (``sizes[i] → sizes[i+1]``) and its mirror in the decoder
(``sizes[i+1] → sizes[i]``). Each pair is trained in turn, bottom up, as a shallow autoencoder of the
representation below it, the layers beneath it frozen; the whole network is then fine-tuned by
back-propagation (the training engine's job, not this module's).

- The first pair reconstructs the data itself, with the estimator's own loss (``loss_fn``): the
  encoder sees the standardised input and an identity output is mapped back to the data's units,
  exactly as in the full network.
- Each higher pair reconstructs the activations of the layer below it with the squared error, through
  the activation the full decoder applies at that depth (``activation``); the code pair encodes
  through ``code_activation`` (and the k-sparse mask when the network has one).
- With tied weights the pair's decoder is its encoder's weight transposed (the network's own tying).

Randomness is the shuffling only, drawn from the caller's ``torch.Generator``; no global state is
touched. Dropout is not applied while pretraining.
"""

import contextlib
import math

import torch
import torch.nn.functional as F

from .nn.autoencoder import AutoencoderModule
from .nn.layers import ACTIVATIONS, MLP, TiedMLP, topk_mask

__all__ = ["layer_pairs", "pretrain_autoencoder"]

# Cached activations of a layer are computed this many rows at a time (memory stays bounded).
_CHUNK = 4096


def _identity(x):
    return x


class _Pair:
    """Encoder layer ``i`` of an :class:`AutoencoderModule` and its mirror in the decoder."""

    def __init__(self, module, i):
        self.module = module
        self.i = i
        encoder = module.encoder
        decoder = module.decoder
        n = len(encoder.layers)
        self.first = i == 0
        self.last = i == n - 1
        self.encoder_layer = encoder.layers[i]
        j = n - 1 - i  # the decoder layer that maps sizes[i+1] back to sizes[i]
        if isinstance(decoder, TiedMLP):
            self._decoder_weight = None
            self._decoder_bias = decoder.biases[j]
            params = [self.encoder_layer.weight, self.encoder_layer.bias, decoder.biases[j]]
        else:
            layer = decoder.layers[j]
            self._decoder_weight = layer.weight
            self._decoder_bias = layer.bias
            params = [*self.encoder_layer.parameters(), *layer.parameters()]
        self.parameters = params
        self.code_activation = ACTIVATIONS[encoder.last_activation if self.last else encoder.activation]
        # The full decoder activates every layer but its last (the reconstruction's preactivation).
        self.decoder_activation = None if self.first else ACTIVATIONS[decoder.activation]
        # The first pair's output is the reconstruction's preactivation, in the data's units as the
        # network's own: an identity output is mapped back from standardised units.
        identity = module.output_activation == "identity"
        self.to_output = module.conditioning.unstandardize if identity else _identity

    def encode(self, h):
        code = self.code_activation(self.encoder_layer(h))
        if self.last and self.module.k is not None:
            code = topk_mask(code, self.module.k)
        return code

    def decode(self, code):
        weight = self.encoder_layer.weight.t() if self._decoder_weight is None else self._decoder_weight
        pre = F.linear(code, weight, self._decoder_bias)
        if self.first:
            # The reconstruction's preactivation, in the data's units as the network's own.
            return self.to_output(pre)
        return self.decoder_activation(pre)


def layer_pairs(module):
    """The neighbour-layer pairs of ``module``, bottom up (see the module docstring)."""
    if not isinstance(module, AutoencoderModule) or not isinstance(module.encoder, MLP):
        raise TypeError(
            f"layer-wise pretraining needs skae's fully connected network, got {type(module).__qualname__}."
        )
    return [_Pair(module, i) for i in range(len(module.encoder.layers))]


def pretrain_autoencoder(
    module,
    take,
    n_samples,
    generator,
    *,
    loss_fn,
    n_epochs,
    batch_size,
    learning_rate,
    alpha=0.0,
    shuffle=True,
    device="cpu",
    autocast_dtype=None,
    verbose=0,
):
    """Train each neighbour-layer pair of ``module`` in turn as a shallow autoencoder, in place.

    Parameters
    ----------
    module : AutoencoderModule
        An initialised network (conditioning set); its weights are overwritten layer by layer.
    take : callable
        ``take(index)`` returns the rows ``index`` (a CPU int64 tensor) of the training data as a
        float32 tensor in the user's units (the engine's ``_Rows.take``).
    n_samples : int
        Number of training rows.
    generator : torch.Generator
        CPU generator for the shuffling.
    loss_fn : callable
        ``loss_fn(preactivation, x)``: the estimator's reconstruction loss (scalar) for the first pair.
    n_epochs : int
        Epochs per pair.
    batch_size : int
    learning_rate : float
        Adam's step size for every pair.
    alpha : float, default=0.0
        L2 penalty on the pair's weights (Adam's weight decay, as in the fine-tuning).
    shuffle : bool, default=True
    device : torch.device or str, default="cpu"
    autocast_dtype : torch.dtype or None, default=None
        Train the pairs under ``torch.autocast`` in this dtype (the estimator's ``precision``).
    verbose : int, default=0

    Returns
    -------
    curves : list of list of float
        One list per pair, bottom up: the pair's reconstruction loss before training, then its mean
        training loss over each epoch.
    """
    pairs = layer_pairs(module)
    device = torch.device(device)

    def autocast():
        # Entered per step: autocast caches its low-precision copies of the weights until it exits.
        if autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=autocast_dtype)

    was_training = module.training
    module.eval()  # no dropout while pretraining
    curves = []
    below = None  # the cached activations of the layer under the current pair (None: the data)
    for pair in pairs:
        if pair.first:
            def batch(index):
                x = take(index).to(device, non_blocking=True)
                return module.conditioning.standardize(x), x

            def loss(x_in, target, pair=pair):
                return loss_fn(pair.decode(pair.encode(x_in)), target)
        else:
            def batch(index, below=below):
                h = below.index_select(0, index.to(below.device))
                return h, h

            def loss(h, target, pair=pair):
                return F.mse_loss(pair.decode(pair.encode(h)), target)

        curve = [_mean_loss(batch, loss, n_samples)]
        curve += _train_pair(pair, batch, loss, n_samples, generator, n_epochs, batch_size,
                             learning_rate, alpha, shuffle, autocast)
        curves.append(curve)
        if verbose:
            print(f"Pretraining layer {pair.i + 1}/{len(pairs)}: reconstruction loss "
                  f"{curve[0]:.6g} -> {curve[-1]:.6g} in {n_epochs} epochs")
        if not pair.last:
            below = _activations(pair, batch, n_samples)
    module.train(was_training)
    return curves


def _train_pair(pair, batch, loss, n, generator, n_epochs, batch_size, learning_rate, alpha, shuffle, autocast):
    weights = [p for p in pair.parameters if p.ndim == 2]
    biases = [p for p in pair.parameters if p.ndim != 2]
    groups = [{"params": weights, "weight_decay": alpha}, {"params": biases}]
    optimizer = torch.optim.Adam(groups, lr=learning_rate)
    curve = []
    for _ in range(n_epochs):
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        total = 0.0
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            x_in, target = batch(index)
            with autocast():
                value = loss(x_in, target)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
            # Summed without a host sync per batch, as in the engine.
            total = total + value.detach().float() * index.numel()
        curve.append(float(total) / n)
        if not math.isfinite(curve[-1]):
            raise FloatingPointError(
                f"layer-wise pretraining diverged at layer {pair.i + 1}: the loss became infinite or "
                "NaN. Lower learning_rate_init."
            )
    return curve


@torch.no_grad()
def _mean_loss(batch, loss, n):
    total = 0.0
    for start in range(0, n, _CHUNK):
        index = torch.arange(start, min(start + _CHUNK, n))
        total += float(loss(*batch(index))) * index.numel()
    return total / n


@torch.no_grad()
def _activations(pair, batch, n):
    """The pair's code for every training row: the input of the next pair."""
    out = None
    for start in range(0, n, _CHUNK):
        index = torch.arange(start, min(start + _CHUNK, n))
        code = pair.encode(batch(index)[0])
        if out is None:
            out = torch.empty((n, code.shape[1]), dtype=code.dtype, device=code.device)
        out[start : start + code.shape[0]] = code
    return out
