"""The training loop: one call's state, built once, and the epochs that run on it.

``BaseAutoencoder._fit`` (``skae/_base.py``) validates, initialises and builds a ``TrainingState``;
``TrainingLoop._train`` runs the epochs on it. An epoch is shuffled mini-batches, each one call of
the estimator's ``_loss(module, batch)`` (a ``Loss``) and one optimizer step; after each
epoch, the bookkeeping, the stopping rule and a ``Checkpoint`` that Ctrl-C returns to. Below
them, the optimizer every estimator builds: ``_adam`` over the parameter groups of ``_decayed_split``.
"""

import copy
import math
import time
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ._data import _INFERENCE_BATCH, _Rows, stratified_split
from ._params import weight_decay
from ._persistence import restored_optimizer
from ._progress import Progress, tqdm_available
from ._schedule import StepSchedule
from ._threads import step_threads
from .nn.layers import MLP, TiedMLP

__all__ = ["Batch", "LabeledBatches", "Loss", "TrainingLoop", "TrainingState", "batch_starts", "held_out_batches"]


# The parameters that build a network: its shape, and what its layers compute (the conditioning is
# fitted to the first call's data). A network built with some values cannot run as if built with others.
_ARCHITECTURE = ("n_components", "hidden_layer_sizes", "classifier_hidden_layer_sizes", "tied_weights", "module",
                 "module_params", "activation", "code_activation", "conditioning", "sparsity", "likelihood",
                 "posterior", "likelihood_variance", "binarization")


def _canonical(name, value):
    """A value as compared: layer sizes as a tuple whatever the sequence, an int as one layer, a dict
    in the order of its keys, numpy scalars (a grid's np.str_("relu")) as the Python values they equal."""
    value = value.item() if isinstance(value, np.generic) else value
    if name.endswith("layer_sizes") and isinstance(value, Integral) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, dict):
        return dict(sorted(value.items(), key=lambda item: str(item[0])))
    return tuple(_canonical("", v) for v in value) if isinstance(value, list | tuple | np.ndarray) else value


@dataclass
class Batch:
    """One training step's rows, as ``BaseAutoencoder._loss`` sees them.

    ``X`` holds the clean rows on the compute device; ``generator`` draws the step's noise. The
    classifier's steps carry its targets ``y`` (-1 for unlabeled rows) and end with ``n_extra``
    labeled rows drawn again for the supervised term: an objective that depends on the batch as a
    whole (the ladder's batch normalisation) leaves them out of its statistics and its cost; a
    mean over rows counts them like any other row.
    """

    X: torch.Tensor
    generator: torch.Generator
    y: torch.Tensor = None
    n_extra: int = 0


@dataclass(frozen=True)
class Loss:
    """What ``BaseAutoencoder._loss`` returns: the scalar objective and the batch's code."""

    value: torch.Tensor
    code: torch.Tensor

    def plus(self, term):
        """This loss with ``term`` (a penalty, already weighted) added to its value."""
        return Loss(self.value + term, self.code)


@dataclass
class LabeledBatches:
    """The labeled rows each step of the classifier appends to its mini-batch (``labeled_batch_size``).

    ``size`` rows of ``pool`` per step, cycling through the pool in a fresh random order each time
    it is used up; ``order`` and ``pos`` are where the cycle stands.
    """

    pool: torch.Tensor
    size: int
    order: torch.Tensor = None
    pos: int = 0

    def extend(self, index, generator):
        """The step's row indices: its mini-batch ``index``, then ``size`` labeled rows."""
        parts = [index]
        need = self.size
        while need:
            if self.order is None or self.pos >= self.order.numel():
                self.order, self.pos = self.pool[torch.randperm(self.pool.numel(), generator=generator)], 0
            part = self.order[self.pos : self.pos + need]
            self.pos += part.numel()
            need -= part.numel()
            parts.append(part)
        return torch.cat(parts)


def batch_starts(n, batch_size, merge_small_last=False):
    """The first row of each of an epoch's mini-batches over ``n`` rows, in order.

    Batches of ``batch_size`` rows, the last one with what is left. With ``merge_small_last`` a
    last batch of fewer than ``batch_size / 2`` rows is not a step of its own: its rows join the
    batch before it, so that no step normalises over a handful of rows (batch normalisation's
    moments of 3 rows are noise, and they would move the running averages used at inference).
    """
    starts = list(range(0, n, batch_size))
    if merge_small_last and len(starts) > 1 and 2 * (n - starts[-1]) < batch_size:
        starts.pop()
    return starts


