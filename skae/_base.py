"""The one training engine every skae estimator shares.

An estimator is this engine plus a few hooks (see :class:`BaseAutoencoder`):

- ``_build_module(n_features)`` returns an ``nn.Module`` with ``encode`` and ``decode``;
- ``_corrupt(X, generator)`` returns the network's input (denoising noise; identity by default);
- ``_loss(X, X_in, output, module)`` returns the scalar training loss, penalty included;
- ``_score_samples_tensor(module, X)`` returns one score per sample (higher is better);
- ``_validate_fit_data(X, y, reset)``, ``_on_first_fit(X)``, ``_batch_loss(module, X, y, generator)``
  and ``_validation_score(module, rows, index, y)`` let a supervised estimator (the semi-supervised
  classifier) thread targets through the same loop.

The loop itself (epochs over shuffled mini-batches, Adam, early stopping, warm start, ``partial_fit``,
divergence handling) lives here once.
"""

import contextlib
import copy
import inspect
import math
import numbers
import time
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._integrity import DIGEST_KEY, check_state_digest, state_digest
from ._losses import mean_reconstruction_loss, reconstruction_loss
from ._modules import ACTIVATIONS, Conditioning
from ._progress import Progress, tqdm_available
from ._schedule import LEARNING_RATES, StepSchedule, clock
from ._version import __version__

__all__ = ["BaseAutoencoder"]

# Rows per forward pass in transform / score_samples / jacobian: bounds memory whatever n_samples is.
_INFERENCE_BATCH = 2048
_JACOBIAN_BATCH = 64
# With verbose, inference passes of at least this many batches (transform, score_samples, the VAE's
# log_likelihood on large X) show a progress bar.
_PROGRESS_MIN_BATCHES = 2


# --------------------------------------------------------------------------------------------------
# Randomness and devices


