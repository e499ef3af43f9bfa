"""skae: autoencoders as first-class scikit-learn estimators, on a PyTorch backend."""

from ._autoencoder import Autoencoder
from ._base import BaseAutoencoder
from ._version import __version__

__all__ = ["Autoencoder", "BaseAutoencoder", "__version__"]
