"""Learning-rate schedules and the time budget (``learning_rate``, ``decay_start``, ``max_time``)."""

import inspect
import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

import skae
import skae._schedule
from skae import Autoencoder, AutoencoderClassifier
from skae._base import BaseAutoencoder
from skae._params import ENGINE_DEFAULT_OVERRIDES
from skae._schedule import PLATEAU_FACTOR, decay_factor

X = (load_digits().data[:200] / 16.0).astype(np.float32)
Y = load_digits().target[:200]
# 200 rows in batches of 50: 4 optimizer steps per epoch.
SMALL = dict(n_components=4, hidden_layer_sizes=(16,), batch_size=50, n_iter_no_change=1000, random_state=0)
LR = 1e-2


def record_lr(est):
    """The step size of every optimizer step of ``est``'s fits, appended to the returned list."""
    lrs = []
    make = est._new_optimizer

    def recording(module):
        optimizer = make(module)
        step = optimizer.step

        def recorded_step(*args, **kwargs):
            lrs.append(optimizer.param_groups[0]["lr"])
            assert all(g["lr"] == lrs[-1] for g in optimizer.param_groups)
            return step(*args, **kwargs)

        optimizer.step = recorded_step
        return optimizer

    est._new_optimizer = recording
    return lrs


def fit_quietly(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args)


def test_constant_is_the_default_and_keeps_the_step():
    ae = Autoencoder(**SMALL, max_iter=3, learning_rate_init=LR)
    assert ae.learning_rate == "constant" and ae.decay_start == 0.0 and ae.max_time is None
    lrs = record_lr(ae)
    fit_quietly(ae, X)
    assert lrs == [LR] * 12


def test_linear_decay_reaches_zero_at_max_iter():
    ae = Autoencoder(**SMALL, max_iter=5, learning_rate="linear_decay", learning_rate_init=LR)
    lrs = record_lr(ae)
    fit_quietly(ae, X)
    steps = 5 * 4
    assert len(lrs) == steps
    # Step k runs at LR * (1 - k / steps): the first at LR, the last one step away from 0.
    np.testing.assert_allclose(lrs, LR * (1 - np.arange(steps) / steps), rtol=1e-12)
    assert lrs[-1] == pytest.approx(LR / steps)


def test_cosine_with_decay_start():
    ae = Autoencoder(**SMALL, max_iter=5, learning_rate="cosine", decay_start=0.5, learning_rate_init=LR)
    lrs = record_lr(ae)
    fit_quietly(ae, X)
    lrs = np.array(lrs)
    fraction = np.arange(20) / 20
    # Constant for the first half of the budget, then half a cosine down to 0.
    assert np.all(lrs[fraction <= 0.5] == LR)
    t = (fraction - 0.5) / 0.5
    expected = np.where(fraction <= 0.5, LR, LR * 0.5 * (1 + np.cos(np.pi * t)))
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert np.all(np.diff(lrs) <= 0) and lrs[-1] < 0.03 * LR


def test_decay_factor_shapes():
    assert decay_factor("linear_decay", 0.3, decay_start=0.4) == 1.0
    assert decay_factor("linear_decay", 0.7, decay_start=0.4) == pytest.approx(0.5)
    assert decay_factor("cosine", 0.25) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert decay_factor("cosine", 1.0) == pytest.approx(0.0)
    assert decay_factor("linear_decay", 1.5) == 0.0  # past the budget: never negative
    assert decay_factor("plateau", 0.9) == decay_factor("constant", 0.9) == 1.0