@dataclass
class TrainingData:
    """The rows one call trains on: all of ``rows``, or those of ``train_index`` (early stopping).

    ``targets`` are the classifier's (else None); ``extension`` appends rows to every step (the
    classifier's labeled rows; see ``_batch_extension``) or is None.
    """

    rows: _Rows
    targets: torch.Tensor
    train_index: torch.Tensor
    val_index: torch.Tensor
    extension: LabeledBatches = None

    @property
    def n_train(self):
        return self.rows.n if self.train_index is None else self.train_index.numel()

    def batches(self, order, batch_size, generator, device, merge_small_last=False):
        """Yield each step's ``Batch`` fields ``(X, y, n_extra)`` over the shuffled ``order``.

        ``merge_small_last``: a last batch of fewer than half ``batch_size`` rows joins the one
        before it (see :func:`batch_starts`).
        """
        starts = batch_starts(order.numel(), batch_size, merge_small_last)
        for start, stop in zip(starts, [*starts[1:], order.numel()]):
            index, n_extra = order[start:stop], 0
            if self.extension is not None:
                index, n_extra = self.extension.extend(index, generator), self.extension.size
            xb = self.rows.take(index).to(device, non_blocking=True)
            yb = None if self.targets is None else self.targets[index].to(device, non_blocking=True)
            yield xb, yb, n_extra


@dataclass
class Checkpoint:
    """What Ctrl-C returns to: the weights, optimizer, generator and counters of one moment, whole.

    Taken at the start and after each complete epoch, so that no interrupt leaves them out of
    step. ``weights`` are also what a diverged epoch returns to; ``best_state`` the best validation
    weights so far (early stopping), or None.
    """

    _COUNTERS = ("n_iter_", "t_", "best_loss_", "_no_improvement_count", "best_validation_score_")
    _CURVES = ("loss_curve_", "validation_scores_")

    weights: dict
    optimizer: dict
    rng: torch.Tensor
    counters: dict
    lengths: dict
    best_state: dict = None

    @classmethod
    def take(cls, estimator, state, weights, best_state):
        return cls(
            weights,
            copy.deepcopy(state.optimizer.state_dict()),
            state.cpu_gen.get_state(),
            {k: getattr(estimator, k) for k in cls._COUNTERS},
            {k: len(getattr(estimator, k) or ()) for k in cls._CURVES},
            best_state,
        )

    def restore(self, estimator, state):
        state.module.load_state_dict(self.weights)
        state.optimizer.load_state_dict(self.optimizer)
        state.cpu_gen.set_state(self.rng)
        for key, value in self.counters.items():
            setattr(estimator, key, value)
        for key, n in self.lengths.items():
            if getattr(estimator, key) is not None:
                del getattr(estimator, key)[n:]


@dataclass
class TrainingState:
    """One call's training, built once by ``_fit``: what every epoch reads, and the checkpoint.

    ``cpu_gen`` shuffles and draws the classifier's labeled rows; ``gen`` (the same generator on
    CPU, one seeded from it on an accelerator) draws the noise of the steps. ``tol`` is in the
    user's units (``loss_scale`` times the parameter). ``epoch_bar`` is the progress bar over the
    epochs of a fit or None, ``batch_bars`` whether each epoch shows one over its batches.
    ``threads``: the intra-op threads the epochs run on, in the training thread only (1 for a small
    network, see ``skae/_threads.py``), or None for torch's setting.
    """

    module: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: StepSchedule
    data: TrainingData
    cpu_gen: torch.Generator
    gen: torch.Generator
    autocast: object
    batch_size: int
    max_epochs: int
    incremental: bool
    tol: float
    epoch_bar: Progress = None
    batch_bars: bool = False
    checkpoint: Checkpoint = None
    threads: int = None
    merge_small_last: bool = False
    n_batches: int = 0  # steps of a whole epoch

    def say(self, message):
        """Print a verbose line (through the epoch bar, when there is one)."""
        (self.epoch_bar.write if self.epoch_bar is not None else print)(message)


