"""The one training engine every skae estimator shares.

An estimator is this engine plus a few hooks: :class:`BaseAutoencoder`'s docstring lists them all,
with who overrides each.

The loop itself (epochs over shuffled mini-batches, Adam, early stopping, warm start, ``partial_fit``,
divergence handling) lives here once. Beside it: ``_data.py`` (validated X as tensors, the feature
statistics), ``_device.py`` (seeds, devices, precision), ``_schedule.py`` (the step size and time
budget), ``_jacobian.py`` (``jacobian`` and ``tangent_space``) and ``_persistence.py`` (pickling).
"""

import contextlib
import copy
import math
import numbers
import time
import warnings
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._data import _INFERENCE_BATCH, _check_finite_output, _feature_statistics, _Rows
from ._device import _check_precision, _resolve_device, _seed_from
from ._jacobian import JacobianMixin
from ._losses import mean_reconstruction_loss, reconstruction_loss
from ._params import ENGINE_CONSTRAINTS, network_constraints, store_params
from ._persistence import PersistenceMixin
from ._progress import Progress, tqdm_available
from ._schedule import StepSchedule, clock

__all__ = ["BaseAutoencoder"]

# With verbose, inference passes of at least this many batches (transform, score_samples, the VAE's
# log_likelihood on large X) show a progress bar.
_PROGRESS_MIN_BATCHES = 2


# --------------------------------------------------------------------------------------------------


