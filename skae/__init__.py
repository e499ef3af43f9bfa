"""skae: autoencoders as first-class scikit-learn estimators, on a PyTorch backend."""

from ._autoencoder import Autoencoder
from ._classifier import AutoencoderClassifier
from ._contractive import ContractiveAutoencoder
from ._denoising import DenoisingAutoencoder
from ._hamming import HammingIndex
from ._hashing import HashingAutoencoder
from ._ladder import LadderAutoencoder
from ._neighbor_embedding import NeighborEmbeddingAutoencoder
from ._outlier import AutoencoderOutlierDetector
from ._sparse import SparseAutoencoder
from ._vae import VAE
from ._version import __version__

__all__ = [
    "Autoencoder",
    "AutoencoderClassifier",
    "AutoencoderOutlierDetector",
    "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "LadderAutoencoder",
    "HammingIndex",
    "HashingAutoencoder",
    "NeighborEmbeddingAutoencoder",
    "SparseAutoencoder",
    "VAE",
    "__version__",
]