class TrainingLoop:
    """The engine's training half: ``_hold_out``, ``_training_state`` (built once per call) and ``_train``."""

    # True where the objective normalises over the batch (the ladder): a small last batch of an
    # epoch then joins the one before it (see batch_starts).
    _merge_small_last_batch = False

    def _architecture(self):
        """``{name: value}`` of the parameters that build the network (layer sizes as tuples), the
        output activation as ``"auto"`` resolves it. (A top-k code's ``k`` may change: it anneals.)"""
        # A network of the user's (module=...) takes its own layers: only the code's settings apply.
        ignored = ("hidden_layer_sizes", "tied_weights", "activation") if getattr(self, "module", None) else ()
        built = {name: _canonical(name, getattr(self, name)) for name in _ARCHITECTURE
                 if name in self._parameter_constraints and name not in ignored}
        if "output_activation" in self._parameter_constraints:
            built["output_activation"] = self._output_activation()
        return built

    def _check_network(self, fitted_checked=False):
        """``check_is_fitted`` (unless the caller did), and a clear error where the parameters that
        build the network changed since it was built (``set_params(n_components=...)`` on a fitted
        estimator): its outputs, a ``partial_fit`` and a ``warm_start`` fit need the network it has."""
        if not fitted_checked:
            check_is_fitted(self)
        built = getattr(self, "_built_architecture", None)  # None: pickled before it was recorded
        now = self._architecture() if built else {}
        changed = [name for name in built or () if repr(now.get(name)) != repr(built[name])]
        if changed:
            was = ", ".join(f"{name}={built[name]!r}" for name in changed)
            asked = ", ".join(f"{name}={now.get(name)!r}" for name in changed)
            if "output_activation" in changed and getattr(self, "output_activation", None) == "auto":
                asked += f' (output_activation="auto" follows loss={self.loss!r})'
            raise ValueError(
                f"This {type(self).__name__}'s network was built with {was}, but its parameters now "
                f"say {asked}. Its outputs, partial_fit and a warm_start fit use the network it has: "
                "set the parameters back, or fit anew (warm_start=False) to build the network they ask for."
            )

    def _validation_rows(self, n, early_stopping):
        """How many of ``n`` rows early stopping holds out (0 without it), or a clear error. Checked
        before the network is (re)built, so that a refused fit leaves a fitted model as it was."""
        if not early_stopping:
            return 0
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n < 2:
            raise ValueError(
                f"early_stopping=True needs at least 2 samples to hold out a validation set, "
                f"got n_samples={n}."
            )
        if n - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of n_samples={n} holds out {n_val} "
                "rows, which leaves none to train on: lower validation_fraction."
            )
        return n_val

    def _hold_out(self, n, cpu_gen, n_val, targets=None):
        """``(train_index, val_index)``: the rows early stopping trains and validates on (``n_val``
        held out, from :meth:`_validation_rows`; stratified by ``targets`` where given, as
        MLPClassifier does), or (None, None) without it."""
        if not n_val:
            return None, None
        if targets is not None:
            return stratified_split(targets, n_val, cpu_gen)
        perm = torch.randperm(n, generator=cpu_gen)
        return perm[n_val:], perm[:n_val]

    def _training_state(self, data, cpu_gen, autocast, incremental, started):
        """The state of one call's epochs: optimizer, schedule, generators, progress, checkpoint."""
        module = self.module_
        fresh = self._new_optimizer(module)
        saved, names = getattr(self, "_optimizer_state", None), getattr(self, "_optimizer_names", None)
        if getattr(self, "_optimizer", None) is not None:
            self._optimizer = _with_current_alpha(self._optimizer, fresh)
        elif saved is not None:  # an unpickled model's first partial_fit
            self._optimizer = restored_optimizer(module, saved, names, fresh, self.learning_rate_init)
        else:
            self._optimizer = fresh
        self._optimizer_state = self._optimizer_names = None
        if "dropout" in self._parameter_constraints and getattr(self, "module", None) is None:
            # set_params(dropout=...) between partial_fit calls takes effect: a training-time setting
            # of skae's own layers (a user's module keeps its own).
            for layer in module.modules():
                if isinstance(layer, MLP | TiedMLP):
                    layer.dropout = float(self.dropout)
        # set_params(learning_rate_init=...) between partial_fit calls takes effect (e.g. a decay).
        for group in self._optimizer.param_groups:
            group["lr"] = self.learning_rate_init
            if "alpha" in group:
                # alpha="auto" is 1 / the rows of this call's epochs (a partial_fit call: its own).
                group["weight_decay"] = weight_decay(group["alpha"], data.n_train)
        # Noise and sampling happen on the compute device, from a generator seeded by the CPU one.
        device = self._module_device()
        gen = cpu_gen
        if device.type != "cpu":
            gen = torch.Generator(device=device).manual_seed(int(torch.randint(2**62, (1,), generator=cpu_gen)))

        data.extension = self._batch_extension(data.targets, data.train_index, data.n_train)
        batch_size = self._batch_size(data.n_train)
        n_batches = len(batch_starts(data.n_train, batch_size, self._merge_small_last_batch))
        max_epochs = 1 if incremental else self.max_iter
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
        state = TrainingState(
            module, self._optimizer, schedule, data, cpu_gen, gen, autocast, batch_size, max_epochs, incremental,
            tol=self.tol * self._loss_scale, merge_small_last=self._merge_small_last_batch, n_batches=n_batches,
        )
        # verbose: a line per epoch; with tqdm installed, a bar over the epochs of a fit (a partial_fit
        # call's bar is over its batches); verbose >= 2 adds a bar over the batches of each epoch.
        if self.verbose and not incremental and tqdm_available():
            state.epoch_bar = Progress(max_epochs, type(self).__name__, "epoch", plain=False)
        state.batch_bars = self.verbose >= 2 or (self.verbose and incremental and tqdm_available())
        state.threads = step_threads(module, batch_size)
        _bind_generator(module, gen)
        state.checkpoint = Checkpoint.take(self, state, _snapshot(module), None)
        return state

    def _train(self, state):
        """Epochs of shuffled mini-batches until one says stop, then ``_finish_training``; returns
        why training stopped (None: ``max_iter`` ran out)."""
        module, optimizer, schedule, data = state.module, state.optimizer, state.schedule, state.data
        device = next(module.parameters()).device
        stopped = None
        try:
            for _ in range(state.max_epochs):
                epoch_start_time = time.time()
                module.train()
                n_train = data.n_train
                order = torch.randperm(n_train, generator=state.cpu_gen) if self.shuffle else torch.arange(n_train)
                if data.train_index is not None:
                    order = data.train_index[order]
                batch_losses = []
                out_of_time = False
                batch_bar = (
                    Progress(state.n_batches, f"epoch {self.n_iter_ + 1}", "batches",
                             leave=state.incremental)
                    if state.batch_bars
                    else None
                )
                batches = data.batches(order, state.batch_size, state.cpu_gen, device, state.merge_small_last)
                for xb, yb, n_extra in batches:
                    with state.autocast:
                        loss = self._loss(module, Batch(xb, state.gen, yb, n_extra)).value
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
                stopped = self._end_epoch(state, batch_losses, out_of_time, epoch_start_time)
                if stopped is not None:
                    break
        except KeyboardInterrupt:
            state.checkpoint.restore(self, state)
            stopped = "interrupted"
        finally:
            _bind_generator(module, None)
            if state.epoch_bar is not None:
                state.epoch_bar.close()
        self._finish_training(state, stopped)
        return stopped

    def _end_epoch(self, state, batch_losses, out_of_time, epoch_start_time):
        """The epoch's loss and bookkeeping, and the stopping rule.

        Returns None to go on, or why training stops: "diverged", "max_time" or "converged".
        """
        module, schedule = state.module, state.schedule
        batch_size = state.batch_size
        # Every batch has batch_size rows but the last of a whole epoch, which has the rest (more than
        # batch_size when a small last batch joined it); a max_time epoch may stop before it.
        whole = len(batch_losses) == state.n_batches
        n_seen = state.data.n_train if whole else batch_size * len(batch_losses)
        sizes = torch.full((len(batch_losses),), float(batch_size), dtype=torch.float32)
        sizes[-1] = n_seen - batch_size * (len(batch_losses) - 1)
        epoch_loss = float(torch.stack(batch_losses).float().cpu() @ sizes) / n_seen * self._loss_scale
        if not math.isfinite(epoch_loss) or not _all_finite(module):
            module.load_state_dict(state.checkpoint.weights)
            self._optimizer = None  # its moments are poisoned too
            return "diverged"  # the counters stay those of the weights kept, as n_iter_
        self.t_ += n_seen
        self.n_iter_ += 1
        self.loss_curve_.append(epoch_loss)
        weights = _snapshot(module)
        best_state = state.checkpoint.best_state

        early_stopping = state.data.val_index is not None
        msg = f"Iteration {self.n_iter_}, loss = {epoch_loss:.8f}"
        if early_stopping:
            val_score = self._validation_score(module, state.data.rows, state.data.val_index, state.data.targets)
            self.validation_scores_.append(val_score)
            msg += f", validation score = {val_score:.8f}"
            if val_score < self.best_validation_score_ + state.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if val_score > self.best_validation_score_:
                self.best_validation_score_ = val_score
                best_state = weights
        else:
            if epoch_loss > self.best_loss_ - state.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
        if epoch_loss < self.best_loss_:
            self.best_loss_ = epoch_loss
        if state.epoch_bar is not None:
            state.epoch_bar.update(1, loss=f"{epoch_loss:.4g}")
        if self.verbose:
            state.say(msg + f" ({time.time() - epoch_start_time:.2f}s)")
        state.checkpoint = Checkpoint.take(self, state, weights, best_state)
        if out_of_time:
            if self.verbose:
                state.say(f"max_time={self.max_time:g}s reached after {schedule.steps} steps. Stopping.")
            return "max_time"
        if not state.incremental and self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if early_stopping else "Training loss"
            if schedule.plateau(state.optimizer):
                self._no_improvement_count = 0
                if self.verbose:
                    state.say(
                        f"{what} did not improve more than tol={self.tol} for "
                        f"{self.n_iter_no_change} consecutive epochs. Learning rate set to "
                        f"{schedule.lr():g}."
                    )
                return None
            if self.verbose:
                state.say(
                    f"{what} did not improve more than tol={self.tol} for "
                    f"{self.n_iter_no_change} consecutive epochs. Stopping."
                )
            return "converged"
        return None

    def _finish_training(self, state, stopped):
        """Restore the best validation weights, eval mode, and say how training ended."""
        best_state = state.checkpoint.best_state
        if state.data.val_index is not None and best_state is not None:
            state.module.load_state_dict(best_state)
        state.module.eval()

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
        elif not state.incremental and stopped is None:
            # max_iter ran out. Spending max_time is the end the user asked for, not a failure to
            # converge: no warning.
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,
            )