class BaseAutoencoder(
    JacobianMixin, PersistenceMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator,
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
    - ``_forward(module, X_in, generator)``: ``(code, output)``, where ``output`` is whatever this
      estimator's ``_loss`` reads: a penalty that needs the pass's intermediate values (the
      encoder's pre-activations, the posterior) is computed here, once (contractive, VAE,
      hashing);
    - ``_loss(X, X_in, code, output, module)``: the batch objective, ``super()._loss`` plus a
      penalty (sparse, contractive, VAE);
    - ``_forward_loss(module, X, generator, n_extra)``: ``_corrupt``, ``_forward`` and ``_loss``
      in one, for a network whose one pass yields code and cost together (the ladder); the
      classifier calls it on the autoencoder it holds;
    - ``_output_activation()``, ``_reference_loss(var)``: the reconstruction's activation and the
      unit of the objective (VAE, ladder);
    - ``_score_samples_tensor(module, X)``: the per-sample score when it is not minus the
      reconstruction error (VAE, ladder, classifier);
    - ``_on_first_fit(X)``: data-dependent state at initialisation (denoising, classifier);
    - ``_pretrain(rows, generator, device)``: before the first epoch (the four estimators with
      ``pretraining``).

    Six more exist for the one estimator with targets, the semi-supervised classifier, so that it
    trains in this same loop: ``_validate_fit_data``, ``_batch_extension``, ``_batch_loss``,
    ``_validation_score``, ``_new_optimizer`` and ``_set_loss_scale``. The rest (``_fit``,
    ``_start_training``, ``_run_epoch``, ``_end_epoch``, ``_finish_training``, ...) is the engine
    itself and not meant to be overridden.
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

    def _forward_loss(self, module, X, generator, n_extra=0):
        """Training loss of clean batch ``X``; returns ``(loss, code)``.

        The semi-supervised classifier calls this on the autoencoder it holds, so that noise,
        penalties and KL terms come with it. Its batches end with ``n_extra`` labeled rows drawn
        again for the supervised term: an estimator whose loss depends on the batch as a whole (the
        ladder's batch normalisation) leaves them out of its statistics and its cost; a mean over
        rows, as here, counts them like any other row.
        """
        X_in = self._corrupt(X, generator, module)
        code, output = self._forward(module, X_in, generator)
        return self._loss(X, X_in, code, output, module), code

    def _batch_loss(self, module, X, y, generator, n_extra=0):
        """Scalar loss of one training batch; ``y`` is the batch of targets (None for autoencoders).

        The last ``n_extra`` rows are those :meth:`_batch_extension` appended (0 without one).
        """
        return self._forward_loss(module, X, generator, n_extra)[0]

    def _batch_extension(self, targets, train_index, n_train):
        """Rows to append to every training step of a fit, or None (here: None).

        Returns an object with ``extend(index, generator)``, the row indices of a step from those of
        its shuffled mini-batch, and ``size``, the number of rows it appends. The semi-supervised
        classifier appends a mini-batch of labeled rows (see ``_classifier._LabeledBatches``).
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

    def _set_loss_scale(self, var):
        """Learn the unit of the objective at the first fit: ``_loss_scale = _reference_loss(var)``."""
        self._loss_scale = self._reference_loss(var)

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
        return _adam(params, self.learning_rate_init)

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

    def _fit(self, X, y, incremental, classes=None):
        started = clock()  # max_time counts from here: validation and pretraining included
        first = not hasattr(self, "module_") or not (incremental or self.warm_start)
        X, targets = self._validate_fit_data(X, y, reset=first, incremental=incremental, classes=classes)
        self._check_params(X)
        device = _resolve_device(self.device)
        autocast_dtype = _check_precision(self.precision, device)

        if incremental and not first and getattr(self, "_rng_state", None) is not None:
            cpu_gen = torch.Generator().set_state(self._rng_state)
        else:
            cpu_gen = torch.Generator().manual_seed(_seed_from(self.random_state))

        rows = _Rows(X)
        early_stopping = self.early_stopping and not incremental
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
            self._set_loss_scale(var)
            self.module_ = module.to(device)
            self._optimizer = None
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self.validation_scores_ = [] if early_stopping else None
            self.best_validation_score_ = -np.inf if early_stopping else None
            self._no_improvement_count = 0
        else:
            self.module_.to(device)
            if not incremental:
                # warm_start: keep the weights, restart the optimizer and the stopping criteria.
                self._optimizer = None
                self.loss_curve_ = list(self.loss_curve_)
                self._no_improvement_count = 0
                if early_stopping:
                    self.validation_scores_ = []
                    self.best_validation_score_ = -np.inf
        # The rows early stopping holds out are drawn before pretraining, which never sees them.
        train_index, val_index = self._hold_out(rows.n, cpu_gen, early_stopping)
        if first:
            self._pretrain(rows if train_index is None else rows.subset(train_index), cpu_gen, device)
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

        n_train = rows.n if train_index is None else train_index.numel()

        self._train_epochs(
            module, rows, targets, train_index, val_index, n_train, device, autocast_dtype, cpu_gen,
            gen, max_epochs=1 if incremental else self.max_iter, incremental=incremental, started=started,
        )
        self._rng_state = cpu_gen.get_state()
        return self

    def _hold_out(self, n, cpu_gen, early_stopping):
        """``(train_index, val_index)``: the rows early stopping trains and validates on, or (None, None)."""
        if not early_stopping:
            return None, None
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n - n_val < 1:
            raise ValueError(
                f"early_stopping=True needs at least 2 samples to hold out a validation set, "
                f"got n_samples={n}."
            )
        perm = torch.randperm(n, generator=cpu_gen)
        return perm[n_val:], perm[:n_val]

    def _train_epochs(
        self, module, rows, targets, train_index, val_index, n_train, device, autocast_dtype, cpu_gen,
        gen, max_epochs, incremental, started=None,
    ):
        """The training loop, in its named steps: start, then epochs until one says stop, then finish."""
        run = self._start_training(
            module, rows, targets, train_index, val_index, n_train, device, autocast_dtype, cpu_gen, gen,
            max_epochs, incremental, started,
        )
        stopped = None
        try:
            for _ in range(max_epochs):
                epoch_loss, out_of_time = self._run_epoch(run)
                stopped = self._end_epoch(run, epoch_loss, out_of_time)
                if stopped is not None:
                    break
        except KeyboardInterrupt:
            run.best_state = self._restore(run.checkpoint, module, run.optimizer, cpu_gen)
            stopped = "interrupted"
        finally:
            _bind_generator(module, None)
            if run.epoch_bar is not None:
                run.epoch_bar.close()
        self._finish_training(run, stopped)

    def _start_training(
        self, module, rows, targets, train_index, val_index, n_train, device, autocast_dtype, cpu_gen, gen,
        max_epochs, incremental, started,
    ):
        """Step 1: the state of one call's epochs (optimizer, schedule, batches, progress, checkpoint)."""
        batch_size = self._batch_size(n_train)
        n_batches = math.ceil(n_train / batch_size)
        run = _Run(
            extension=self._batch_extension(targets, train_index, n_train),
            module=module, rows=rows, targets=targets, train_index=train_index, val_index=val_index,
            n_train=n_train, device=device, cpu_gen=cpu_gen, gen=gen, incremental=incremental,
            optimizer=self._optimizer, batch_size=batch_size, n_batches=n_batches,
        )
        run.autocast = (
            torch.autocast(device.type, dtype=autocast_dtype)
            if autocast_dtype is not None
            else contextlib.nullcontext()
        )
        # Schedules and the time budget belong to fit; a partial_fit epoch runs at learning_rate_init
        # (so that a set_params(learning_rate_init=...) loop between calls keeps working).
        run.schedule = StepSchedule(
            "constant" if incremental else self.learning_rate,
            self.learning_rate_init,
            self.decay_start,
            total_steps=max_epochs * n_batches,
            max_time=None if incremental else self.max_time,
            start=started,
        )
        # The objective is relative to the data's reference loss; the reported losses, the scores and
        # tol are in the user's units.
        run.loss_scale = getattr(self, "_loss_scale", 1.0)
        run.tol = self.tol * run.loss_scale
        # verbose: a line per epoch; with tqdm installed, a bar over the epochs of a fit (a partial_fit
        # call's bar is over its batches); verbose >= 2 adds a bar over the batches of each epoch.
        if self.verbose and not incremental and tqdm_available():
            run.epoch_bar = Progress(max_epochs, type(self).__name__, "epoch", plain=False)
        run.batch_bars = self.verbose >= 2 or (self.verbose and incremental and tqdm_available())
        run.say = run.epoch_bar.write if run.epoch_bar is not None else print
        _bind_generator(module, gen)
        run.last_good = self._snapshot(module)
        # What Ctrl-C returns to: the weights, optimizer, generator and counters of the last complete
        # epoch (or of the start), taken as one whole so that no interrupt leaves them out of step.
        run.checkpoint = self._checkpoint(run.last_good, run.optimizer, cpu_gen, None)
        return run

    def _run_epoch(self, run):
        """Step 2: one pass over shuffled mini-batches; returns ``(epoch_loss, out_of_time)``."""
        run.epoch_start_time = time.time()
        module, optimizer, schedule, batch_size = run.module, run.optimizer, run.schedule, run.batch_size
        module.train()
        if self.shuffle:
            order = torch.randperm(run.n_train, generator=run.cpu_gen)
        else:
            order = torch.arange(run.n_train)
        if run.train_index is not None:
            order = run.train_index[order]
        batch_losses = []
        out_of_time = False
        batch_bar = (
            Progress(run.n_batches, f"epoch {self.n_iter_ + 1}", "batches", leave=run.incremental)
            if run.batch_bars
            else None
        )
        for start in range(0, run.n_train, batch_size):
            index, n_extra = order[start : start + batch_size], 0
            if run.extension is not None:
                index, n_extra = run.extension.extend(index, run.cpu_gen), run.extension.size
            xb = run.rows.take(index).to(run.device, non_blocking=True)
            yb = None if run.targets is None else run.targets[index].to(run.device, non_blocking=True)
            with run.autocast:
                loss = self._batch_loss(module, xb, yb, run.gen, n_extra)
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
        n_seen = min(run.n_train, batch_size * len(batch_losses))
        sizes = torch.full((len(batch_losses),), float(batch_size), dtype=torch.float32)
        sizes[-1] = n_seen - batch_size * (len(batch_losses) - 1)
        epoch_loss = float(torch.stack(batch_losses).float().cpu() @ sizes) / n_seen * run.loss_scale
        self.t_ += n_seen
        return epoch_loss, out_of_time

    def _end_epoch(self, run, epoch_loss, out_of_time):
        """Step 3: the epoch's bookkeeping and the stopping rule.

        Returns None to go on, or why training stops: "diverged", "max_time" or "converged".
        """
        module, schedule = run.module, run.schedule
        if not math.isfinite(epoch_loss) or not _all_finite(module):
            module.load_state_dict(run.last_good)
            self._optimizer = None  # its moments are poisoned too
            return "diverged"
        self.n_iter_ += 1
        self.loss_curve_.append(epoch_loss)
        run.last_good = self._snapshot(module)

        early_stopping = run.val_index is not None
        msg = f"Iteration {self.n_iter_}, loss = {epoch_loss:.8f}"
        if early_stopping:
            val_score = self._validation_score(module, run.rows, run.val_index, run.targets)
            self.validation_scores_.append(val_score)
            msg += f", validation score = {val_score:.8f}"
            if val_score < self.best_validation_score_ + run.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if val_score > self.best_validation_score_:
                self.best_validation_score_ = val_score
                run.best_state = run.last_good
        else:
            if epoch_loss > self.best_loss_ - run.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
        if epoch_loss < self.best_loss_:
            self.best_loss_ = epoch_loss
        if run.epoch_bar is not None:
            run.epoch_bar.update(1, loss=f"{epoch_loss:.4g}")
        if self.verbose:
            run.say(msg + f" ({time.time() - run.epoch_start_time:.2f}s)")
        run.checkpoint = self._checkpoint(run.last_good, run.optimizer, run.cpu_gen, run.best_state)
        if out_of_time:
            if self.verbose:
                run.say(f"max_time={self.max_time:g}s reached after {schedule.steps} steps. Stopping.")
            return "max_time"
        if not run.incremental and self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if early_stopping else "Training loss"
            if schedule.plateau(run.optimizer):
                self._no_improvement_count = 0
                if self.verbose:
                    run.say(
                        f"{what} did not improve more than tol={self.tol} for "
                        f"{self.n_iter_no_change} consecutive epochs. Learning rate set to "
                        f"{schedule.lr():g}."
                    )
                return None
            if self.verbose:
                run.say(
                    f"{what} did not improve more than tol={self.tol} for "
                    f"{self.n_iter_no_change} consecutive epochs. Stopping."
                )
            return "converged"
        return None

    def _finish_training(self, run, stopped):
        """Step 4: restore the best validation weights, eval mode, and say how training ended."""
        if run.val_index is not None and run.best_state is not None:
            run.module.load_state_dict(run.best_state)
        run.module.eval()

        if stopped == "diverged":
            warnings.warn(
                f"Training of {type(self).__name__} diverged at epoch {self.n_iter_ + 1}: the loss "
                "became infinite or NaN. The weights of the last finite epoch were restored and "
                f"training stopped. Lower learning_rate_init (now {self.learning_rate_init:g}) or "
                "scale X (e.g. with StandardScaler or MinMaxScaler).",
                ConvergenceWarning,
                stacklevel=5,
            )
        elif stopped == "interrupted":
            warnings.warn(
                f"Training interrupted by the user after {self.n_iter_} epoch(s); the weights of the "
                "last complete epoch were kept.",
                UserWarning,
                stacklevel=5,
            )
        elif not run.incremental and stopped is None:
            # max_iter ran out. Spending max_time is the end the user asked for, not a failure to
            # converge: no warning.
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,
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


# --------------------------------------------------------------------------------------------------


def _adam(params, lr):
    """Adam over ``params`` (tensors or param groups), one fused kernel where the device has one.

    Fused: about a third of a small network's step on CPU, a tenth of the ladder's.
    """
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # devices/dtypes without a fused Adam
        return torch.optim.Adam(params, lr=lr)


@dataclass
class _Run:
    """The state of one call's training epochs, handed from step to step of the engine's loop."""

    module: torch.nn.Module
    rows: _Rows
    targets: object
    train_index: object
    val_index: object
    n_train: int
    device: torch.device
    cpu_gen: torch.Generator
    gen: torch.Generator
    incremental: bool
    optimizer: torch.optim.Optimizer
    batch_size: int
    n_batches: int
    extension: object = None  # what _batch_extension returned: rows appended to every step, or None
    autocast: object = None
    schedule: StepSchedule = None
    loss_scale: float = 1.0
    tol: float = 0.0
    epoch_bar: object = None
    batch_bars: bool = False
    say: object = print
    last_good: dict = None
    best_state: dict = None
    checkpoint: tuple = None
    epoch_start_time: float = 0.0


def _bind_generator(module, generator):
    """Point every submodule that draws random numbers (dropout) at ``generator``."""
    for m in module.modules():
        if hasattr(m, "generator"):
            m.generator = generator


def _all_finite(module):
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


