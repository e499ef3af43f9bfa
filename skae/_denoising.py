"""The denoising autoencoder: reconstruct the clean input from a corrupted copy."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import Autoencoder
from ._docstrings import engine_docs
from ._params import store_params

__all__ = ["DenoisingAutoencoder"]


def gaussian_noise(X, level, generator, scale):
    """``X + level * scale * ε``, ``ε ~ N(0, I)`` drawn from ``generator``: Gaussian noise in units
    of each feature's scale. ``X`` itself, with no draw, when ``level`` is 0."""
    if not level:
        return X
    noise = torch.randn(X.shape, generator=generator, device=X.device, dtype=X.dtype)
    return torch.addcmul(X, noise, scale, value=float(level))


@engine_docs
class DenoisingAutoencoder(Autoencoder):
    """Denoising autoencoder: trained to reconstruct each input from a corrupted copy of it.

    Every mini-batch of every epoch gets a fresh corruption, drawn from the estimator's own random
    generator (seeded by ``random_state``); the loss compares the reconstruction with the clean
    input. :meth:`transform`, :meth:`inverse_transform` and :meth:`score_samples` never add noise:
    they are deterministic.

    Parameters
    ----------
    n_components : int, default=8
        Size of the code (latent dimension K). The default suits real data of tens of features or
        more; pass 2 or 3 for a plot of the codes.
    noise : {"gaussian", "masking", "salt_and_pepper"}, default="gaussian"
        The corruption ``C(x̃ | x)``:

        - ``"gaussian"``: additive Gaussian noise of standard deviation ``noise_level`` times each
          feature's scale (its standard deviation in the training data, see Notes), so that the
          same ``noise_level`` suits data in any units.
        - ``"masking"``: each input value is set to 0 with probability ``noise_level``.
        - ``"salt_and_pepper"``: each input value is, with probability ``noise_level``, replaced
          by its feature's minimum or maximum over the training data (``data_min_`` or
          ``data_max_``, with equal probability).
    noise_level : float, default=0.5
        Standard deviation in units of each feature's scale (``"gaussian"``, any value >= 0) or
        fraction of corrupted values (``"masking"``, ``"salt_and_pepper"``, in [0, 1]). This is the
        estimator's regularization strength: more noise makes the code more robust and less
        faithful. The default of half a standard deviation gives codes that serve a classifier
        better than lighter noise does (see the :ref:`User Guide <denoising>`); grid-search it,
        e.g. over ``[0.2, 0.5, 1.0]``.
    hidden_layer_sizes : array-like of int, default=(128,)
        Sizes of the encoder's hidden layers; the decoder uses them in reverse. ``()`` gives a
        single-layer (shallow) autoencoder.
    activation : {"relu", "tanh", "sigmoid", "elu", "gelu", "identity"}, default="relu"
        Activation of the hidden layers.
    code_activation : {"identity", "sigmoid", "tanh", "relu", "elu", "gelu"}, default="identity"
        Activation of the code units. "identity" gives a linear code, the classic undercomplete
        autoencoder's (with no hidden layer and an identity ``activation``, PCA's subspace). A
        nonlinear code makes even a one-layer autoencoder (``hidden_layer_sizes=()``) a nonlinear
        feature extractor: "sigmoid" gives bounded features in (0, 1) like an RBM's hidden units,
        a good choice for wide codes fed to a linear classifier; "tanh" is its zero-centred twin;
        "relu" gives non-negative, often sparse features. See the User Guide.
    output_activation : {"auto", "identity", "sigmoid"}, default="auto"
        Activation of the reconstruction. "auto" is "sigmoid" for ``loss="bce"`` and "identity"
        otherwise; ``loss="bce"`` needs "sigmoid" (its reconstructions are probabilities).
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. "bce" (binary cross-entropy) needs X in [0, 1].
    tied_weights : bool, default=False
        If True the decoder's weights are the encoder's, transposed.
    dropout : float, default=0.0
        Dropout rate on the hidden activations during training.
    [engine-params: alpha]
    [engine-params: batch_size, learning_rate_init, max_iter, learning_rate, decay_start, max_time, tol,
    n_iter_no_change, early_stopping, validation_fraction, shuffle, random_state, verbose, warm_start, device,
    precision]
    conditioning : {"auto", "standard", "center", "none"}, default="auto"
        How the network sees the data, from statistics learned at the first fit (see the
        :ref:`User Guide <conditioning>`). "auto" is "center" where every training value lies in
        [0, 1] (pixels, binary features, MinMaxScaler's output: features that share one unit) and
        "standard" otherwise. Centred only, Gaussian noise has the same standard deviation on every
        feature, in the data's unit, as in Vincent et al. (2010); standardised, it shrinks with
        each feature's scale, so a rarely lit pixel is hardly corrupted. On pixels, "auto" gives codes
        that serve a classifier better than "standard" (measured in the :ref:`User Guide
        <conditioning>`). "standard", "center" and "none" are as in :class:`Autoencoder`.
    module : callable, default=None
        A network of your own instead of the fully connected one: a class or function called as
        ``module(n_features, n_components, **module_params)`` that returns a
        :class:`torch.nn.Module` with ``encode`` and ``decode`` methods, such as
        :class:`skae.modules.ConvAutoencoderModule`. It computes in standardised units, and
        the rest of the estimator applies to it (the noise, the loss, ``code_activation``,
        ``output_activation``);
        ``hidden_layer_sizes``, ``activation``, ``tied_weights`` and ``dropout`` are ignored.
        See the :ref:`User Guide <custom_modules>`.
    module_params : dict, default=None
        Keyword arguments of ``module``. ``set_params(module__name=value)`` sets one of them, so
        that ``GridSearchCV`` can search, e.g., ``{"module__channels": [(16, 32), (32, 64)]}``.
    [engine-params: pretraining, pretraining_max_iter]

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, with ``encode`` and ``decode`` methods.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.
    loss_curve_ : list of float
        Training loss at the end of each epoch.
    best_loss_ : float
        Lowest training loss reached.
    validation_scores_ : list of float or None
        Score (mean of :meth:`score_samples`) on the held-out data after each epoch, when
        ``early_stopping=True``; None otherwise.
    best_validation_score_ : float or None
        Best validation score, when ``early_stopping=True``; None otherwise.
    pretraining_loss_curves_ : list of list of float or None
        With ``pretraining``: per pair of layers, bottom up, its reconstruction loss before
        pretraining and then after each epoch (the first pair's in the units of ``loss_curve_``).
        None without pretraining.
    data_min_ : ndarray of shape (n_features_in_,), dtype float32
        Per-feature minimum of the data seen by the first fit (the "pepper" values).
    data_max_ : ndarray of shape (n_features_in_,), dtype float32
        Per-feature maximum of the data seen by the first fit (the "salt" values).

    See Also
    --------
    Autoencoder : The same network trained on clean inputs.
    SparseAutoencoder : Autoencoder with a sparsity constraint on the code.
    ContractiveAutoencoder : Autoencoder with an encoder-Jacobian penalty; for small Gaussian noise
        the denoising criterion is close to a contraction penalty on the whole map ``g ∘ f``.

    Notes
    -----
    The training objective is the expected reconstruction error of the clean input from a
    corrupted one, estimated with one corruption of each sample per epoch:

    .. math::

        \\min_{f, g}\\ \\frac{1}{n}\\sum_{i=1}^n
            \\mathbb{E}_{\\tilde x \\sim C(\\tilde x \\mid x_i)}
            L\\big(x_i, g(f(\\tilde x))\\big)

    with ``C`` one of ``x̃ = x + σ s ⊙ ε`` (``ε ~ N(0, I)``, ``σ = noise_level``, ``s`` the
    per-feature scale the network standardises its input by), ``x̃ = x ⊙ m``
    (``m_j ~ Bernoulli(1 - noise_level)``) or salt-and-pepper noise, plus the optional L2 weight
    penalty ``alpha``. Learning to undo the corruption forces the autoencoder to capture the
    structure of the data rather than the identity, even with a large code (Vincent et al.).

    The feature ranges are learned when the network is initialised (the first ``fit``, or the
    first ``partial_fit``) and kept by ``warm_start`` and later ``partial_fit`` calls.

    All computation is in float32; outputs are float32 arrays.

    References
    ----------
    .. [1] Vincent, P., H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and composing robust
       features with denoising autoencoders", ICML 2008.
    .. [2] Vincent, P., H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol, "Stacked denoising
       autoencoders: Learning useful representations in a deep network with a local denoising
       criterion", JMLR 11, 2010.
    .. [3] Goodfellow, I., Y. Bengio and A. Courville, "Deep Learning", MIT Press, 2016,
       section 14.5.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import DenoisingAutoencoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> dae = DenoisingAutoencoder(n_components=16, noise="masking", noise_level=0.3,
    ...                            hidden_layer_sizes=(64,), max_iter=5, random_state=0).fit(X)
    >>> dae.transform(X[:3]).shape
    (3, 16)
    >>> np.array_equal(dae.transform(X[:3]), dae.transform(X[:3]))  # no noise at transform
    True
    >>> float(dae.data_max_.max())
    1.0
    """

    _parameter_constraints: dict = {
        **Autoencoder._family_constraints,
        "noise": [StrOptions({"gaussian", "masking", "salt_and_pepper"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=8,
        *,
        noise="gaussian",
        noise_level=0.5,
        hidden_layer_sizes=(128,),
        activation="relu",
        code_activation="identity",
        output_activation="auto",
        loss="mse",
        tied_weights=False,
        dropout=0.0,
        alpha=0.0,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        decay_start=0.0,
        max_iter=200,
        max_time=None,
        tol=1e-5,
        n_iter_no_change=20,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        device="cpu",
        precision="float32",
        conditioning="auto",
        module=None,
        module_params=None,
        pretraining=None,
        pretraining_max_iter=10,
    ):
        store_params(self, locals())

    def _check_params(self, X):
        super()._check_params(X)
        if self.noise != "gaussian" and self.noise_level > 1:
            raise ValueError(
                f"noise_level is the fraction of corrupted values for noise={self.noise!r} and "
                f"must be in [0, 1], got {self.noise_level!r}."
            )

    def _on_first_fit(self, X):
        if sp.issparse(X):
            # The implicit zeros count: min/max over all rows, as for a dense X.
            low, high = X.min(axis=0).toarray().ravel(), X.max(axis=0).toarray().ravel()
        else:
            low, high = np.min(X, axis=0), np.max(X, axis=0)
        self.data_min_ = np.asarray(low, dtype=np.float32)
        self.data_max_ = np.asarray(high, dtype=np.float32)

    def _corrupt(self, X, generator, module):
        level = float(self.noise_level)
        if level == 0:
            return X
        if self.noise == "gaussian":
            return gaussian_noise(X, level, generator, module.conditioning.scale)
        # One uniform draw per value decides both whether it is hit and (salt and pepper) how.
        u = torch.rand(X.shape, generator=generator, device=X.device, dtype=X.dtype)
        if self.noise == "masking":
            return X.masked_fill(u < level, 0.0)
        low = torch.from_numpy(self.data_min_).to(device=X.device, dtype=X.dtype)
        high = torch.from_numpy(self.data_max_).to(device=X.device, dtype=X.dtype)
        out = torch.where(u < 0.5 * level, low, X)
        return torch.where((u >= 0.5 * level) & (u < level), high, out)