def _seed_from(random_state):
    """An integer seed drawn from ``random_state`` without touching numpy's or torch's global RNG."""
    if random_state is None:
        # Fresh OS entropy: np.random.mtrand's global state is left alone.
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(random_state, numbers.Integral):
        return int(random_state) % (2**63)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _resolve_device(device):
    """``torch.device`` for the ``device`` parameter, with a clear error when it is unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available here.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                "device(s) are available."
            )
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r} was requested but MPS is not available here.")
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'mps'.")
    return dev


def _check_precision(precision, device):
    """The autocast dtype for ``precision`` on ``device`` (None for float32)."""
    if precision == "float32":
        return None
    if device.type == "cpu":
        supported = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    elif device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        supported = False
    if not supported:
        raise ValueError(
            f"precision='bfloat16' needs a CPU with avx512_bf16/AMX or a CUDA device with bfloat16 "
            f"support; device {str(device)!r} has neither. Use precision='float32'."
        )
    return torch.bfloat16


# --------------------------------------------------------------------------------------------------
# Data: a view of validated X that hands out float32 tensors a batch at a time


class _Rows:
    """Rows of a validated float32 X as torch tensors, without a full copy.

    Dense writable arrays are wrapped once with ``torch.from_numpy`` (zero copy) and batches are
    gathered with ``index_select``. Read-only arrays (memmaps) are gathered by numpy, a batch at a
    time, so torch never holds a non-writable buffer. Sparse matrices are densified one batch at a time.
    """

    def __init__(self, X):
        self.n = X.shape[0]
        self._X = X
        self._tensor = None
        if not sp.issparse(X) and X.flags.writeable and X.flags.c_contiguous:
            self._tensor = torch.from_numpy(X)

    def take(self, index):
        """Rows at ``index`` (a CPU int64 tensor), as a new float32 tensor."""
        if self._tensor is not None:
            return self._tensor.index_select(0, index)
        rows = self._X[index.numpy()]
        if sp.issparse(rows):
            rows = rows.toarray()
        return torch.from_numpy(np.ascontiguousarray(rows))

    def slice(self, start, stop):
        """Rows ``start:stop`` as a float32 tensor (a view where possible)."""
        if self._tensor is not None:
            return self._tensor[start:stop]
        rows = self._X[start:stop]
        rows = rows.toarray() if sp.issparse(rows) else np.array(rows, order="C")
        return torch.from_numpy(rows)


# --------------------------------------------------------------------------------------------------
# Conditioning: the data's per-feature location and scale, learned at the first fit

# No training value is standardised beyond this many scales from the mean (see _feature_statistics).
_MAX_STANDARDIZED = 10.0
# Rows per chunk when computing the statistics: memory stays flat in n_samples (memmaps, sparse X).
_STATS_CHUNK_VALUES = 2**20


def _feature_statistics(X):
    """Per-feature ``(mean, variance, scale)`` of validated X, in float64, a chunk of rows at a time.

    ``scale`` is the standard deviation, raised where needed so that no training value lies more than
    ``_MAX_STANDARDIZED`` scales from the mean: a feature that is almost always constant (a border
    pixel that is lit in a handful of images) would otherwise be standardised to values in the
    hundreds. Constant features get the mean of the other features' scales (1 if all are constant),
    so that standardising never divides by zero and stays equivariant to rescaling X as a whole.
    Chunks are merged with Chan et al.'s pairwise update, which is exact and numerically stable.
    """
    n, d = X.shape
    step = max(1, _STATS_CHUNK_VALUES // max(d, 1))
    mean = np.zeros(d)
    m2 = np.zeros(d)
    low = np.full(d, np.inf)
    high = np.full(d, -np.inf)
    count = 0
    for start in range(0, n, step):
        chunk = X[start : start + step]
        chunk = chunk.toarray() if sp.issparse(chunk) else chunk
        chunk = np.asarray(chunk, dtype=np.float64)
        c = chunk.shape[0]
        c_mean = chunk.mean(axis=0)
        c_m2 = np.square(chunk - c_mean).sum(axis=0)
        delta = c_mean - mean
        total = count + c
        mean += delta * (c / total)
        m2 += c_m2 + np.square(delta) * (count * c / total)
        count = total
        low = np.minimum(low, chunk.min(axis=0))
        high = np.maximum(high, chunk.max(axis=0))
    var = m2 / max(count, 1)
    spread = np.maximum(high - mean, mean - low) / _MAX_STANDARDIZED
    scale = np.maximum(np.sqrt(var), spread)
    # Variation below float32's resolution of the values themselves is rounding, not signal.
    constant = scale <= 10 * np.finfo(np.float32).eps * np.abs(mean)
    if constant.all():
        scale[:] = 1.0
    elif constant.any():
        scale[constant] = scale[~constant].mean()
    return mean, var, scale


# --------------------------------------------------------------------------------------------------


class BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the skae estimators: the training engine they share. Not to be used directly.

    Every skae estimator inherits from it the training loop (mini-batch Adam, early stopping,
    ``warm_start``, ``partial_fit``) and the methods documented below. The parameters they share are
    documented on each estimator's page (:class:`Autoencoder` lists them all) and summarised in the
    :ref:`user guide <shared>`.

    A new estimator subclasses it and implements the private ``_build_module`` hook; it may override
    ``_corrupt``, ``_loss``, ``_score_samples_tensor`` and ``_check_params`` (see their docstrings in
    the source).
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions({"auto", "identity", "sigmoid"})],
        "loss": [StrOptions({"mse", "bce"})],
        "tied_weights": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "decay_start": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "device": [str],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "conditioning": [StrOptions({"standard", "center", "none"})],
    }

    @abstractmethod
    def __init__(
        self,
        n_components=8,
        *,
        hidden_layer_sizes=(128,),
        activation="relu",
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
        conditioning="standard",
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.tied_weights = tied_weights
        self.dropout = dropout
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.decay_start = decay_start
        self.max_iter = max_iter
        self.max_time = max_time
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.device = device
        self.precision = precision
        self.conditioning = conditioning

    # ------------------------------------------------------------------ hooks

    @abstractmethod
    def _build_module(self, n_features):
        """Return an uninitialised ``nn.Module`` with ``encode``, ``decode`` and ``reset_parameters``."""

    def _corrupt(self, X, generator, module):
        """The network's input for clean batch ``X`` during training (identity: no noise)."""
        return X

    def _forward(self, module, X_in, generator):
        """Run the network on ``X_in``; returns ``(code, output)`` where output feeds :meth:`_loss`."""
        return module(X_in)

    def _loss(self, X, X_in, code, output, module):
        """Scalar training objective for clean batch ``X``, network input ``X_in`` and its ``output``.

        The reconstruction error is divided by the data's reference loss (see
        :meth:`_reference_loss`), so that the objective, and the weight of any penalty added to it,
        does not depend on the data's units.
        """
        loss = mean_reconstruction_loss(output, X, self.loss, self._output_activation())
        scale = getattr(self, "_loss_scale", 1.0)
        return loss if scale == 1.0 else loss / scale

    def _forward_loss(self, module, X, generator):
        """Training loss of clean batch ``X``; returns ``(loss, code)``.

        The semi-supervised classifier calls this on the autoencoder it wraps, so that noise, penalties
        and KL terms come with it.
        """
        X_in = self._corrupt(X, generator, module)
        code, output = self._forward(module, X_in, generator)
        return self._loss(X, X_in, code, output, module), code

    def _batch_loss(self, module, X, y, generator):
        """Scalar loss of one training batch; ``y`` is the batch of targets (None for autoencoders)."""
        return self._forward_loss(module, X, generator)[0]

    def _prepare_batches(self, targets, train_index, n_train, generator):
        """Called once before the epochs of a fit: set up any state :meth:`_extend_batch` needs."""

    def _extend_batch(self, index, generator):
        """Row indices of one training step, from the ``index`` of its shuffled mini-batch.

        The identity here; the semi-supervised classifier appends a mini-batch of labeled rows.
        """
        return index

    def _validation_score(self, module, rows, index, y):
        """Score on the held-out rows ``index`` (higher is better): mean of the per-sample scores."""
        return self._mean_score(module, rows, index)

    def _validate_fit_data(self, X, y, reset):
        """Validate the training data; returns ``(X, targets)`` with targets a tensor or None."""
        return self._validate_X(X, reset=reset), None

    def _on_first_fit(self, X):
        """Learn data-dependent state (e.g. feature ranges) when the network is (re)initialised."""

    def _pretrain(self, rows, generator, device):
        """Pretrain the freshly initialised ``module_`` before the epochs (nothing by default).

        Called once per initialisation of the network (a fit, or the first ``partial_fit``), after
        its conditioning is set; ``rows`` is the training data's ``_Rows`` view and ``generator``
        the fit's CPU generator. Greedy layer-wise pretraining overrides it.
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
            # L2 on the weights only, not on the biases.
            named = list(module.named_parameters())
            decay = [p for n, p in named if n.endswith("weight")]
            rest = [p for n, p in named if not n.endswith("weight")]
            groups = [{"params": decay, "weight_decay": self.alpha}, {"params": rest}]
            params = [g for g in groups if g["params"]]
        else:
            params = list(module.parameters())
        try:
            # One fused kernel for all parameters: about a third of a small network's step on CPU.
            return torch.optim.Adam(params, lr=self.learning_rate_init, fused=True)
        except (RuntimeError, TypeError, ValueError):  # devices/dtypes without a fused Adam
            return torch.optim.Adam(params, lr=self.learning_rate_init)

    def _snapshot(self, module):
        return {k: v.detach().clone() for k, v in module.state_dict().items()}

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

    def _fit(self, X, y, incremental):
        started = clock()  # max_time counts from here: validation and pretraining included
        first = not hasattr(self, "module_") or not (incremental or self.warm_start)
        X, targets = self._validate_fit_data(X, y, reset=first)
        self._check_params(X)
        device = _resolve_device(self.device)
        autocast_dtype = _check_precision(self.precision, device)

        if incremental and not first and getattr(self, "_rng_state", None) is not None:
            cpu_gen = torch.Generator().set_state(self._rng_state)
        else:
            cpu_gen = torch.Generator().manual_seed(_seed_from(self.random_state))

        if first:
            self._on_first_fit(X)
            # float32 whatever torch's default dtype is (torch.set_default_dtype(torch.float64)).
            module = self._build_module(self.n_features_in_).float()
            module.reset_parameters(cpu_gen)
            mean, var, scale = _feature_statistics(X)
            if hasattr(module, "condition") and self.conditioning != "none":
                # "none" leaves the network's conditioning the identity (location 0, scale 1) and its
                # output layer as initialised: it reads and writes raw values.
                if self.conditioning == "center":
                    scale = np.ones_like(scale)
                module.condition(torch.from_numpy(mean).float(), torch.from_numpy(scale).float())
            self._loss_scale = self._reference_loss(var)
            self.module_ = module.to(device)
            self._pretrain(_Rows(X), cpu_gen, device)
            self._optimizer = None
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self.validation_scores_ = [] if (self.early_stopping and not incremental) else None
            self.best_validation_score_ = -np.inf if (self.early_stopping and not incremental) else None
            self._no_improvement_count = 0
        else:
            self.module_.to(device)
            if not incremental:
                # warm_start: keep the weights, restart the optimizer and the stopping criteria.
                self._optimizer = None
                self.loss_curve_ = list(self.loss_curve_)
                self._no_improvement_count = 0
                if self.early_stopping:
                    self.validation_scores_ = []
                    self.best_validation_score_ = -np.inf
        module = self.module_
        if getattr(self, "_optimizer", None) is None:
            self._optimizer = self._new_optimizer(module)
            if getattr(self, "_optimizer_state", None) is not None:
                self._optimizer.load_state_dict(self._optimizer_state)
        self._optimizer_state = None
        # set_params(learning_rate_init=...) between partial_fit calls takes effect (e.g. a decay).
        for group in self._optimizer.param_groups:
            group["lr"] = self.learning_rate_init

        # Noise and sampling happen on the compute device, from a generator seeded by the CPU one.
        if device.type == "cpu":
            gen = cpu_gen
        else:
            gen = torch.Generator(device=device).manual_seed(
                int(torch.randint(2**62, (1,), generator=cpu_gen))
            )

        rows = _Rows(X)
        n = rows.n
        train_index = None
        val_index = None
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            n_val = max(1, int(round(self.validation_fraction * n)))
            if n - n_val < 1:
                raise ValueError(
                    f"early_stopping=True needs at least 2 samples to hold out a validation set, "
                    f"got n_samples={n}."
                )
            perm = torch.randperm(n, generator=cpu_gen)
            val_index, train_index = perm[:n_val], perm[n_val:]
        n_train = n if train_index is None else train_index.numel()

        self._train_epochs(
            module, rows, targets, train_index, val_index, n_train, device, autocast_dtype, cpu_gen,
            gen, max_epochs=1 if incremental else self.max_iter, incremental=incremental, started=started,
        )
        self._rng_state = cpu_gen.get_state()
        return self

    def _train_epochs(
        self, module, rows, targets, train_index, val_index, n_train, device, autocast_dtype, cpu_gen,
        gen, max_epochs, incremental, started=None,
    ):
        optimizer = self._optimizer
        batch_size = self._batch_size(n_train)
        early_stopping = val_index is not None
        best_state = None
        last_good = self._snapshot(module)
        autocast = (
            torch.autocast(device.type, dtype=autocast_dtype)
            if autocast_dtype is not None
            else contextlib.nullcontext()
        )
        self._prepare_batches(targets, train_index, n_train, cpu_gen)
        n_batches = math.ceil(n_train / batch_size)
        # Schedules and the time budget belong to fit; a partial_fit epoch runs at learning_rate_init
        # (so that a set_params(learning_rate_init=...) loop between calls keeps working).
        schedule = StepSchedule(
            "constant" if incremental else self.learning_rate,
            self.learning_rate_init,
            self.decay_start,
            total_steps=max_epochs * n_batches,
            max_time=None if incremental else self.max_time,
            start=started,
        )
        converged = False
        stopped = None
        # The objective is relative to the data's reference loss; the reported losses, the scores and
        # tol are in the user's units.
        loss_scale = getattr(self, "_loss_scale", 1.0)
        tol = self.tol * loss_scale
        epoch_start_time = time.time()
        # verbose: a line per epoch; with tqdm installed, a bar over the epochs of a fit (a partial_fit
        # call's bar is over its batches); verbose >= 2 adds a bar over the batches of each epoch.
        epoch_bar = None
        if self.verbose and not incremental and tqdm_available():
            epoch_bar = Progress(max_epochs, type(self).__name__, "epoch", plain=False)
        batch_bars = self.verbose >= 2 or (self.verbose and incremental and tqdm_available())
        say = epoch_bar.write if epoch_bar is not None else print
        _bind_generator(module, gen)
        # What Ctrl-C returns to: the weights, optimizer, generator and counters of the last complete
        # epoch (or of the start), taken as one whole so that no interrupt leaves them out of step.
        checkpoint = self._checkpoint(last_good, optimizer, cpu_gen, best_state)
        try:
            for _ in range(max_epochs):
                epoch_start_time = time.time()
                module.train()
                if self.shuffle:
                    order = torch.randperm(n_train, generator=cpu_gen)
                else:
                    order = torch.arange(n_train)
                if train_index is not None:
                    order = train_index[order]
                batch_losses = []
                out_of_time = False
                batch_bar = (
                    Progress(n_batches, f"epoch {self.n_iter_ + 1}", "batches", leave=incremental)
                    if batch_bars
                    else None
                )
                for b, start in enumerate(range(0, n_train, batch_size)):
                    index = self._extend_batch(order[start : start + batch_size], cpu_gen)
                    xb = rows.take(index).to(device, non_blocking=True)
                    yb = None if targets is None else targets[index].to(device, non_blocking=True)
                    with autocast:
                        loss = self._batch_loss(module, xb, yb, gen)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    schedule.before_step(optimizer)
                    optimizer.step()
                    # Summed once per epoch, weighted by batch size: no host sync per batch.
                    batch_losses.append(loss.detach())
                    if batch_bar is not None:
                        batch_bar.update()
                    if schedule.after_step():
                        # max_time: the epoch ends with this step (it counts, over the rows it saw).
                        out_of_time = True
                        break
                if batch_bar is not None:
                    batch_bar.close()
                n_seen = min(n_train, batch_size * len(batch_losses))
                sizes = torch.full((len(batch_losses),), float(batch_size), dtype=torch.float32)
                sizes[-1] = n_seen - batch_size * (len(batch_losses) - 1)
                epoch_loss = float(torch.stack(batch_losses).float().cpu() @ sizes) / n_seen * loss_scale
                self.t_ += n_seen

                if not math.isfinite(epoch_loss) or not _all_finite(module):
                    module.load_state_dict(last_good)
                    self._optimizer = None  # its moments are poisoned too
                    stopped = "diverged"
                    break
                self.n_iter_ += 1
                self.loss_curve_.append(epoch_loss)
                last_good = self._snapshot(module)

                msg = f"Iteration {self.n_iter_}, loss = {epoch_loss:.8f}"
                if early_stopping:
                    val_score = self._validation_score(module, rows, val_index, targets)
                    self.validation_scores_.append(val_score)
                    msg += f", validation score = {val_score:.8f}"
                    if val_score < self.best_validation_score_ + tol:
                        self._no_improvement_count += 1
                    else:
                        self._no_improvement_count = 0
                    if val_score > self.best_validation_score_:
                        self.best_validation_score_ = val_score
                        best_state = last_good
                else:
                    if epoch_loss > self.best_loss_ - tol:
                        self._no_improvement_count += 1
                    else:
                        self._no_improvement_count = 0
                if epoch_loss < self.best_loss_:
                    self.best_loss_ = epoch_loss
                if epoch_bar is not None:
                    epoch_bar.update(1, loss=f"{epoch_loss:.4g}")
                if self.verbose:
                    say(msg + f" ({time.time() - epoch_start_time:.2f}s)")
                checkpoint = self._checkpoint(last_good, optimizer, cpu_gen, best_state)
                if out_of_time:
                    stopped = "max_time"
                    if self.verbose:
                        say(f"max_time={self.max_time:g}s reached after {schedule.steps} steps. Stopping.")
                    break
                if not incremental and self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    if schedule.plateau(optimizer):
                        self._no_improvement_count = 0
                        if self.verbose:
                            say(
                                f"{what} did not improve more than tol={self.tol} for "
                                f"{self.n_iter_no_change} consecutive epochs. Learning rate set to "
                                f"{schedule.lr():g}."
                            )
                        continue
                    converged = True
                    if self.verbose:
                        say(
                            f"{what} did not improve more than tol={self.tol} for "
                            f"{self.n_iter_no_change} consecutive epochs. Stopping."
                        )
                    break
        except KeyboardInterrupt:
            best_state = self._restore(checkpoint, module, optimizer, cpu_gen)
            stopped = "interrupted"
        finally:
            _bind_generator(module, None)
            if epoch_bar is not None:
                epoch_bar.close()

        if early_stopping and best_state is not None:
            module.load_state_dict(best_state)
        module.eval()

        if stopped == "diverged":
            warnings.warn(
                f"Training of {type(self).__name__} diverged at epoch {self.n_iter_ + 1}: the loss "
                "became infinite or NaN. The weights of the last finite epoch were restored and "
                f"training stopped. Lower learning_rate_init (now {self.learning_rate_init:g}) or "
                "scale X (e.g. with StandardScaler or MinMaxScaler).",
                ConvergenceWarning,
                stacklevel=4,
            )
        elif stopped == "interrupted":
            warnings.warn(
                f"Training interrupted by the user after {self.n_iter_} epoch(s); the weights of the "
                "last complete epoch were kept.",
                UserWarning,
                stacklevel=4,
            )
        elif not incremental and not converged and stopped is None:
            # Spending max_time is the end the user asked for, not a failure to converge: no warning.
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _checkpoint(self, weights, optimizer, cpu_gen, best_state):
        counters = {k: getattr(self, k) for k in ("n_iter_", "t_", "best_loss_", "_no_improvement_count",
                                                  "best_validation_score_")}
        lengths = {k: len(getattr(self, k) or ()) for k in ("loss_curve_", "validation_scores_")}
        return weights, copy.deepcopy(optimizer.state_dict()), cpu_gen.get_state(), counters, lengths, best_state

    def _restore(self, checkpoint, module, optimizer, cpu_gen):
        """Return to a :meth:`_checkpoint`; returns its best validation state."""
        weights, optimizer_state, rng_state, counters, lengths, best_state = checkpoint
        module.load_state_dict(weights)
        optimizer.load_state_dict(optimizer_state)
        cpu_gen.set_state(rng_state)
        for key, value in counters.items():
            setattr(self, key, value)
        for key, n in lengths.items():
            if getattr(self, key) is not None:
                del getattr(self, key)[n:]
        return best_state

    # ------------------------------------------------------------------ inference

    def _batches(self, X):
        """Yield ``(start, stop, tensor on the module's device)`` over validated X."""
        rows = _Rows(X)
        device = self._module_device()
        for start in range(0, rows.n, _INFERENCE_BATCH):
            stop = min(start + _INFERENCE_BATCH, rows.n)
            yield start, stop, rows.slice(start, stop).to(device)

    def _apply(self, X, fn, n_out):
        """Apply ``fn(module, batch) -> tensor`` batch by batch; numpy float32 out."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        module = self.module_
        out = np.empty((X.shape[0], *n_out), dtype=np.float32)
        n_batches = math.ceil(X.shape[0] / _INFERENCE_BATCH)
        bar = None
        if self.verbose and n_batches >= _PROGRESS_MIN_BATCHES:
            bar = Progress(n_batches, type(self).__name__, "batches", leave=False)
        try:
            with torch.inference_mode():
                module.eval()
                for start, stop, xb in self._batches(X):
                    out[start:stop] = fn(module, xb).float().cpu().numpy()
                    if bar is not None:
                        bar.update()
        finally:
            if bar is not None:
                bar.close()
        return _check_finite_output(self, out, X)

    def _mean_score(self, module, rows, index):
        module.eval()
        total = 0.0
        with torch.inference_mode():
            device = next(module.parameters()).device
            for start in range(0, index.numel(), _INFERENCE_BATCH):
                xb = rows.take(index[start : start + _INFERENCE_BATCH]).to(device)
                total += float(self._score_samples_tensor(module, xb).double().sum())
        module.train()
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
        return self._apply(X, lambda m, xb: m.encode(xb), (self.n_components,))

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
        check_is_fitted(self)
        with np.errstate(over="ignore", invalid="ignore"):
            Z = check_array(X, dtype=np.float32, order="C", input_name="X")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}.inverse_transform is "
                f"expecting {self.n_components} features (n_components) as input."
            )
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=np.float32)
        device = self._module_device()
        with torch.inference_mode():
            self.module_.eval()
            for start in range(0, Z.shape[0], _INFERENCE_BATCH):
                zb = torch.from_numpy(np.array(Z[start : start + _INFERENCE_BATCH])).to(device)
                out[start : start + zb.shape[0]] = self.module_.decode(zb).float().cpu().numpy()
        return _check_finite_output(self, out, Z)

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

    def _jacobian_batches(self, X):
        """Yield ``(start, stop, J)`` over validated X: the encoder's Jacobian, a batch of rows at a time.

        ``J`` is a float tensor of shape (stop - start, n_components, n_features) on the module's
        device, in the user's units; memory stays bounded by the batch, whatever n_samples is.
        """
        module = self.module_
        module.eval()

        def encode_one(x):
            return module.encode(x.unsqueeze(0)).squeeze(0)

        jac = torch.func.vmap(torch.func.jacrev(encode_one))
        rows = _Rows(X)
        device = self._module_device()
        for start in range(0, rows.n, _JACOBIAN_BATCH):
            stop = min(start + _JACOBIAN_BATCH, rows.n)
            xb = rows.slice(start, stop).to(device)
            with torch.no_grad():
                J = jac(xb)
            yield start, stop, J

    def jacobian(self, X):
        """The encoder's Jacobian ∂h/∂x at each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points at which the encoder's Jacobian is evaluated.

        Returns
        -------
        J : ndarray of shape (n_samples, n_components, n_features), dtype float32

        See Also
        --------
        tangent_space : The input directions to which the code is most sensitive, from this Jacobian.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> lin = Autoencoder(n_components=2, hidden_layer_sizes=(), activation="identity",
        ...                   max_iter=3, random_state=0).fit(X)
        >>> J = lin.jacobian(X[:3])
        >>> J.shape
        (3, 2, 8)
        >>> bool(np.allclose(J[0], J[2]))  # a linear encoder has the same Jacobian everywhere
        True
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        out = np.empty((X.shape[0], self.n_components, self.n_features_in_), dtype=np.float32)
        for start, stop, J in self._jacobian_batches(X):
            out[start:stop] = J.float().cpu().numpy()
        return _check_finite_output(self, out, X)

    def tangent_space(self, X, n_directions=None):
        """The input directions along which the code changes fastest at each sample, and how fast.

        These are the leading right singular vectors of the encoder's Jacobian ∂h/∂x, the estimate
        of the data manifold's tangent space at ``x`` (Rifai et al., 2011): where the encoder is
        flat across the manifold and sensitive along it, as a contractive autoencoder's is, they span
        the manifold's tangent directions. Like every skae network, the encoder reads its input
        standardised, ``x_std = (x - loc) / scale`` per feature, and measures lengths there; the
        singular vectors are taken in those units, where the training objective is isotropic, and
        returned in the user's: direction ``k`` is ``d_k = scale * v_k``, with ``v_k`` the k-th
        right singular vector of ``∂h/∂x_std = (∂h/∂x) diag(scale)`` and ``σ_k`` its singular
        value, so that ``jacobian(x) @ d_k`` has norm ``σ_k``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points at which the tangent directions are estimated.
        n_directions : int, default=None
            Number of leading directions returned, at most ``min(n_components, n_features)`` (the
            Jacobian's rank). None returns them all.

        Returns
        -------
        directions : ndarray of shape (n_samples, n_directions, n_features), dtype float32
            ``directions[i, k]`` is the k-th direction at ``X[i]``, in the user's units, of unit
            length in standardised units (``directions[i, k] / scale`` has norm 1). Divide by its
            norm for a unit vector in the user's units. Its sign is arbitrary, fixed here so that its
            entry of largest magnitude is positive.
        singular_values : ndarray of shape (n_samples, n_directions), dtype float32
            The rate ``σ_k`` at which the code changes along each direction, largest first. With
            all the directions, ``(singular_values ** 2).sum(axis=1)`` is ``‖∂h/∂x_std‖²_F``, the
            quantity a :class:`ContractiveAutoencoder` penalises.

        See Also
        --------
        jacobian : The encoder's Jacobian itself, in the user's units.

        Notes
        -----
        The directions orthogonal to those returned are the ones the code ignores. A contractive
        encoder learns to ignore the directions orthogonal to the manifold in the units its penalty
        measures, the standardised ones, so the singular vectors are taken there. Taken of
        :meth:`jacobian` in the user's units, they would assume orthogonality in those units
        instead: on features of unequal spread they would leave the tangent space (tens of degrees
        on a circle embedded in 10 dimensions, where these are within a few), and features of
        small spread would dominate them (a unit step in such a feature is many of its standard
        deviations).

        The Jacobians are computed and decomposed a batch of rows at a time, so memory stays
        bounded whatever the number of samples.

        References
        ----------
        .. [1] Rifai, S., Y. N. Dauphin, P. Vincent, Y. Bengio and X. Muller, "The manifold tangent
           classifier", NIPS 2011.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder
        >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
        >>> ae = Autoencoder(n_components=2, hidden_layer_sizes=(16,), max_iter=3,
        ...                  random_state=0).fit(X)
        >>> directions, sigma = ae.tangent_space(X[:3], n_directions=1)
        >>> directions.shape, sigma.shape
        ((3, 1, 8), (3, 1))
        >>> step = ae.jacobian(X[:3]) @ directions[:, 0, :, None]  # code change along each
        >>> bool(np.allclose(np.linalg.norm(step[..., 0], axis=1), sigma[:, 0], rtol=1e-3))
        True
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        rank = min(self.n_components, self.n_features_in_)
        if n_directions is None:
            n_directions = rank
        elif (
            not isinstance(n_directions, numbers.Integral)
            or isinstance(n_directions, bool)
            or not 1 <= n_directions <= rank
        ):
            raise ValueError(
                f"n_directions must be an integer in [1, {rank}] (min(n_components, n_features)) or "
                f"None, got {n_directions!r}."
            )
        scale = _input_scale(self.module_)
        if scale is not None:
            scale = scale.detach().to("cpu", torch.float64)
        directions = np.empty((X.shape[0], n_directions, self.n_features_in_), dtype=np.float32)
        values = np.empty((X.shape[0], n_directions), dtype=np.float32)
        for start, stop, J in self._jacobian_batches(X):
            # float64 on the CPU: small matrices, and nearly equal singular values leave float32
            # singular vectors ill-determined (nor do all devices decompose in float64).
            J = J.to("cpu", torch.float64)
            if not bool(torch.isfinite(J).all()):
                _check_finite_output(self, J.numpy(), X)  # the overflow error, before the SVD fails
            if scale is not None:
                J = J * scale
            _, s, vh = torch.linalg.svd(J, full_matrices=False)
            vh, s = vh[:, :n_directions], s[:, :n_directions]
            if scale is not None:
                vh = vh * scale
            # A deterministic sign (the SVD's is arbitrary): each one's entry of largest magnitude is > 0.
            peak = vh.gather(2, vh.abs().argmax(dim=2, keepdim=True))
            vh = vh * torch.where(peak < 0, -1.0, 1.0)
            directions[start:stop] = vh.float().numpy()
            values[start:stop] = s.float().numpy()
        return directions, values

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

    def __getstate__(self):
        # Torch objects are saved as numpy arrays and the network as its state_dict, rebuilt by
        # _build_module on load. The state then holds no torch storage (it loads on a CPU-only machine
        # whatever device it was fitted on), names no class of skae._modules (which may change between
        # versions), and skops can persist it: skops cannot serialize torch tensors or modules.
        state = self.__dict__.copy()
        state["_skae_version"] = __version__
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = module.state_dict()
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:
            state["_optimizer_state"] = optimizer.state_dict()
        torch_keys = [key for key, value in state.items() if _holds_tensor(value)]
        for key in torch_keys:
            state[key] = _to_numpy(state[key])
        if torch_keys:
            state["_torch_keys"] = torch_keys
        state[DIGEST_KEY] = state_digest(state)  # a damaged file then fails to load (_integrity.py)
        return state

    def __setstate__(self, state):
        state = check_state_digest(state, type(self).__name__)
        version = state.pop("_skae_version", None)
        if version is not None and version != __version__:
            warnings.warn(
                f"Loading a {type(self).__name__} pickled with skae {version} into skae "
                f"{__version__}. This may break or give different results; refit it with "
                f"skae {__version__} to be safe.",
                UserWarning,
                stacklevel=2,
            )
        for key in state.pop("_torch_keys", ()):
            state[key] = _to_tensor(state[key])
        module_state = state.pop("_module_state", None)
        self.__dict__.update(state)
        # Parameters added since the pickle was made take their defaults, which are the behaviour of
        # the version that made it (get_params, clone and refitting need them all).
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not inspect.Parameter.empty and name not in self.__dict__:
                setattr(self, name, param.default)
        self._optimizer = None
        if module_state is not None:
            try:
                module = self._build_module(self.n_features_in_).float()
                module.load_state_dict(module_state)
            except (AttributeError, KeyError, RuntimeError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"This {type(self).__name__} was saved with skae {version or '(unknown version)'} "
                    f"and its network cannot be rebuilt by skae {__version__}: {exc}. Load it with "
                    f"skae {version or 'the version that saved it'}, or refit it with skae {__version__}."
                ) from exc
            self.module_ = module.eval()
        module = self.__dict__.get("module_")
        if module is not None:
            try:
                module.to(_resolve_device(self.device))
            except ValueError:
                warnings.warn(
                    f"{type(self).__name__} was fitted on device={self.device!r}, which is not "
                    "available here; it was loaded on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )


# --------------------------------------------------------------------------------------------------


def _input_scale(module):
    """The per-feature scale of the network's standardised input, or None if it reads raw input.

    The first :class:`~skae._modules.Conditioning` in ``module`` (the autoencoder's, inside a
    classifier's network too): its encoder sees ``(x - loc) / scale``.
    """
    for m in module.modules():
        if isinstance(m, Conditioning):
            return m.scale
    return None


def _bind_generator(module, generator):
    """Point every submodule that draws random numbers (dropout) at ``generator``."""
    for m in module.modules():
        if hasattr(m, "generator"):
            m.generator = generator


def _all_finite(module):
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


def _check_finite_output(estimator, out, X):
    """Refuse to return inf/NaN: finite inputs so large that float32 arithmetic overflows on them."""
    if np.isfinite(out).all():
        return out
    data = X.data if sp.issparse(X) else X
    peak = float(np.abs(data).max()) if data.size else 0.0
    raise ValueError(
        f"{type(estimator).__name__} produced non-finite values (inf or NaN) on this input: its values "
        f"(largest magnitude {peak:.3g}) overflow the float32 arithmetic of the network. Rescale X, "
        "e.g. with sklearn.preprocessing.StandardScaler or MinMaxScaler."
    )


def _holds_tensor(obj):
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, dict):
        return any(_holds_tensor(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_holds_tensor(v) for v in obj)
    return False


def _to_numpy(obj):
    """Tensors (nested in dicts, lists, tuples) as CPU numpy arrays; dtypes numpy lacks stay tensors."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().to("cpu")
        try:
            return obj.numpy().copy()
        except TypeError:  # bfloat16 and friends
            return obj
    if isinstance(obj, dict):
        return type(obj)((k, _to_numpy(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy(v) for v in obj)
    return obj


def _to_tensor(obj):
    """The inverse of :func:`_to_numpy`: numpy arrays back to (writable, owned) CPU tensors."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, dict):
        return type(obj)((k, _to_tensor(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_tensor(v) for v in obj)
    return obj

