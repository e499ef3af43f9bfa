"""The plain undercomplete autoencoder."""

from functools import partial
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import BaseAutoencoder, _check_precision
from ._docstrings import engine_docs
from ._params import network_constraints, store_params, weight_decay
from ._pretraining import pretrain_autoencoder
from .nn.autoencoder import AutoencoderModule, UserModule

__all__ = ["Autoencoder"]


def _name(factory):
    """How an error message names the ``module`` factory."""
    return getattr(factory, "__qualname__", None) or type(factory).__qualname__


def _call_factory(factory, params, n_features, n_components):
    try:
        return factory(n_features, n_components, **params)
    except TypeError as exc:
        raise TypeError(
            f"module={_name(factory)} could not build the network as module(n_features={n_features}, "
            f"n_components={n_components}, **module_params) with module_params={params!r}: {exc}"
        ) from exc


class _ModuleMixin:
    """The ``module`` and ``module_params`` parameters: the user's network instead of the MLP.

    ``set_params(module__name=value)`` sets one entry of ``module_params`` (skorch's convention), so
    that ``GridSearchCV`` can search a network's own hyperparameters one by one.
    """

    _module_constraints: dict = {"module": [callable, None], "module_params": [dict, None]}

    def set_params(self, **params):
        prefix = "module__"
        entries = {key[len(prefix) :]: params.pop(key) for key in list(params) if key.startswith(prefix)}
        super().set_params(**params)
        if entries:
            self.module_params = {**(self.module_params or {}), **entries}
        return self

    def _check_params(self, X):
        super()._check_params(X)
        if isinstance(self.module, nn.Module):
            # An instance is callable (its forward), so the constraint lets it through; it would also
            # put torch objects in the estimator's parameters, which pickle and clone must not hold.
            raise TypeError(
                f"module must be a class or function that builds the network, not a network: pass "
                f"module={type(self.module).__qualname__} and its keyword arguments in module_params."
            )
        if self.module is None and self.module_params:
            raise ValueError(
                f"module_params={self.module_params!r} is given but module=None: module_params are "
                "the keyword arguments of the network built by module (e.g. "
                "skae.modules.ConvAutoencoderModule); the built-in network takes hidden_layer_sizes, "
                "activation, tied_weights and dropout instead."
            )

    def _autoencoder_module(self, n_features, *, code_activation, k=None, code_bias=0.0):
        """The network: the built-in MLP, or the one ``module`` builds, run by :class:`UserModule`."""
        if self.module is None:
            return AutoencoderModule(
                n_features,
                self.n_components,
                hidden_layer_sizes=self._hidden_sizes(),
                activation=self.activation,
                code_activation=code_activation,
                output_activation=self._output_activation(),
                tied_weights=self.tied_weights,
                dropout=self.dropout,
                k=k,
                code_bias=code_bias,
            )
        build = partial(_call_factory, self.module, dict(self.module_params or {}), n_features, self.n_components)
        return UserModule(
            build,
            n_features,
            self.n_components,
            code_activation=code_activation,
            output_activation=self._output_activation(),
            k=k,
            code_bias=code_bias,
        )


