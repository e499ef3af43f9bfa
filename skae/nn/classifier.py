"""The semi-supervised classifier's network: an autoencoder's network and a head on its code."""

from torch import nn

__all__ = ["ClassifierNetwork", "CodeAsScores"]


class ClassifierNetwork(nn.Module):
    """An autoencoder module and a classifier head on its code.

    ``encode``/``decode`` are the autoencoder's, so the engine's transform, inverse_transform and
    jacobian work unchanged. ``pretrained`` keeps the autoencoder's weights at ``reset_parameters``.
    """

    def __init__(self, autoencoder, head, pretrained=False):
        super().__init__()
        self.autoencoder = autoencoder
        self.head = head
        self.pretrained = pretrained

    def reset_parameters(self, generator):
        if not self.pretrained:
            self.autoencoder.reset_parameters(generator)
        self.head.reset_parameters(generator)

    def condition(self, loc, scale):
        # A pretrained autoencoder learned the same statistics in its own fit.
        if not self.pretrained and hasattr(self.autoencoder, "condition"):
            self.autoencoder.condition(loc, scale)

    def encode(self, x):
        return self.autoencoder.encode(x)

    def decode_preactivation(self, z):
        return self.autoencoder.decode_preactivation(z)

    def decode(self, z):
        return self.autoencoder.decode(z)

    def logits(self, x):
        """Class scores of clean ``x`` (call in eval mode: no dropout, deterministic code)."""
        return self.head(self.encode(x))

    def forward(self, x):
        return self.autoencoder(x)


class CodeAsScores(nn.Module):
    """No head: the code itself holds the class scores (``classifier_hidden_layer_sizes=None``)."""

    def reset_parameters(self, generator):
        pass

    def forward(self, code):
        return code
