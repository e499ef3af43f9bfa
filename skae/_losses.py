"""Reconstruction losses as pure torch functions.

Each returns one value per sample (the mean over features), so that training (their mean over a batch),
``score_samples`` (their negation) and the semi-supervised classifier all share one definition.
"""

import torch
import torch.nn.functional as F

__all__ = ["reconstruction_loss", "mean_reconstruction_loss"]

# Mean variances between which the reconstruction's squared errors stay well inside float32's normal
# range; data outside it is compared in units of its own spread (BaseAutoencoder._reconstruction).
_FLOAT32_SQUARES = (1e-30, 1e30)


def reconstruction_loss(preactivation, target, loss="mse", output_activation="identity"):
    """Per-sample reconstruction loss, averaged over features.

    Parameters
    ----------
    preactivation : Tensor of shape (n_samples, n_features)
        The decoder's output before its output activation.
    target : Tensor of shape (n_samples, n_features)
        The clean input.
    loss : {"mse", "bce"}
    output_activation : {"identity", "sigmoid"}

    Returns
    -------
    Tensor of shape (n_samples,)
    """
    if loss == "bce":
        # From the logits (the estimators pair "bce" with the sigmoid output only): exact where the
        # sigmoid would saturate to 0 or 1 in float32.
        per = F.binary_cross_entropy_with_logits(preactivation, target, reduction="none")
    else:
        recon = torch.sigmoid(preactivation) if output_activation == "sigmoid" else preactivation
        per = (recon - target).square()
    return per.mean(dim=1)


def mean_reconstruction_loss(preactivation, target, loss="mse", output_activation="identity"):
    """The mean of :func:`reconstruction_loss` over samples, as one fused op (the training hot path)."""
    if loss == "bce" and output_activation == "sigmoid":
        return F.binary_cross_entropy_with_logits(preactivation, target)
    if loss == "mse" and output_activation == "identity":
        return F.mse_loss(preactivation, target)
    return reconstruction_loss(preactivation, target, loss, output_activation).mean()