def held_out_batches(module, rows, index):
    """Yield ``(chunk, batch)`` over the rows ``index`` of ``rows`` (the validation score's loop).

    ``chunk`` holds the batch's row indices, ``batch`` those rows on the module's device; while they
    are consumed the module is in eval mode under ``torch.inference_mode``, and back in training
    mode after the last one.
    """
    module.eval()
    with torch.inference_mode():
        device = next(module.parameters()).device
        for start in range(0, index.numel(), _INFERENCE_BATCH):
            chunk = index[start : start + _INFERENCE_BATCH]
            yield chunk, rows.take(chunk).to(device)
    module.train()


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _bind_generator(module, generator):
    """Point every submodule that draws random numbers (dropout) at ``generator``."""
    for m in module.modules():
        if hasattr(m, "generator"):
            m.generator = generator


def _all_finite(module):
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


def _decayed_split(module):
    """``(decayed, rest)``: the parameters of ``module`` that ``alpha`` decays (its weights), and the others.

    A weight is a parameter whose name ends in "weight" (torch's layers), or one that a submodule
    returns from its ``decayed_parameters()`` method (modules that keep their weights in parameter
    lists, such as the ladder's). Biases, normalisation shifts and scales, and other per-unit
    parameters are not decayed.
    """
    declared = {id(p) for m in module.modules() if hasattr(m, "decayed_parameters") for p in m.decayed_parameters()}
    decay, rest = [], []
    for name, param in module.named_parameters():
        (decay if name.endswith("weight") or id(param) in declared else rest).append(param)
    return decay, rest


def _decay_groups(optimizer):
    """What ``alpha`` decays in ``optimizer``: each group's alpha (None: none) and parameters."""
    return [(group.get("alpha"), [id(p) for p in group["params"]]) for group in optimizer.param_groups]


def _with_current_alpha(optimizer, fresh):
    """``optimizer``, or where ``fresh`` (built from the current parameters) decays other weights by
    another alpha (``set_params(alpha=...)`` between ``partial_fit`` calls), ``fresh`` with the
    moments of ``optimizer``: as scikit-learn's ``partial_fit`` reads ``alpha`` at every call."""
    if _decay_groups(fresh) == _decay_groups(optimizer):
        return optimizer
    for group in fresh.param_groups:
        for p in group["params"]:
            if p in optimizer.state:
                fresh.state[p] = optimizer.state[p]
    return fresh


def _adam(params, lr):
    """Adam over ``params`` (tensors or param groups), one fused kernel where the device has one.

    Fused: about a third of a small network's step on CPU, a tenth of the ladder's.
    """
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # devices/dtypes without a fused Adam
        return torch.optim.Adam(params, lr=lr)