class _PretrainingMixin:
    """The ``pretraining`` and ``pretraining_max_iter`` parameters: greedy layer-wise pretraining.

    Runs when the network is initialised (``fit``, or the first ``partial_fit``; not a ``warm_start``
    refit), before the fine-tuning epochs. See :func:`skae._pretraining.pretrain_autoencoder`.
    """

    _pretraining_constraints: dict = {
        "pretraining": [StrOptions({"autoencoder"}), None],
        "pretraining_max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def _check_params(self, X):
        super()._check_params(X)
        if self.pretraining is not None and self.module is not None:
            raise ValueError(
                f"pretraining={self.pretraining!r} trains skae's fully connected network layer by "
                f"layer and cannot pretrain a network of your own (module={_name(self.module)}); "
                "use pretraining=None with module=."
            )

    def _pretrain(self, rows, generator, device):
        self.pretraining_loss_curves_ = None
        if self.pretraining is None:
            return
        def loss_fn(pre, x):
            return self._reconstruction(pre, x)

        curves = pretrain_autoencoder(
            self.module_,
            rows.take,
            rows.n,
            generator,
            loss_fn=loss_fn,
            n_epochs=self.pretraining_max_iter,
            batch_size=self._batch_size(rows.n),
            learning_rate=self.learning_rate_init,
            alpha=weight_decay(self.alpha, rows.n),
            shuffle=self.shuffle,
            device=device,
            autocast_dtype=_check_precision(self.precision, device),
            verbose=self.verbose,
        )
        # The first layer's reconstruction error in the user's units, as loss_curve_.
        curves[0] = [c * self._loss_scale for c in curves[0]]
        self.pretraining_loss_curves_ = curves


@engine_docs
class Autoencoder(_PretrainingMixin, _ModuleMixin, BaseAutoencoder):
    """Undercomplete autoencoder: an encoder ``h = f(x)`` and a decoder ``r = g(h)`` trained to
    reconstruct their input.

    The loss is the reconstruction error ``L(x, g(f(x)))`` averaged over samples and features (mean
    squared error or binary cross-entropy), plus an optional L2 weight penalty. The code layer is
    linear unless ``code_activation`` says otherwise; the decoder mirrors the encoder. With
    ``activation="identity"``, ``hidden_layer_sizes=()`` and ``loss="mse"`` the autoencoder learns
    the same subspace as PCA (Baldi & Hornik, 1989), on centred or uncentred data in any units.

    Read more in the :ref:`User Guide <autoencoder>`.

    Parameters
    ----------
    n_components : int, default=8
        Size of the code (latent dimension K). The default suits real data of tens of features or
        more; pass 2 or 3 for a plot of the codes.
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
    scale_codes : "auto" or bool, default="auto"
        If True, :meth:`transform` divides the network's codes by their spread on the training
        rows (the square root of their units' mean variance, ``code_scale_``), and
        :meth:`inverse_transform` multiplies the codes it is given by it. A linear code comes in
        whatever units training happened to leave it (the decoder would undo any rescaling of it);
        this brings it to a spread of 1, where the regularisation of a model fitted on the codes (a
        LogisticRegression's ``C``) means the same whatever the network. It is one factor for all
        the units, so distances and directions among the codes keep their proportions, and
        ``jacobian`` is in the same unit. False returns the network's codes as they are. "auto" is
        True for a linear code (``code_activation="identity"``) and False for the others, whose
        units mean something of their own (a sigmoid's probabilities in (0, 1)). The spread costs
        one more forward pass over the rows at the end of each ``fit`` or ``partial_fit`` call.
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
        the rest of the estimator applies to it (the loss, ``code_activation``, ``output_activation``);
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
    code_scale_ : float
        The factor :meth:`transform` divides the network's codes by: their spread on the training
        rows with ``scale_codes=True`` (after ``partial_fit``: over every call's rows), else 1.0.
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
    sklearn.decomposition.PCA : The linear autoencoder's closed-form solution.
    SparseAutoencoder : Autoencoder with a sparsity penalty on the code.
    DenoisingAutoencoder : Autoencoder trained to undo input corruption.
    ContractiveAutoencoder : Autoencoder with an encoder-Jacobian penalty.
    VAE : Variational autoencoder.

    Notes
    -----
    *Conditioning.* At the first fit the network learns each feature's mean and scale (its standard
    deviation, raised where needed so that no training value lies more than 10 scales from the
    mean) and computes in standardised units: the encoder sees ``(x - mean) / scale`` and an
    identity output is mapped back to ``mean + scale * out``, starting at the data's mean (a sigmoid
    output starts at its logit). So the optimiser sees a well-conditioned problem whatever the
    data's units, while reconstructions, scores and ``loss_curve_`` are in the user's units (codes
    and ``jacobian`` too, divided by ``code_scale_``). The statistics are buffers of ``module_``
    (``module_.conditioning``): saved and moved with it, and kept by ``warm_start`` and
    ``partial_fit``. The objective is the reconstruction error relative to the data's mean variance
    (plus any penalty), and ``tol`` is relative to it too, so that hyperparameters mean the same in
    any units.

    All computation is in float32; ``transform``, ``inverse_transform``, ``score_samples`` and
    ``jacobian`` return float32 arrays, computed in batches so that memory stays flat in the number of
    rows.

    References
    ----------
    .. [1] Baldi, P. and K. Hornik, "Neural networks and principal component analysis: Learning from
       examples without local minima", Neural Networks 2(1), 1989.
    .. [2] Hinton, G. E. and R. R. Salakhutdinov, "Reducing the dimensionality of data with neural
       networks", Science 313(5786), 2006.
    .. [3] Goodfellow, I., Y. Bengio and A. Courville, "Deep Learning", MIT Press, 2016, chapter 14.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import Autoencoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> ae = Autoencoder(n_components=8, hidden_layer_sizes=(64,), max_iter=5, random_state=0)
    >>> codes = ae.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> ae.inverse_transform(codes).shape
    (1797, 64)
    """

    # The parameters its subclasses share (DenoisingAutoencoder, ContractiveAutoencoder, the neighbour
    # embedding); scale_codes is its own.
    _family_constraints: dict = {
        **BaseAutoencoder._parameter_constraints,
        **_ModuleMixin._module_constraints,
        **_PretrainingMixin._pretraining_constraints,
        **network_constraints("code_activation"),
    }
    _parameter_constraints: dict = {**_family_constraints, "scale_codes": ["boolean", StrOptions({"auto"})]}

    def __init__(
        self,
        n_components=8,
        *,
        hidden_layer_sizes=(128,),
        activation="relu",
        code_activation="identity",
        scale_codes="auto",
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

    def _build_module(self, n_features):
        return self._autoencoder_module(n_features, code_activation=self.code_activation)

    def _after_training(self, X, incremental):
        """``code_scale_``: the spread of the codes of the training rows (their units' variances,
        averaged, square-rooted): a fit's rows, or every ``partial_fit`` call's rows pooled, each
        call's codes read by the network it trained (as ``StandardScaler.partial_fit`` pools).

        Codes that do not vary (one row; a collapsed network) keep the scale before, or 1.
        """
        super()._after_training(X, incremental)
        if "scale_codes" not in self._get_param_names():
            return  # a subclass without the parameter (DenoisingAutoencoder, ...) keeps its network's codes
        before = getattr(self, "code_scale_", 1.0) if incremental else 1.0
        pooled = getattr(self, "_code_moments", None) if incremental else None
        self.code_scale_, self._code_moments = 1.0, None
        scale = self.scale_codes
        if scale == "auto":
            scale = self.code_activation == "identity"
        if not scale:
            return
        codes = self._apply(X, lambda m, xb: m.encode(xb), (self.n_components,), validated=True)
        codes = codes.astype(np.float64)
        n, mean = len(codes), codes.mean(axis=0)
        sq = np.square(codes - mean)
        spread = float(np.sqrt(np.mean(sq)))
        m2 = sq.sum(axis=0)
        if pooled is not None:  # Chan et al.'s update of the pooled per-unit moments
            n0, mean0, m20 = pooled
            delta, total = mean - mean0, n0 + n
            m2 = m20 + m2 + np.square(delta) * (n0 * n / total)
            mean, n = mean0 + delta * (n / total), total
            spread = float(np.sqrt(np.mean(m2 / n)))
        self._code_moments = (n, mean, m2)
        floor = 10 * np.finfo(np.float32).eps * max(1.0, float(np.sqrt(np.mean(np.square(mean)))))
        self.code_scale_ = spread if np.isfinite(spread) and spread > floor else before
