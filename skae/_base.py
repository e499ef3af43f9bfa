"""The one training engine every skae estimator shares.

An estimator is this engine plus a few hooks: :class:`BaseAutoencoder`'s docstring lists them all,
with who overrides each.

``fit`` and ``partial_fit`` run ``_fit``: validation, ``_initialize`` at the first fit (or
``_resume``), the hold-out split, pretraining, then the call's ``TrainingState``, built once, and
``_train`` on it (both in ``_training.py``: epochs of shuffled mini-batches, one ``_loss`` and one
optimizer step each, early stopping, divergence and Ctrl-C handling).
Beside it: ``_data.py`` (validated X as tensors, the feature statistics), ``_device.py`` (seeds,
devices, precision), ``_schedule.py`` (the step size and time budget), ``_jacobian.py``
(``jacobian`` and ``tangent_space``) and ``_persistence.py`` (pickling).
"""

import contextlib
import math
import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._data import _INFERENCE_BATCH, _check_finite_output, _feature_statistics, _Rows
from ._device import _check_precision, _resolve_device, _seed_from
from ._jacobian import JacobianMixin
from ._losses import _FLOAT32_SQUARES, mean_reconstruction_loss, reconstruction_loss
from ._params import ENGINE_CONSTRAINTS, network_constraints, store_params
from ._persistence import PersistenceMixin
from ._progress import Progress
from ._schedule import clock
from ._threads import flush_denormal, intra_op_threads
from ._training import Loss, TrainingData, TrainingLoop, _adam, _decayed_split, held_out_batches

__all__ = ["BaseAutoencoder"]

# With verbose, inference passes of at least this many batches (transform, score_samples, the VAE's
# log_likelihood on large X) show a progress bar.
_PROGRESS_MIN_BATCHES = 2


# --------------------------------------------------------------------------------------------------


