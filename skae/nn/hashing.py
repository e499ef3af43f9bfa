"""The semantic-hashing network: an ``AutoencoderModule`` whose code is bits."""

import torch

from .autoencoder import AutoencoderModule

__all__ = ["HashingModule"]

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
