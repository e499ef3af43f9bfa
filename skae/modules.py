"""Torch networks for the ``module`` parameter of skae's autoencoders.

An autoencoder given ``module=factory, module_params=params`` builds its network as
``factory(n_features, n_components, **params)``: any class or function that returns a
:class:`torch.nn.Module` with two methods,

- ``encode(x)``: a float tensor of shape ``(n_samples, n_features)`` to the code's pre-activation,
  of shape ``(n_samples, n_components)``;
- ``decode(code)``: a code to the reconstruction's pre-activation, of shape
  ``(n_samples, n_features)``;

and, optionally, ``reset_parameters(generator)``, which initialises every parameter from the
:class:`torch.Generator` it is given. Both methods work in standardised units: skae feeds
``encode`` with ``(x - mean) / scale`` (per feature, learned at the first fit) and maps ``decode``'s
output back to the data's units, applying the estimator's ``code_activation`` and
``output_activation`` itself. See the :ref:`user guide <custom_modules>`.

This module holds the networks skae ships for that parameter.
"""

import math
from numbers import Integral

import torch
from torch import nn

from .nn.layers import ACTIVATIONS, Dense, glorot_uniform_

__all__ = ["ConvAutoencoderModule"]


def _image_shape(image_shape, n_features):
    """``(height, width, channels)`` of each row, from ``image_shape`` as documented below."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"image_shape=None reads each row as a square grey-level image, but n_features="
                f"{n_features} is not a square number; pass image_shape=(height, width) or "
                "(height, width, channels)."
            )
        return side, side, 1
    shape = tuple(image_shape)
    if len(shape) not in (2, 3) or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and (s > 0 or s == -1) for s in shape
    ):
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels) of positive integers, "
            f"one of which may be -1; got {image_shape!r}."
        )
    if shape.count(-1) > 1:
        raise ValueError(f"image_shape may contain -1 at most once, got {image_shape!r}.")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if n_features % known:
            raise ValueError(f"image_shape={image_shape!r} does not divide n_features={n_features}.")
        shape = tuple(n_features // known if s == -1 else s for s in shape)
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={image_shape!r} holds {math.prod(shape)} values, but the rows have "
            f"n_features={n_features}."
        )
    return shape if len(shape) == 3 else (*shape, 1)


def _conv_out(size, kernel_size):
    """Output size of a stride-2 convolution with padding ``kernel_size // 2``: half, rounded up."""
    return (size + 2 * (kernel_size // 2) - kernel_size) // 2 + 1


class ConvAutoencoderModule(nn.Module):
    """A convolutional encoder and a transposed-convolutional decoder for image-shaped rows.

    Each row of X is an image flattened in NumPy's order, ``X[i] = image.ravel()``. The encoder is a
    stack of 2-D convolutions with stride 2 (each halves the height and the width) and the
    activation between them, then one affine layer to the ``n_components`` code units; the decoder
    mirrors it, with transposed convolutions of stride 2 sized to give back the image's exact shape.
    It is the architecture of the classic Keras convolutional (denoising) autoencoder, with
    strided convolutions instead of pooling and an affine bottleneck, so that the code has
    ``n_components`` units like every skae estimator's.

    Pass the class itself, not an instance, with its parameters in ``module_params``:
    ``DenoisingAutoencoder(module=ConvAutoencoderModule, module_params={"image_shape": (28, 28)})``.

    Parameters
    ----------
    n_features : int
        Number of values per row, ``height * width * channels``. Given by the estimator.
    n_components : int
        Size of the code. Given by the estimator.
    image_shape : tuple of int, default=None
        ``(height, width)`` for grey-level images or ``(height, width, channels)`` for images with
        channels last (NumPy's, Matplotlib's and Keras's layout): the shape of ``X[i].reshape``.
        One entry may be -1, inferred from ``n_features`` as in :func:`numpy.reshape`. None reads
        each row as a square grey-level image (``n_features`` must then be a square number).
    channels : tuple of int, default=(32, 64)
        Output channels of the encoder's convolutions, one stride-2 convolution each; the decoder
        uses them in reverse.
    kernel_size : int, default=3
        Height and width of every convolution kernel, an odd number. Each convolution pads the
        image by ``kernel_size // 2`` pixels, so that it halves the sides exactly, rounding up.
    activation : {"relu", "tanh", "sigmoid", "elu", "gelu", "identity"}, default="relu"
        Activation after every convolution but the decoder's last, and after the decoder's first
        affine layer.

    Attributes
    ----------
    image_shape : tuple of int
        ``(height, width, channels)`` of the rows, resolved from the ``image_shape`` parameter.
    feature_shape : tuple of int
        ``(channels, height, width)`` of the encoder's last feature maps, the input of the affine
        layer to the code.

    Notes
    -----
    The networks compute in skae's standardised units (see :mod:`skae.modules`): the encoder sees
    each pixel centred and scaled by its own training mean and scale, and the decoder's output is
    mapped back to pixel values by the estimator.

    The weights are initialised from the generator passed to :meth:`reset_parameters` (Glorot and
    Bengio's uniform distribution, the biases at zero), so the estimator's ``random_state`` alone
    decides them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skae import DenoisingAutoencoder
    >>> from skae.modules import ConvAutoencoderModule
    >>> X = load_digits().data.astype(np.float32) / 16  # 8x8 images as 64 columns
    >>> dae = DenoisingAutoencoder(
    ...     n_components=16, noise="masking", noise_level=0.3,
    ...     module=ConvAutoencoderModule,
    ...     module_params={"image_shape": (8, 8), "channels": (8, 16)},
    ...     max_iter=3, random_state=0).fit(X)
    >>> dae.transform(X[:5]).shape
    (5, 16)
    >>> dae.module_.net.feature_shape  # 8x8 -> 4x4 -> 2x2, 16 channels
    (16, 2, 2)
    """

    def __init__(
        self,
        n_features,
        n_components,
        image_shape=None,
        channels=(32, 64),
        kernel_size=3,
        activation="relu",
    ):
        super().__init__()
        channels = (channels,) if isinstance(channels, Integral) else tuple(channels)
        if not channels or not all(isinstance(c, Integral) and not isinstance(c, bool) and c > 0 for c in channels):
            raise ValueError(f"channels must be a non-empty sequence of positive integers, got {channels!r}.")
        odd = isinstance(kernel_size, Integral) and not isinstance(kernel_size, bool) and kernel_size % 2 == 1
        if not odd or kernel_size < 1:
            raise ValueError(
                f"kernel_size must be an odd positive integer (a kernel centred on its pixel), got {kernel_size!r}."
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
        self.image_shape = _image_shape(image_shape, n_features)
        height, width, n_channels = self.image_shape
        self.activation = activation
        self.kernel_size = int(kernel_size)
        padding = self.kernel_size // 2

        sizes = [(height, width)]
        for _ in channels:
            h, w = sizes[-1]
            sizes.append((_conv_out(h, self.kernel_size), _conv_out(w, self.kernel_size)))
        self.feature_shape = (channels[-1], *sizes[-1])
        n_hidden = math.prod(self.feature_shape)

        widths = [n_channels, *channels]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, self.kernel_size, stride=2, padding=padding) for a, b in zip(widths[:-1], widths[1:])
        )
        self.to_code = Dense(n_hidden, n_components)
        self.from_code = Dense(n_components, n_hidden)
        deconvs = []
        for i in range(len(channels), 0, -1):
            # Transposed convolutions of stride 2 give 2 * size - 1 or 2 * size: output_padding
            # picks the size the matching convolution started from.
            (h_in, w_in), (h_out, w_out) = sizes[i], sizes[i - 1]
            extra = [
                out - ((size - 1) * 2 - 2 * padding + self.kernel_size) for size, out in ((h_in, h_out), (w_in, w_out))
            ]
            deconvs.append(
                nn.ConvTranspose2d(
                    widths[i], widths[i - 1], self.kernel_size, stride=2, padding=padding, output_padding=tuple(extra)
                )
            )
        self.deconvs = nn.ModuleList(deconvs)

    def reset_parameters(self, generator):
        """Glorot-uniform weights drawn from ``generator``, zero biases."""
        area = self.kernel_size**2
        for conv in self.convs:
            glorot_uniform_(conv.weight, conv.in_channels * area, conv.out_channels * area, generator, self.activation)
        self.to_code.reset_parameters(generator, "identity")
        self.from_code.reset_parameters(generator, self.activation)
        for i, deconv in enumerate(self.deconvs):
            last = i == len(self.deconvs) - 1
            activation = "identity" if last else self.activation
            glorot_uniform_(deconv.weight, deconv.in_channels * area, deconv.out_channels * area, generator, activation)
        with torch.no_grad():
            for layer in (*self.convs, *self.deconvs):
                layer.bias.zero_()

    def encode(self, x):
        """Rows of shape (n_samples, n_features) to codes of shape (n_samples, n_components)."""
        height, width, n_channels = self.image_shape
        act = ACTIVATIONS[self.activation]
        h = x.reshape(-1, height, width, n_channels).permute(0, 3, 1, 2)
        for conv in self.convs:
            h = act(conv(h))
        return self.to_code(h.flatten(1))

    def decode(self, code):
        """Codes to rows of shape (n_samples, n_features): the last layer's output, not activated."""
        act = ACTIVATIONS[self.activation]
        h = act(self.from_code(code)).reshape(-1, *self.feature_shape)
        last = len(self.deconvs) - 1
        for i, deconv in enumerate(self.deconvs):
            h = deconv(h)
            if i < last:
                h = act(h)
        return h.permute(0, 2, 3, 1).flatten(1)

    def forward(self, x):
        """``(code, reconstruction)`` of rows ``x``: :meth:`encode`, then :meth:`decode`."""
        code = self.encode(x)
        return code, self.decode(code)
