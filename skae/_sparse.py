"""The sparse autoencoder: an L1, KL or top-k sparsity constraint on the code."""

import math
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._autoencoder import _ModuleMixin, _PretrainingMixin
from ._base import BaseAutoencoder
from ._docstrings import engine_docs
from ._params import store_params
from ._penalties import kl_sparsity_penalty, l1_penalty

__all__ = ["SparseAutoencoder"]

# The code activation each kind of sparsity needs (see the class docstring for why).
_CODE_ACTIVATION = {"l1": "relu", "kl": "sigmoid", "topk": "identity"}


@engine_docs
class SparseAutoencoder(_PretrainingMixin, _ModuleMixin, BaseAutoencoder):
    """Sparse autoencoder: an autoencoder whose code is pushed towards few active units.

    Sparsity lets the code be overcomplete (``n_components > n_features``) and still learn useful
    features instead of the identity. Three kinds of sparsity are offered, each with the code units
    it needs:

    - ``"l1"``: ReLU code units and the penalty ``λ · mean_n ‖h(x_n)‖₁``. The ReLU lets the penalty
      push units to exact zeros (with a linear code the L1 term would only shrink them).
    - ``"kl"``: sigmoid code units and the penalty ``λ · Σ_k KL(ρ ‖ ρ̂_k)``, where ``ρ̂_k`` is the
      mean activation of unit k over the mini-batch (Ng's sparse autoencoder notes).
    - ``"topk"``: linear code units of which only the ``k`` largest of each sample are kept, the
      rest set to zero, in training and in :meth:`transform` alike (Makhzani & Frey, 2014). There
      is no penalty: the constraint is exact.

    Parameters
    ----------
    n_components : int, default=8
        Size of the code (latent dimension K). The default suits real data of tens of features or
        more; pass 2 or 3 for a plot of the codes. May exceed ``n_features`` (an overcomplete code).
    sparsity : {"l1", "kl", "topk"}, default="l1"
        Kind of sparsity, see above.
    sparsity_weight : float, default=1e-3
        Weight λ of the sparsity penalty, relative to the reconstruction loss (which is averaged
        over features). Ignored when ``sparsity="topk"``.
    sparsity_target : float, default=0.05
        Target mean activation ρ of each code unit, in (0, 1). Used only when ``sparsity="kl"``.
    k : int, default=None
        Number of code units kept per sample when ``sparsity="topk"``, where it is required and
        must satisfy ``1 <= k <= n_components``. Ignored otherwise. It may be changed between
        ``warm_start`` fits or ``partial_fit`` calls: starting with a large k and lowering it
        keeps more units alive (Makhzani & Frey anneal k this way).
    transform_k : int, default=None
        Number of code units :meth:`transform` keeps per sample when ``sparsity="topk"``;
        None keeps ``k``. Training, reconstruction (:meth:`score_samples`, :meth:`score`) and
        :meth:`inverse_transform` always use ``k``. Makhzani & Frey encode with about ``3 * k``
        units for a classifier: a wider code of the same dictionary, which a linear classifier
        reads better (measured in the :ref:`User Guide <sparse>`). Read at each
        :meth:`transform` call, so it can be changed on a fitted estimator. Ignored otherwise.
    hidden_layer_sizes : array-like of int, default=(128,)
        Sizes of the encoder's hidden layers; the decoder uses them in reverse. ``()`` gives a
        single-layer (shallow) autoencoder.
    activation : {"relu", "tanh", "sigmoid", "elu", "gelu", "identity"}, default="relu"
        Activation of the hidden layers.
    output_activation : {"auto", "identity", "sigmoid"}, default="auto"
        Activation of the reconstruction. "auto" is "sigmoid" for ``loss="bce"`` and "identity"
        otherwise; ``loss="bce"`` needs "sigmoid" (its reconstructions are probabilities).
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. "bce" (binary cross-entropy) needs X in [0, 1].
    tied_weights : bool, default=False
        If True the decoder's weights are the encoder's, transposed.
    dropout : float, default=0.0
        Dropout rate on the hidden activations during training.
    [engine-params: alpha_auto]
    [engine-params: batch_size, learning_rate_init, max_iter, learning_rate, decay_start, max_time, tol,
    n_iter_no_change, early_stopping, validation_fraction, shuffle, random_state, verbose, warm_start, device,
    precision, conditioning]
    module : callable, default=None
        A network of your own instead of the fully connected one: a class or function called as
        ``module(n_features, n_components, **module_params)`` that returns a
        :class:`torch.nn.Module` with ``encode`` and ``decode`` methods, such as
        :class:`skae.modules.ConvAutoencoderModule`. It computes in standardised units, and
        the rest of the estimator applies to it (the sparsity penalty or top-k constraint,
        the loss, ``output_activation``);
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

    See Also
    --------
    Autoencoder : The same network with no sparsity constraint.
    DenoisingAutoencoder : Autoencoder trained to undo input corruption.
    ContractiveAutoencoder : Autoencoder with an encoder-Jacobian penalty.
    sklearn.decomposition.DictionaryLearning : Sparse coding with a linear decoder.

    Notes
    -----
    With reconstruction loss ``L`` (averaged over features) and code ``h(x) = a(f(x))``, the
    training objective on a mini-batch ``{x_1, …, x_n}`` is

    .. math::

        \\text{l1:}\\quad \\frac{1}{n}\\sum_{i=1}^n L(x_i, g(h(x_i)))
            + \\lambda \\frac{1}{n}\\sum_{i=1}^n \\lVert h(x_i) \\rVert_1,
            \\qquad a = \\mathrm{ReLU}

        \\text{kl:}\\quad \\frac{1}{n}\\sum_{i=1}^n L(x_i, g(h(x_i)))
            + \\lambda \\sum_{k=1}^K \\Big[\\rho \\log\\frac{\\rho}{\\hat\\rho_k}
            + (1-\\rho)\\log\\frac{1-\\rho}{1-\\hat\\rho_k}\\Big],
            \\qquad \\hat\\rho_k = \\frac{1}{n}\\sum_{i=1}^n h_k(x_i),\\ a = \\sigma

        \\text{topk:}\\quad \\frac{1}{n}\\sum_{i=1}^n L(x_i, g(\\mathrm{top}_k(f(x_i)))),
            \\qquad a = \\mathrm{id}

    plus the optional L2 weight penalty ``alpha``. ``ρ̂`` is clamped to ``[1e-6, 1 - 1e-6]`` so
    that the KL term stays finite when a unit saturates. In the top-k code, gradients flow only
    through the kept units. :meth:`score_samples` is the reconstruction term alone (no penalty).

    An untied decoder can undo a rescaling of the code (a code shrunk by ``c`` and a decoder
    scaled by ``1/c`` reconstruct the same), which lowers the L1 penalty; small sigmoid variations
    around ρ can be amplified the same way under the KL penalty. Combine them with
    ``tied_weights=True`` or ``alpha > 0`` when the penalty should shape the features rather than
    the scale. The top-k constraint is scale-free.

    With ``pretraining``, each pair of layers is pretrained on its reconstruction alone, the code
    pair with the code's own activation (ReLU for "l1", sigmoid for "kl") and, for "topk", its
    top-k mask; the L1 or KL penalty then shapes the code during the fine-tuning epochs.

    All computation is in float32; outputs are float32 arrays.

    References
    ----------
    .. [1] Makhzani, A. and B. Frey, "k-Sparse Autoencoders", ICLR 2014.
    .. [2] Ng, A., "Sparse autoencoder", CS294A lecture notes, Stanford University, 2011.
    .. [3] Goodfellow, I., Y. Bengio and A. Courville, "Deep Learning", MIT Press, 2016,
       section 14.2.1.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import SparseAutoencoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> sae = SparseAutoencoder(n_components=100, sparsity="topk", k=10, hidden_layer_sizes=(),
    ...                         max_iter=5, random_state=0)
    >>> codes = sae.fit_transform(X)  # 100 code units for 64 pixels: an overcomplete code
    >>> codes.shape
    (1797, 100)
    >>> int((codes != 0).sum(axis=1).max()) <= 10
    True
    """

    _parameter_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        **_ModuleMixin._module_constraints,
        **_PretrainingMixin._pretraining_constraints,
        "sparsity": [StrOptions({"l1", "kl", "topk"})],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "transform_k": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        n_components=8,
        *,
        sparsity="l1",
        sparsity_weight=1e-3,
        sparsity_target=0.05,
        k=None,
        transform_k=None,
        hidden_layer_sizes=(128,),
        activation="relu",
        output_activation="auto",
        loss="mse",
        tied_weights=False,
        dropout=0.0,
        alpha="auto",
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
        conditioning="standard",
        module=None,
        module_params=None,
        pretraining=None,
        pretraining_max_iter=10,
    ):
        store_params(self, locals())

    def _check_params(self, X):
        super()._check_params(X)
        if self.sparsity == "topk":
            self._check_k()
            self._check_transform_k()

    def _check_k(self):
        if self.k is None:
            raise ValueError("sparsity='topk' needs k, the number of code units kept per sample; got k=None.")
        if self.k > self.n_components:
            raise ValueError(
                f"k must satisfy 1 <= k <= n_components={self.n_components} for sparsity='topk', got k={self.k}."
            )

    def _check_network(self, fitted_checked=False):
        # k shapes no weight: set on a fitted estimator, it is the k of its outputs and of a warm start
        # or partial_fit, which keep the weights (annealing k from large to small, as Makhzani & Frey
        # do, avoids dead units). _fit checks the network before training on it.
        super()._check_network(fitted_checked)
        module = self.module_
        if self.sparsity == "topk" and getattr(module, "k", None) is not None and module.k != self.k:
            self._check_k()
            module.k = self.k

    def _check_transform_k(self):
        # Also at transform: transform_k may be set on a fitted estimator, after fit's validation.
        k = self.transform_k
        if k is not None and (isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= self.n_components):
            raise ValueError(
                f"transform_k must satisfy 1 <= transform_k <= n_components={self.n_components} "
                f"for sparsity='topk', got transform_k={self.transform_k}."
            )

    def transform(self, X):
        """Encode X: the latent code of each sample, ``transform_k`` (default ``k``) units kept
        per sample for ``sparsity="topk"``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components), dtype float32
            The codes.
        """
        if self.sparsity != "topk" or self.transform_k is None:
            return super().transform(X)
        check_is_fitted(self)
        self._check_transform_k()
        k = int(self.transform_k)
        return self._apply(X, lambda m, xb: m.encode(xb, k=k), (self.n_components,), scale=self._code_scale())

    def _build_module(self, n_features):
        return self._autoencoder_module(
            n_features,
            code_activation=_CODE_ACTIVATION[self.sparsity],
            k=self.k if self.sparsity == "topk" else None,
            # KL: start every sigmoid unit at the target mean activation rather than at 0.5. The input
            # is centred, so the bias alone (moving about learning_rate_init per step) must get there.
            code_bias=math.log(self.sparsity_target / (1 - self.sparsity_target)) if self.sparsity == "kl" else 0.0,
        )

    def _loss(self, module, batch):
        loss = super()._loss(module, batch)
        if self.sparsity == "topk" or self.sparsity_weight == 0:
            return loss
        if self.sparsity == "l1":
            penalty = l1_penalty(loss.code).mean()
        else:
            penalty = kl_sparsity_penalty(loss.code, self.sparsity_target)
        return loss.plus(self.sparsity_weight * penalty)