class BaseAutoencoder(
    TrainingLoop, JacobianMixin, PersistenceMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class of the skae estimators: the training engine they share. Not to be used directly.

    Every skae estimator inherits from it the training loop (mini-batch Adam, early stopping,
    ``warm_start``, ``partial_fit``) and the methods documented below. The parameters they share are
    documented on each estimator's page (:class:`Autoencoder` lists them all) and summarised in the
    :ref:`user guide <shared>`.

    A new estimator subclasses it, implements ``_build_module`` and overrides only the hooks where
    it differs from a plain autoencoder (each documented in the source; who overrides it in
    brackets):

    - ``_build_module(n_features)``: the network (required; every estimator);
    - ``_check_params(X)``: checks across parameters or against the data at every fit (all but
      hashing);
    - ``_corrupt(X, generator, module)``: the network's input for a clean batch (denoising; the
      ladder draws its noise inside its network's pass, so this is one estimator's hook, kept so
      that noise never needs a forward pass of its own);
    - ``_loss(module, batch)``: the objective of one ``Batch``, a ``Loss`` (its value
      and the code); the one override point for the objective. A penalty on the code is
      ``super()._loss(module, batch).plus(weight * penalty)`` (sparse); a penalty that needs
      values of the forward pass runs that pass itself (contractive, VAE, hashing, ladder), with
      ``_reconstruction(pre, X)`` for the reconstruction term;
    - ``_output_activation()``, ``_reference_loss(var)``: the reconstruction's activation and the
      unit of the objective (VAE, ladder, classifier);
    - ``_score_samples_tensor(module, X)``: the per-sample score when it is not minus the
      reconstruction error (VAE, ladder, classifier);
    - ``_on_first_fit(X)``: data-dependent state at initialisation (denoising, classifier);
    - ``_pretrain(rows, generator, device)``: before the first epoch (the four estimators with
      ``pretraining``);
    - ``_after_training(X, incremental)``: state read from the trained network at the end of each
      ``fit`` or ``partial_fit`` call (the Autoencoder's ``code_scale_``).

    Four more exist for the one estimator with targets, the semi-supervised classifier, so that it
    trains in this same loop: ``_validate_fit_data``, ``_batch_extension``, ``_validation_score``
    and ``_new_optimizer``. The neighbour embedding uses the first two as well: its steps append
    each row's sampled neighbours, from a graph of the rows ``_validate_fit_data`` received. Only
    the engine calls hooks; an estimator that composes another's objective holds its ``Objective``
    (``skae/_objective.py``). The rest (``_fit``, ``_initialize``, ``_resume``, and
    ``_hold_out``, ``_training_state``, ``_train``, ``_end_epoch``, ``_finish_training`` of
    ``skae/_training.py``) is the engine itself and not meant to be overridden.
    """

    # The fully connected network's parameters and the engine's (skae/_params.py holds both tables).
    _parameter_constraints: dict = {
        **network_constraints(
            "n_components", "hidden_layer_sizes", "activation", "output_activation", "loss", "tied_weights",
            "dropout",
        ),
        **ENGINE_CONSTRAINTS,
    }

    def __init__(self, **params):
        # Each estimator names its parameters in its own signature and stores them the same way.
        store_params(self, params)

    # The unit of the objective, learned at the first fit (see _reference_loss); 1 until then.
    _loss_scale = 1.0

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def _build_module(self, n_features):
        """Return an uninitialised ``nn.Module`` with ``encode``, ``decode`` and ``reset_parameters``."""

    def _corrupt(self, X, generator, module):
        """The network's input for clean batch ``X`` during training (identity: no noise)."""
        return X

    def _loss(self, module, batch):
        """The training objective of one ``Batch``: a ``Loss`` (the value and the code).

        The one override point for the objective. Here: the reconstruction of the clean rows from
        their (corrupted) input, divided by the data's reference loss (:meth:`_reconstruction`). An
        estimator with a penalty on the code adds it to ``super()._loss(module, batch)`` with
        ``Loss.plus``; one whose penalty needs values of the forward pass (the encoder's
        pre-activations, the posterior) runs that pass itself. The classifier reads ``code``.
        """
        X_in = self._corrupt(batch.X, batch.generator, module)
        code, pre = module(X_in)
        return Loss(self._reconstruction(pre, batch.X), code)

    def _reconstruction(self, preactivation, X):
        """The mean reconstruction loss of ``X`` divided by the data's reference loss.

        The objective, and the weight of any penalty added to it, then does not depend on the data's
        units (see :meth:`_reference_loss`).
        """
        scale = self._loss_scale
        if not _FLOAT32_SQUARES[0] < scale < _FLOAT32_SQUARES[1] and scale != 1.0:
            # Data in units whose squares leave float32's range (a spread of 1e-19 or 1e19):
            # compared in units of its spread, the same ratio with squares of order 1.
            unit = scale**-0.5
            preactivation, X, scale = preactivation * unit, X * unit, 1.0
        loss = mean_reconstruction_loss(preactivation, X, self.loss, self._output_activation())
        return loss if scale == 1.0 else loss / scale

    def _batch_extension(self, targets, train_index, n_train):
        """Rows to append to every training step of a fit, or None (here: None).

        Returns an object with ``extend(index, generator)``, the row indices of a step from those of
        its shuffled mini-batch, and ``size``, the number of rows it appends. The semi-supervised
        classifier appends a mini-batch of labeled rows (see ``_training.LabeledBatches``).
        """
        return None

    def _validation_score(self, module, rows, index, y):
        """Score on the held-out rows ``index`` (higher is better): mean of the per-sample scores."""
        return self._mean_score(module, rows, index)

    def _validate_fit_data(self, X, y, reset, incremental=False, classes=None):
        """Validate the training data; returns ``(X, targets)`` with targets a tensor or None.

        ``incremental`` says whether the call is ``partial_fit``; ``classes`` is its argument (the
        classifier's; unused by the autoencoders).
        """
        return self._validate_X(X, reset=reset), None

    def _on_first_fit(self, X):
        """Learn data-dependent state (e.g. feature ranges) when the network is (re)initialised."""

    def _pretrain(self, rows, generator, device):
        """Pretrain the freshly initialised ``module_`` before the epochs (nothing by default).

        Called once per initialisation of the network (a fit, or the first ``partial_fit``), after
        its conditioning is set; ``rows`` is the training rows' ``_Rows`` view (with
        ``early_stopping``, only the rows it does not hold out) and ``generator`` the fit's CPU
        generator. Greedy layer-wise pretraining overrides it.
        """

    def _reference_loss(self, var):
        """The reconstruction loss's natural scale, from the per-feature variances ``var`` of the data.

        The training objective is the reconstruction loss divided by it, plus any penalty; the
        training loss is reported (``loss_curve_``) multiplied back, in the user's units, and ``tol``
        is relative to it. Training then behaves the same whatever the data's units. For the squared
        error it is the loss of predicting the mean, the mean variance; the other losses are
        already unitless.
        """
        if getattr(self, "loss", None) == "mse" and self._output_activation() == "identity":
            ref = float(np.mean(var)) if var.size else 0.0
            if ref > 0 and math.isfinite(ref):
                return ref
        return 1.0

    def _score_samples_tensor(self, module, X):
        """Per-sample score of clean ``X`` in eval mode: the negative reconstruction error."""
        pre = module.decode_preactivation(module.encode(X))
        return -reconstruction_loss(pre, X, self.loss, self._output_activation())

    def _check_params(self, X):
        """Checks that involve several parameters or the data; called at every fit."""
        if self.loss == "bce":
            if self._output_activation() != "sigmoid":
                raise ValueError(
                    f"loss='bce' scores reconstructions as probabilities, so it needs "
                    f"output_activation='sigmoid' (or 'auto'), got {self.output_activation!r}."
                )
            data = X.data if sp.issparse(X) else X
            if data.size and (data.min() < 0 or data.max() > 1):
                raise ValueError(
                    f"loss='bce' needs X in [0, 1], but X ranges over [{data.min():.4g}, "
                    f"{data.max():.4g}]. Scale it first, e.g. with sklearn.preprocessing.MinMaxScaler, "
                    "or use loss='mse'."
                )

    # ------------------------------------------------------------------ helpers

    def _output_activation(self):
        if self.output_activation == "auto":
            return "sigmoid" if self.loss == "bce" else "identity"
        return self.output_activation

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        sizes = tuple(sizes)
        if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0 for h in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers, got {self.hidden_layer_sizes!r}."
            )
        return sizes

    def _validate_X(self, X, reset):
        # Values beyond float32's range become inf in the cast, which validate_data's finiteness check
        # then reports ("value too large for dtype('float32')"); numpy's own overflow warning is noise.
        with np.errstate(over="ignore", invalid="ignore"):
            return validate_data(
                self,
                X,
                reset=reset,
                accept_sparse=("csr", "csc"),
                dtype=np.float32,
                order="C",
            )

    def _module_device(self):
        return next(self.module_.parameters()).device

    def _batch_size(self, n):
        # "auto": batches of 256 on large data; on small data about 32 steps per epoch (never below 16
        # rows), since a few hundred rows in one or two batches get too few optimiser steps.
        size = min(256, max(16, n // 32)) if self.batch_size == "auto" else self.batch_size
        return min(size, n)

    def _new_optimizer(self, module):
        if self.alpha:
            # L2 on the weights only, not on the biases. A group's "alpha" is the parameter's value;
            # its weight_decay is set from it for each call's rows (see _training_state).
            decay, rest = _decayed_split(module)
            groups = [{"params": decay, "alpha": self.alpha}, {"params": rest}]
            params = [g for g in groups if g["params"]]
        else:
            params = list(module.parameters())
        return _adam(params, self.learning_rate_init)

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse matrices are densified one mini-batch at a time.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), max_iter=3, random_state=0)
        >>> ae.fit(X).n_iter_, len(ae.loss_curve_)
        (3, 3)
        """
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch over X, continuing from the current state.

        The first call initialises the network; later calls keep the weights and the optimizer state
        and must see the same number of features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), random_state=0)
        >>> for chunk in np.array_split(X, 4):  # e.g. data arriving in chunks
        ...     ae = ae.partial_fit(chunk)
        >>> ae.n_iter_, ae.t_
        (4, 100)
        """
        return self._fit(X, y, incremental=True)

    def _fit(self, X, y, incremental, classes=None):
        started = clock()  # max_time counts from here: validation and pretraining included
        first = not hasattr(self, "module_") or not (incremental or self.warm_start)
        if not first:  # before any check that adjusts the network (a SparseAutoencoder's new k)
            self._check_network()
        X, targets = self._validate_fit_data(X, y, reset=first, incremental=incremental, classes=classes)
        self._check_params(X)
        device = _resolve_device(self.device)
        autocast_dtype = _check_precision(self.precision, device)
        autocast = contextlib.nullcontext()
        if autocast_dtype is not None:
            autocast = torch.autocast(device.type, dtype=autocast_dtype)
        if incremental and not first and getattr(self, "_rng_state", None) is not None:
            cpu_gen = torch.Generator().set_state(self._rng_state)
        else:
            cpu_gen = torch.Generator().manual_seed(_seed_from(self.random_state))

        early_stopping = self.early_stopping and not incremental
        n_val = self._validation_rows(X.shape[0], early_stopping)  # before the network is (re)built
        if first:
            self._initialize(X, cpu_gen, device, early_stopping)
        else:
            self._resume(device, incremental, early_stopping)
        rows = _Rows(X)
        # The rows early stopping holds out are drawn before pretraining, which never sees them.
        train_index, val_index = self._hold_out(rows.n, cpu_gen, n_val, targets)
        with flush_denormal():  # no subnormal slow path, in this thread or torch's worker threads
            if first:
                self._pretrain(rows if train_index is None else rows.subset(train_index), cpu_gen, device)
            state = self._training_state(TrainingData(rows, targets, train_index, val_index), cpu_gen, autocast,
                                         incremental, started)
            with intra_op_threads(state.threads):  # this thread's count only: torch.set_num_threads is the user's
                stopped = self._train(state)
        # Outside the flush: the hook reads the network as transform does, tiny (subnormal) rows included.
        if not (incremental and stopped == "interrupted"):  # an interrupted call is undone whole
            self._after_training(X, incremental)
        self._rng_state = cpu_gen.get_state()
        return self

    def _after_training(self, X, incremental):
        """Hook: state read from the trained network at the end of a ``fit`` or (``incremental``)
        ``partial_fit`` call, X the call's validated rows."""

    def _code_scale(self):
        """The factor :meth:`transform` divides the network's codes by: ``code_scale_``, else 1."""
        return getattr(self, "code_scale_", 1.0)

    def _initialize(self, X, cpu_gen, device, early_stopping):
        """First fit: the network, its conditioning, the unit of the objective and the counters."""
        self._on_first_fit(X)
        # float32 whatever torch's default dtype is (torch.set_default_dtype(torch.float64)).
        module = self._build_module(self.n_features_in_).float()
        module.reset_parameters(cpu_gen)
        mean, var, scale, fills_unit_box = _feature_statistics(X)
        conditioning = self.conditioning
        if conditioning == "auto":
            conditioning = "center" if fills_unit_box else "standard"
        if hasattr(module, "condition") and conditioning != "none":
            # "none" leaves the network's conditioning the identity (location 0, scale 1) and its
            # output layer as initialised: it reads and writes raw values.
            if conditioning == "center":
                scale = np.ones_like(scale)
            module.condition(torch.from_numpy(mean).float(), torch.from_numpy(scale).float())
        # The objective is relative to the data's reference loss; the reported losses, the scores and
        # tol are in the user's units.
        self._loss_scale = self._reference_loss(var)
        self.module_ = module.to(device)
        self._built_architecture = self._architecture()
        # A new optimizer, the one of an unpickled model (its saved state) included.
        self._optimizer = self._optimizer_state = self._optimizer_names = None
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.validation_scores_ = [] if early_stopping else None
        self.best_validation_score_ = -np.inf if early_stopping else None
        self._no_improvement_count = 0

    def _resume(self, device, incremental, early_stopping):
        """A later ``partial_fit`` call or a ``warm_start`` fit: the weights stay."""
        self.module_.to(device)
        if not incremental:
            # warm_start: keep the weights, restart the optimizer and the stopping criteria.
            self._optimizer = self._optimizer_state = self._optimizer_names = None
            self.loss_curve_ = list(self.loss_curve_)
            self._no_improvement_count = 0
            if early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf

    # ------------------------------------------------------------------ inference

    def _inference_batches(self, X, batch_size=_INFERENCE_BATCH, autograd=False):
        """Yield ``(start, stop, batch)`` over validated X: the one loop behind every output path.

        ``batch`` is rows ``start:stop`` on the module's device; while they are consumed ``module_``
        is in eval mode, under ``torch.inference_mode`` (``torch.no_grad`` with ``autograd``, for
        the Jacobian's functional transforms), and, with ``verbose``, a progress bar counts the
        batches of a large X. Memory stays bounded by the batch, whatever n_samples is.
        """
        self._check_network(fitted_checked=True)  # every caller has checked that it is fitted
        rows = _Rows(X)
        device = self._module_device()
        n_batches = math.ceil(rows.n / batch_size)
        bar = None
        if self.verbose and n_batches >= _PROGRESS_MIN_BATCHES:
            bar = Progress(n_batches, type(self).__name__, "batches", leave=False)
        try:
            with torch.no_grad() if autograd else torch.inference_mode():
                self.module_.eval()
                for start in range(0, rows.n, batch_size):
                    stop = min(start + batch_size, rows.n)
                    yield start, stop, rows.slice(start, stop).to(device)
                    if bar is not None:
                        bar.update()
        finally:
            if bar is not None:
                bar.close()

    def _apply(self, X, fn, n_out, validated=False, scale=1.0):
        """``fn(module, batch) -> tensor`` over X batch by batch, divided by ``scale``; numpy float32
        out, checked finite.

        X is validated here unless ``validated`` (inverse_transform validates its codes itself).
        """
        check_is_fitted(self)
        if not validated:
            X = self._validate_X(X, reset=False)
        out = np.empty((X.shape[0], *n_out), dtype=np.float32)
        for start, stop, xb in self._inference_batches(X):
            out[start:stop] = fn(self.module_, xb).float().cpu().numpy()
        if scale != 1.0:
            out /= np.float32(scale)
        return _check_finite_output(self, out, X)

    def _mean_score(self, module, rows, index):
        total = 0.0
        for _, xb in held_out_batches(module, rows, index):
            total += float(self._score_samples_tensor(module, xb).double().sum())
        return total / index.numel()

    def transform(self, X):
        """Encode X: the latent code of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components), dtype float32
            The codes.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), max_iter=3,
        ...                  random_state=0).fit(X)
        >>> codes = ae.transform(X)
        >>> codes.shape, codes.dtype
        ((100, 2), dtype('float32'))
        """
        return self._apply(X, lambda m, xb: m.encode(xb), (self.n_components,), scale=self._code_scale())

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features), dtype float32
            The reconstructions.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), max_iter=3,
        ...                  random_state=0).fit(X)
        >>> ae.inverse_transform(ae.transform(X[:3])).shape
        (3, 8)
        """
        self._check_network()
        with np.errstate(over="ignore", invalid="ignore"):
            Z = check_array(X, dtype=np.float32, order="C", input_name="X")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}.inverse_transform is "
                f"expecting {self.n_components} features (n_components) as input."
            )
        scale = self._code_scale()
        if scale != 1.0:
            Z = Z * np.float32(scale)  # a copy: the user's codes stay as they are
        return self._apply(Z, lambda m, zb: m.decode(zb), (self.n_features_in_,), validated=True)

    def score_samples(self, X):
        """Per-sample score: the negative reconstruction error (mean over features).

        With ``loss="mse"`` this is minus the mean squared error of each sample's reconstruction; with
        ``loss="bce"``, minus its mean binary cross-entropy. Higher means better reconstructed, so low
        scores flag anomalies.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float32

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), max_iter=3,
        ...                  random_state=0).fit(X)
        >>> scores = ae.score_samples(X)  # loss="mse": minus each row's mean squared error
        >>> mse = ((ae.inverse_transform(ae.transform(X)) - X) ** 2).mean(axis=1)
        >>> bool(np.allclose(scores, -mse, atol=1e-6))
        True
        """
        return self._apply(X, self._score_samples_tensor, ())

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), max_iter=3,
        ...                  random_state=0).fit(X)
        >>> bool(np.isclose(ae.score(X), ae.score_samples(X).mean()))
        True
        """
        return float(np.mean(self.score_samples(X), dtype=np.float64))

    # ------------------------------------------------------------------ sklearn plumbing

    @property
    def _n_features_out(self):
        check_is_fitted(self)
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # getattr: the semi-supervised classifier has no ``loss`` of its own (it sets this itself).
        tags.input_tags.positive_only = getattr(self, "loss", None) == "bce"
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
