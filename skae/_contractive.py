"""The contractive autoencoder: a penalty on the encoder's Jacobian, exact or estimated by random projections."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import Autoencoder
from ._docstrings import engine_docs
from ._jacobian import _input_scale
from ._params import store_params
from ._penalties import contractive_penalty, jacobian_norm_by_products, rademacher_like
from ._training import Loss
from .nn.layers import MLP

__all__ = ["ContractiveAutoencoder"]


@engine_docs
class ContractiveAutoencoder(Autoencoder):
    """Contractive autoencoder: reconstruction plus a penalty on the encoder's Jacobian.

    The penalty ``λ · mean_n ‖∂h/∂x(x_n)‖²_F`` makes the code locally insensitive to input
    directions that reconstruction does not need, so that it varies only along the data manifold
    (Rifai et al., 2011); :meth:`tangent_space` returns the directions it keeps. The penalty is
    either computed exactly (in closed form for a one-layer encoder; for deeper ones by carrying the
    K×h Jacobian of every sample back to the input, about K encoder passes) or estimated without
    bias from random projections of the code, one vector-Jacobian product each (Hoffman, Roberts and
    Yaida, 2019), whose cost does not grow with K. By default the exact penalty is used where it
    is cheap and the estimate elsewhere; see ``contraction_estimator`` and the Notes.

    Parameters
    ----------
    n_components : int, default=8
        Size of the code (latent dimension K). The default suits real data of tens of features or
        more; pass 2 or 3 for a plot of the codes.
    contraction_weight : float, default=0.01
        Weight λ of the Jacobian penalty, relative to the reconstruction loss. The reconstruction
        loss is a mean over features while the penalty sums over all K × n_features Jacobian
        entries, so useful values shrink as n_features grows (around 0.01 on the 64-pixel digits;
        0.1 already flattens a small encoder there). The default 0.01 contracts without giving up
        much reconstruction on small tabular data, where 0.1 gives up more. Choose it by the
        downstream score.
    contraction_estimator : {"auto", "exact", "stochastic"}, default="auto"
        How the penalty is computed. "exact" computes ``‖∂h/∂x‖²_F`` itself; "stochastic"
        estimates it, without bias, as the mean of ``‖vᵀ ∂h/∂x‖²`` over ``n_projections`` random
        sign vectors ``v`` in code space, drawn afresh for every sample at every step from the
        estimator's generator (``random_state``). "auto" is "exact" where that costs about as much
        as the estimate or less: for a one-layer encoder (``hidden_layer_sizes=()``), and for codes
        of at most ``2 * n_projections`` units; "stochastic" otherwise. See Notes for the costs.
        Both work for any network with an ``encode`` method; the exact closed forms are used for
        the built-in one.
    n_projections : int, default=1
        Random projections per sample and step of the "stochastic" penalty. More projections
        lower the estimate's variance (as ``1 / n_projections``) at one vector-Jacobian product
        each; one is usually enough, since the estimate is also averaged over the mini-batch.
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
    tied_weights : bool, default=True
        If True the decoder's weights are the encoder's, transposed. Unlike
        :class:`Autoencoder`, the default is True, as in Rifai et al. (2011): with an untied
        decoder the penalty can be evaded by shrinking the code and enlarging the decoder's
        weights to match (Goodfellow et al., section 14.7).
    dropout : float, default=0.0
        Dropout rate on the hidden activations during training.
    [engine-params: alpha_auto]
    [engine-params: batch_size, learning_rate_init, max_iter, learning_rate, decay_start, max_time, tol,
    n_iter_no_change, early_stopping, validation_fraction, shuffle, random_state, verbose, warm_start, device,
    precision, conditioning]
    module : callable, default=None
        A network of your own (see :class:`Autoencoder`). Both penalties need only its ``encode``:
        the exact one by ``n_components`` vector-Jacobian products, the stochastic one by
        ``n_projections`` (see ``contraction_estimator``).
    module_params : dict, default=None
        Keyword arguments of ``module``.
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
    Autoencoder : The same network with no Jacobian penalty.
    DenoisingAutoencoder : Robustness to finite input perturbations rather than infinitesimal ones.
    SparseAutoencoder : Autoencoder with a sparsity constraint on the code.

    Notes
    -----
    With encoder ``h = f(x)``, decoder ``g`` and reconstruction loss ``L`` averaged over features,
    the training objective on a mini-batch is

    .. math::

        \\frac{1}{n}\\sum_{i=1}^n \\Big[ L\\big(x_i, g(f(x_i))\\big)
            + \\lambda \\Big\\lVert \\frac{\\partial f}{\\partial x}(x_i) \\Big\\rVert_F^2 \\Big],

    plus the optional L2 weight penalty ``alpha``. For an encoder ``f(x) = a(Wx + b)`` with an
    elementwise activation ``a`` the penalty has the closed form

    .. math::

        \\Big\\lVert \\frac{\\partial f}{\\partial x}(x) \\Big\\rVert_F^2
            = \\sum_{k=1}^K a'(w_k^\\top x + b_k)^2 \\lVert w_k \\rVert^2 .

    For deeper encoders ``J = D_L W_L ⋯ D_1 W_1`` with ``D_l = diag(a'(z_l))`` is formed exactly,
    from the code side, as K vector-Jacobian products at once; its cost is about K encoder forward
    passes (with their backward), so it dominates the epoch for wide encoders and large K, as the
    multiply-add count of an exact penalty predicts.

    The stochastic penalty rests on ``‖J‖²_F = E‖vᵀ J‖²`` for any random ``v`` with
    ``E[v vᵀ] = I`` (Hutchinson, 1989); with ``v`` uniform over the sign vectors of code space,
    each draw costs one vector-Jacobian product through autograd (a double backward to train on
    it), whatever K, and has the smallest variance of any ``v`` with independent entries. Its
    gradient is an unbiased estimate of the exact penalty's. The estimate is cheaper from a few code
    units on; for codes of 2 units, and for a one-layer encoder, whose closed form costs O(K) per
    sample, the exact penalty costs about as much, with no variance: there "auto" picks it. The
    price of the estimate is a noisier gradient, more so for a larger ``contraction_weight``, which
    ``n_projections`` reduces. The user guide has the measured epoch times and variances.

    The code layer is linear, as in :class:`Autoencoder`; with ``hidden_layer_sizes=()`` the Jacobian is
    then the constant ``W`` and the penalty reduces to the weight decay ``λ‖W‖²_F``, so use at
    least one hidden layer for a contraction that depends on x. The decoder's weights are tied to
    the encoder's by default: otherwise scaling the code down by ``c`` and the decoder's first
    layer up by ``1/c`` lowers the penalty by ``c²`` at no cost in reconstruction (use ``alpha``
    to control the weights if you untie them). With ``dropout``, the penalty is the
    Jacobian of the encoder as it runs in training (with the dropout masks); at :meth:`jacobian`
    time there is no dropout. The Jacobian penalised is that with respect to the network's
    standardised input ``(x - loc) / scale`` (a per-feature location and scale learned at the first
    fit), so that the penalty does not depend on the data's units: the exact value is the mean of
    ``((jacobian(X) * scale) ** 2).sum(axis=(1, 2))``, with :meth:`jacobian` in the user's units.

    All computation is in float32; outputs are float32 arrays.

    References
    ----------
    .. [1] Rifai, S., P. Vincent, X. Muller, X. Glorot and Y. Bengio, "Contractive auto-encoders:
       Explicit invariance during feature extraction", ICML 2011.
    .. [2] Goodfellow, I., Y. Bengio and A. Courville, "Deep Learning", MIT Press, 2016,
       section 14.7.
    .. [3] Hoffman, J., D. A. Roberts and S. Yaida, "Robust learning with Jacobian
       regularization", arXiv:1908.02729, 2019.
    .. [4] Hutchinson, M. F., "A stochastic estimator of the trace of the influence matrix for
       Laplacian smoothing splines", Communications in Statistics - Simulation and Computation
       18(3), 1989.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import ContractiveAutoencoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> cae = ContractiveAutoencoder(n_components=8, contraction_weight=0.1,
    ...                              hidden_layer_sizes=(64,), max_iter=5, random_state=0)
    >>> codes = cae.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> cae.jacobian(X[:2]).shape  # ∂h/∂x at two digits
    (2, 8, 64)
    """

    _parameter_constraints: dict = {
        **Autoencoder._family_constraints,
        "contraction_weight": [Interval(Real, 0, None, closed="left")],
        "contraction_estimator": [StrOptions({"auto", "exact", "stochastic"})],
        "n_projections": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=8,
        *,
        contraction_weight=0.01,
        contraction_estimator="auto",
        n_projections=1,
        hidden_layer_sizes=(128,),
        activation="relu",
        code_activation="identity",
        output_activation="auto",
        loss="mse",
        tied_weights=True,
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

    def _exact(self, module):
        """Whether the penalty is computed exactly (else estimated by random projections)."""
        if self.contraction_estimator != "auto":
            return self.contraction_estimator == "exact"
        # Exact whenever it costs about what the projections cost, or less (measured: see Notes).
        encoder = _mlp_encoder(module)
        if encoder is None:
            # By K vector-Jacobian products, exactly the cost of K projections.
            return self.n_components <= self.n_projections
        return (
            len(encoder.layers) == 1
            or self.n_components <= _EXACT_ROWS_PER_PROJECTION * self.n_projections
        )

    def _loss(self, module, batch):
        X_in = self._corrupt(batch.X, batch.generator, module)
        code, pre, penalty = self._penalised_pass(module, X_in, batch.generator)
        loss = Loss(self._reconstruction(pre, batch.X), code)
        if penalty is None:
            return loss
        return loss.plus(self.contraction_weight * penalty.mean())

    def _penalised_pass(self, module, X_in, generator):
        """The network on ``X_in`` and the per-sample penalty: ``(code, decoder preactivation, penalty)``.

        The penalty is None when ``contraction_weight`` is 0 (the plain autoencoder's forward pass).
        """
        if self.contraction_weight == 0:
            code, pre = module(X_in)
            return code, pre, None
        exact = self._exact(module)
        if exact and _mlp_encoder(module) is not None:
            code, pieces = self._mlp_forward(module, X_in, generator)
            return code, module.decode_preactivation(code), contractive_penalty(*pieces)
        # Any module with an ``encode``: vector-Jacobian products through autograd, taken with
        # respect to the input in the user's units and rescaled to the standardised input.
        x = X_in.detach().requires_grad_(True)
        with torch.enable_grad():  # also under no_grad, where a caller only wants the value
            code = module.encode(x)
            scale = _input_scale(module)
            if exact:
                eye = torch.eye(code.shape[1], dtype=code.dtype, device=code.device)
                vectors = (eye[k].expand_as(code) for k in range(code.shape[1]))
                penalty = jacobian_norm_by_products(code, x, vectors, scale)
            else:
                vectors = (rademacher_like(code, generator) for _ in range(self.n_projections))
                penalty = jacobian_norm_by_products(code, x, vectors, scale) / self.n_projections
        return code, module.decode_preactivation(code), penalty

    def _mlp_forward(self, module, X_in, generator):
        """The MLP encoder layer by layer, keeping what the exact penalty needs: no second forward pass.

        Returns ``(code, (encoder preactivations, weights, activations, dropout multipliers))``, the
        arguments of :func:`~skae._penalties.contractive_penalty`.
        """
        encoder = module.encoder
        code, preactivations, multipliers = encoder.trace(module.conditioning.standardize(X_in), generator)
        activations = [encoder.activation] * (len(encoder.layers) - 1) + [encoder.last_activation]
        weights = [layer.weight for layer in encoder.layers]
        return code, (preactivations, weights, activations, multipliers)


# The exact deep penalty carries K rows per sample back through the MLP encoder, the estimate one
# vector-Jacobian product (a double backward) per projection; per row the batched exact product is
# about half the price, measured on 784-1000-500-250-K, 784-256-K and 64-128-K (see the Notes).
_EXACT_ROWS_PER_PROJECTION = 2


def _mlp_encoder(module):
    """The :class:`~skae.nn.layers.MLP` encoder the exact layer-by-layer penalty can use, or None."""
    encoder = getattr(module, "encoder", None)
    if (
        isinstance(encoder, MLP)
        and getattr(module, "k", None) is None
        and hasattr(module, "conditioning")
    ):
        return encoder
    return None
