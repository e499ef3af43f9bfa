"""Training that stops early, for every public estimator: Ctrl-C during fit, and diverging learning rates.

Both end as MLPRegressor's do: a usable model with the weights of the last complete (finite) epoch,
``n_iter_`` and ``loss_curve_`` describing the epochs that counted, and a warning.
"""

import contextlib
import os
import signal
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
import torch.optim.optimizer as optimizer_hooks
from _reliability import (  # noqa: F401
    ENGINE_ESTIMATORS,
    ENGINE_IDS,
    assert_identical,
    data,
    fit,
    fit_kwargs,
    make,
    one_torch_thread,
    outputs,
)
from sklearn.exceptions import ConvergenceWarning

from skae._training import Loss

X, Y = data(n_samples=60)
BATCHES_PER_EPOCH = 3
# A constant step (every estimator's default but the map's): an interrupted fit of 5 epochs is then the
# same as a fit of fewer, which a schedule decaying over max_iter would not be.
SETTINGS = {"batch_size": 20, "max_iter": 5, "n_iter_no_change": 100, "learning_rate": "constant"}


def _small(cls, **params):
    est = make(cls, **{**SETTINGS, **params})
    if "autoencoder" in est.get_params(deep=False):  # the wrapped autoencoder's own settings
        est.set_params(**{f"autoencoder__{k}": v for k, v in params.items() if k in est.autoencoder.get_params()})
    return est


def _failing_on(est, call, failure):
    """Make ``est``'s ``call``-th training batch (1-based) fail with ``failure(loss)``."""
    original = est._loss
    count = {"n": 0}

    def batch_loss(*args, **kwargs):
        count["n"] += 1
        loss = original(*args, **kwargs)
        return Loss(failure(loss.value), loss.code) if count["n"] == call else loss

    est._loss = batch_loss  # an instance attribute: the engine calls self._loss
    return est


def _interrupt(loss):
    raise KeyboardInterrupt


def _nan(loss):
    return loss * float("nan")