def test_max_time_stops_a_long_fit_without_a_convergence_warning():
    ae = Autoencoder(**SMALL, max_iter=10_000, max_time=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ae.fit(X)
    # The first step ends past the deadline: one partial epoch of one batch.
    assert ae.n_iter_ == 1 and len(ae.loss_curve_) == 1
    assert ae.t_ == 50
    assert np.isfinite(ae.loss_curve_[0])
    # Reaching max_iter still warns.
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        Autoencoder(**SMALL, max_iter=2, max_time=1e6).fit(X)


class _FakeClock:
    """perf_counter advancing one second per call."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1.0
        return self.now - 1.0


def test_a_time_boxed_linear_decay_reaches_zero_at_the_deadline(monkeypatch):
    monkeypatch.setattr(skae._schedule, "time", _FakeClock())
    ae = Autoencoder(**SMALL, max_iter=10_000, max_time=10.0, learning_rate="linear_decay", learning_rate_init=LR)
    lrs = record_lr(ae)
    ae.fit(X)
    # The clock reads 1 s more after each step: ten steps, the k-th at LR * (1 - k / 10).
    assert len(lrs) == 10 and ae.n_iter_ == 3  # epochs of 4, 4 and 2 steps
    np.testing.assert_allclose(lrs, LR * (1 - np.arange(10) / 10), rtol=1e-12)
    assert ae.t_ == 10 * 50


def test_plateau_divides_the_step_then_stops():
    # tol=1 (relative to the data's variance) is never met after the first epoch: every epoch is a
    # non-improving one, so a plateau is declared every n_iter_no_change + 1 epochs.
    params = dict(SMALL, n_iter_no_change=1, tol=1.0, max_iter=100, learning_rate_init=LR)
    constant = Autoencoder(**params).fit(X)
    assert constant.n_iter_ == 3  # stopped at the first plateau

    ae = Autoencoder(**params, learning_rate="plateau")
    lrs = record_lr(ae)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # it stops as converged
        ae.fit(X)
    levels = LR / PLATEAU_FACTOR ** np.arange(5)
    np.testing.assert_allclose(sorted(set(lrs), reverse=True), levels, rtol=1e-12)
    assert np.all(np.diff(lrs) <= 0)
    # 3 epochs at LR, 2 at each lower step size, then the fifth plateau stops: 11 epochs.
    assert ae.n_iter_ == 11 < params["max_iter"]
    assert len(lrs) == 11 * 4


def test_plateau_on_the_validation_score():
    params = dict(SMALL, n_iter_no_change=1, tol=1.0, max_iter=100, learning_rate_init=LR, early_stopping=True)
    ae = Autoencoder(**params, learning_rate="plateau")
    lrs = record_lr(ae)
    ae.fit(X)
    assert len(set(lrs)) == 5 and ae.n_iter_ == len(ae.validation_scores_) < 100


@pytest.mark.parametrize(
    "params",
    [
        {"learning_rate": "adaptive"},
        {"learning_rate": "invscaling"},
        {"decay_start": 1.0},
        {"decay_start": -0.1},
        {"max_time": 0},
        {"max_time": -1.0},
        {"max_time": "1s"},
    ],
)
@pytest.mark.parametrize("Estimator", [Autoencoder, AutoencoderClassifier])
def test_invalid_schedule_parameters(Estimator, params):
    est = Estimator(max_iter=1, **params)
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        est.fit(X, Y)


def test_every_estimator_takes_the_schedule_parameters():
    estimators = [getattr(skae, name) for name in skae.__all__]
    estimators = [
        E for E in estimators if isinstance(E, type) and issubclass(E, BaseAutoencoder) and E is not BaseAutoencoder
    ]
    assert len(estimators) >= 8
    for Estimator in estimators:
        signature = inspect.signature(Estimator)
        overrides = ENGINE_DEFAULT_OVERRIDES.get(Estimator.__name__, {})
        engine = {"learning_rate": "constant", "decay_start": 0.0, "max_time": None, "conditioning": "standard"}
        for name, default in {**engine, **{k: v for k, v in overrides.items() if k in engine}}.items():
            assert signature.parameters[name].default == default, (Estimator, name)
            assert name in Estimator._parameter_constraints, (Estimator, name)
            assert f"\n    {name} : " in Estimator.__doc__, (Estimator, name)
        assert "[engine-params" not in Estimator.__doc__


def test_schedules_are_deterministic():
    params = dict(SMALL, max_iter=4, learning_rate="cosine", decay_start=0.25)
    a = fit_quietly(Autoencoder(**params), X)
    b = fit_quietly(Autoencoder(**params), X)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    c = fit_quietly(Autoencoder(**dict(params, learning_rate="constant")), X)
    assert c.loss_curve_ != a.loss_curve_  # the schedule does change the fit


def test_warm_start_starts_the_schedule_again():
    ae = Autoencoder(**SMALL, max_iter=2, learning_rate="linear_decay", learning_rate_init=LR, warm_start=True)
    lrs = record_lr(ae)
    fit_quietly(ae, X)
    fit_quietly(ae, X)
    expected = LR * (1 - np.arange(8) / 8)
    np.testing.assert_allclose(lrs, np.r_[expected, expected], rtol=1e-12)
    assert ae.n_iter_ == 4


def test_partial_fit_uses_learning_rate_init():
    ae = Autoencoder(**SMALL, learning_rate="linear_decay", learning_rate_init=LR, max_time=1e-9)
    lrs = record_lr(ae)
    ae.partial_fit(X)
    ae.set_params(learning_rate_init=LR / 2).partial_fit(X)
    # No decay and no time budget: two whole epochs, the second at the new step size.
    assert lrs == [LR] * 4 + [LR / 2] * 4
    assert ae.t_ == 400


def test_classifier_follows_the_schedule():
    y = Y.copy()
    y[50:] = -1
    clf = AutoencoderClassifier(
        Autoencoder(n_components=4, hidden_layer_sizes=(16,)),
        batch_size=50,
        max_iter=3,
        n_iter_no_change=1000,
        learning_rate="linear_decay",
        learning_rate_init=LR,
        random_state=0,
    )
    lrs = record_lr(clf)
    fit_quietly(clf, X, y)
    np.testing.assert_allclose(lrs, LR * (1 - np.arange(12) / 12), rtol=1e-12)
    timed = AutoencoderClassifier(
        Autoencoder(n_components=4, hidden_layer_sizes=(16,)), max_iter=10_000, max_time=1e-9, random_state=0
    ).fit(X, y)
    assert timed.n_iter_ == 1
    assert timed.predict(X[:5]).shape == (5,)


def test_every_parameter_is_documented_once():
    """The shared entries come from skae/_docstrings.py; each estimator's own stay in its docstring."""
    estimators = [getattr(skae, name) for name in skae.__all__]
    estimators = [E for E in estimators if isinstance(E, type) and issubclass(E, BaseAutoencoder)]
    for Estimator in estimators:
        if Estimator is BaseAutoencoder:
            continue
        doc = Estimator.__doc__
        for name in inspect.signature(Estimator).parameters:
            assert doc.count(f"\n    {name} : ") == 1, (Estimator, name)


def test_max_time_counts_the_pretraining(monkeypatch):
    # The clock starts when fit is called: a pretraining that took 100 s (of a fake clock) leaves
    # nothing of a 10 s budget, so the fit stops after its first step (the clock is read after each).
    clock = _FakeClock()
    monkeypatch.setattr(skae._schedule, "time", clock)

    def slow_pretraining(self, rows, generator, device):
        clock.now += 100.0

    monkeypatch.setattr(Autoencoder, "_pretrain", slow_pretraining)
    ae = Autoencoder(**SMALL, max_iter=10_000, max_time=10.0, learning_rate="linear_decay", learning_rate_init=LR)
    lrs = record_lr(ae)
    ae.fit(X)
    assert ae.n_iter_ == 1 and len(lrs) == 1 and ae.t_ == SMALL["batch_size"]