def _train(est, method="fit"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(est, method)(X, **fit_kwargs(est, method, Y))
    return caught


def _finite_weights(est):
    return all(bool(torch.isfinite(p).all()) for p in est.module_.parameters())


def _reference(cls, epochs, **params):
    """The same model trained, uninterrupted, for ``epochs`` epochs (0: its initial weights)."""
    if epochs == 0:  # stopped in the first batch: the initial weights
        return fit(_failing_on(_small(cls, **params), 1, _interrupt), X, Y)
    return fit(_small(cls, max_iter=epochs, **params), X, Y)


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
@pytest.mark.parametrize("epoch", [0, 2])
def test_keyboard_interrupt_keeps_the_last_complete_epoch(cls, epoch):
    call = epoch * BATCHES_PER_EPOCH + 2  # the second batch of the epoch after `epoch` complete ones
    est = _failing_on(_small(cls), call, _interrupt)
    caught = _train(est)  # returns: the interrupt does not propagate
    messages = [str(w.message) for w in caught]
    assert any("interrupted" in m for m in messages), messages
    assert not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert est.n_iter_ == epoch and len(est.loss_curve_) == epoch
    assert _finite_weights(est) and not est.module_.training
    assert_identical(outputs(est, X, Y), outputs(_reference(cls, epoch), X, Y))
    # Still a model: training goes on from there.
    del est._loss
    fit(est, X, Y, method="partial_fit")
    assert est.n_iter_ == epoch + 1


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
def test_keyboard_interrupt_with_early_stopping_keeps_the_best_epoch(cls):
    # 54 training rows after the 10% validation split: still 3 batches of 20 per epoch.
    est = _failing_on(_small(cls, early_stopping=True), 3 * BATCHES_PER_EPOCH + 2, _interrupt)
    assert any("interrupted" in str(w.message) for w in _train(est))
    assert est.n_iter_ == 3 and len(est.validation_scores_) == 3
    assert est.best_validation_score_ == max(est.validation_scores_)
    # The weights of the best validation epoch so far, as an uninterrupted 3-epoch fit restores them.
    assert_identical(outputs(est, X, Y), outputs(_reference(cls, 3, early_stopping=True), X, Y))


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
def test_keyboard_interrupt_in_partial_fit(cls):
    est = fit(_small(cls), X, Y, method="partial_fit")
    before = outputs(est, X, Y)
    caught = _train(_failing_on(est, 2, _interrupt), method="partial_fit")
    assert any("interrupted" in str(w.message) for w in caught)
    assert est.n_iter_ == 1
    assert_identical(outputs(est, X, Y), before)


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
@pytest.mark.parametrize("epoch", [0, 2])
def test_non_finite_loss_restores_the_last_finite_epoch(cls, epoch):
    est = _failing_on(_small(cls), epoch * BATCHES_PER_EPOCH + 2, _nan)
    caught = _train(est)
    diverged = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(diverged) == 1 and "learning_rate_init" in str(diverged[0].message)
    assert est.n_iter_ == epoch and all(np.isfinite(est.loss_curve_))
    assert est.t_ == _reference(cls, epoch).t_  # the rolled-back epoch's rows are not counted
    assert _finite_weights(est)
    assert_identical(outputs(est, X, Y), outputs(_reference(cls, epoch), X, Y))


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
def test_learning_rate_that_blows_up(cls):
    # The network standardises its input, so large inputs alone no longer blow it up: a huge step does.
    est = _small(cls, learning_rate_init=1e30, max_iter=20)
    with pytest.warns(ConvergenceWarning, match=r"diverged.*learning_rate_init"):
        est.fit(X * 1e5, **fit_kwargs(est, "fit", Y))
    assert _finite_weights(est)
    assert est.n_iter_ == len(est.loss_curve_) < 20 and all(np.isfinite(est.loss_curve_))
    for name, value in outputs(est, X, Y).items():
        if np.asarray(value).dtype.kind == "f":
            assert np.isfinite(value).all(), name
    # A sane step size then trains normally.
    est.set_params(learning_rate_init=1e-3)
    fit(est, X, Y)
    assert _finite_weights(est) and est.n_iter_ >= 1


# ------------------------------------------------------------------ a real Ctrl-C (SIGINT)

CHUNK = 40  # two batches of 20 per partial_fit call


@contextlib.contextmanager
def _sigint_at(cls, step, where):
    """Send this process a real SIGINT during training step ``step`` (1-based, counted over every
    optimizer): while computing the loss, just before the optimizer step, or just after it."""
    count = {"n": 0}
    original = cls._loss

    def fire():
        count["n"] += 1
        if count["n"] == step:
            os.kill(os.getpid(), signal.SIGINT)  # Python's own handler raises KeyboardInterrupt

    def batch_loss(self, *args, **kwargs):
        loss = original(self, *args, **kwargs)
        if where == "loss":
            fire()
        return loss

    handles = []
    if where == "before_step":
        handles.append(optimizer_hooks.register_optimizer_step_pre_hook(lambda *a: fire()))
    elif where == "after_step":
        handles.append(optimizer_hooks.register_optimizer_step_post_hook(lambda *a: fire()))
    # Python's own handler, as in an interactive session: a process started in the background (nohup,
    # `cmd &` in a script) inherits SIGINT ignored, and a real Ctrl-C would then never arrive.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with mock.patch.object(cls, "_loss", batch_loss):
            yield count
    finally:
        signal.signal(signal.SIGINT, previous)
        for handle in handles:
            handle.remove()


def _state(est):
    """Everything that decides the next step: outputs, counters, the optimizer's moments."""
    opt = est._optimizer.state_dict()["state"] if est._optimizer is not None else {}
    moments = {f"{i}.{k}": np.asarray(v) for i, s in opt.items() for k, v in s.items()}
    return {**outputs(est, X, Y), **moments, "n_iter_": np.int64(est.n_iter_), "t_": np.int64(est.t_),
            "loss_curve_": np.asarray(est.loss_curve_)}


def _partial_fit(est, i, quiet=True):
    rows = slice(i * CHUNK % len(X), i * CHUNK % len(X) + CHUNK)
    kwargs = fit_kwargs(est, "partial_fit", Y)  # a classifier's classes: those of all the data
    if "y" in kwargs:
        kwargs["y"] = Y[rows]
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        return est.partial_fit(X[rows], **kwargs)


WHERE = ["loss", "before_step", "after_step"]


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
@pytest.mark.parametrize("where", WHERE)
def test_sigint_in_a_partial_fit_loop_undoes_only_the_interrupted_call(cls, where):
    est, reference = _small(cls), _small(cls)
    for i in range(2):
        _partial_fit(est, i)
        _partial_fit(reference, i)
    after_two = _state(reference)
    with _sigint_at(cls, 2, where), warnings.catch_warnings(record=True) as caught:  # its second batch
        warnings.simplefilter("always")
        _partial_fit(est, 2, quiet=False)
    assert any("interrupted" in str(w.message) for w in caught)
    # As it was before the call: weights, Adam's moments and step counts, counters, generator.
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    assert_identical(_state(est), after_two)
    # The user's loop goes on (the chunk again, then the next) exactly as if never interrupted.
    for i in (2, 3):
        _partial_fit(est, i)
        _partial_fit(reference, i)
    assert_identical(_state(est), _state(reference))


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
@pytest.mark.parametrize("where", WHERE)
def test_sigint_in_fit_keeps_the_last_complete_epoch(cls, where):
    est = _small(cls)
    with _sigint_at(cls, 2 * BATCHES_PER_EPOCH + 2, where), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, **fit_kwargs(est, "fit", Y))  # returns: Ctrl-C stops training, as in MLPRegressor
    assert any("interrupted" in str(w.message) for w in caught)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2 and est.t_ == 2 * len(X)
    reference = fit(_small(cls, max_iter=2), X, Y)
    assert_identical(_state(est), _state(reference))
    # Training resumes from there as from an uninterrupted two-epoch fit.
    fit(est, X, Y, method="partial_fit")
    fit(reference, X, Y, method="partial_fit")
    assert_identical(_state(est), _state(reference))
