"""Shared pieces of the reliability tests: every public estimator, tiny settings, and its outputs.

Estimators are discovered from ``skae.__all__`` (as in ``test_common.py``), so a new estimator is covered
by the persistence, fuzzing, interruption and determinism tests as soon as it is exported.
"""

import hashlib
import inspect
import io
import pickletools
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.datasets import load_digits

import skae
from skae._base import BaseAutoencoder
from skae._integrity import DIGEST_KEY, state_digest

# Tiny and quick: these tests fit many times.
SMALL = {"n_components": 2, "hidden_layer_sizes": (4,), "max_iter": 2, "random_state": 0}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Run a test module with one torch thread, then restore the count.

    Tiny networks gain nothing from intra-op threads, and on a machine shared with other jobs the
    threads' synchronisation makes a 20-sample fit ~15x slower. Import this fixture into a test module
    to use it.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def public_estimators():
    """Every concrete estimator class exported by skae (not HammingIndex, which is no estimator)."""
    return [
        obj
        for obj in (getattr(skae, name) for name in sorted(skae.__all__))
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator) and not inspect.isabstract(obj)
    ]


ESTIMATORS = public_estimators()
IDS = [cls.__name__ for cls in ESTIMATORS]
# The estimators that the training engine fits directly (module_, partial_fit, the engine's pickled
# state). The outlier detector fits a wrapped autoencoder instead; tests of the engine's internals
# (interrupted training, resumed training, surgery on the pickled state) cover that autoencoder as
# itself.
ENGINE_ESTIMATORS = [cls for cls in ESTIMATORS if issubclass(cls, BaseAutoencoder)]
ENGINE_IDS = [cls.__name__ for cls in ENGINE_ESTIMATORS]


def trained(est):
    """The fitted engine estimator behind ``est``: itself, or the autoencoder a detector wraps."""
    return est if isinstance(est, BaseAutoencoder) else est.autoencoder_


def make(cls, **overrides):
    """A small instance of ``cls``; ``overrides`` win. A wrapped autoencoder gets the small settings too."""
    params = cls().get_params(deep=False)
    kwargs = {k: v for k, v in {**SMALL, **overrides}.items() if k in params}
    if "autoencoder" in params and "autoencoder" not in overrides:
        kwargs["autoencoder"] = skae.Autoencoder(**{**SMALL, **{k: v for k, v in overrides.items() if k in SMALL}})
    return cls(**kwargs)


def data(n_samples=60, n_features=16, seed=0):
    """Digits in [0, 1] (valid for every loss and likelihood) and labels with every third one unlabeled."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(seed)
    rows = rng.choice(len(X), n_samples, replace=False)
    cols = np.argsort(-X.var(axis=0))[:n_features]  # informative pixels first
    X = (X[np.ix_(rows, cols)] / 16.0).astype(np.float32)
    y = y[rows].astype(np.int64)
    y[::3] = -1
    return X, y


def fit_kwargs(est, method, y):
    """Arguments besides X for ``fit``/``partial_fit``: y for classifiers, and ``classes`` for
    a classifier's ``partial_fit`` (scikit-learn's convention: required on the first call)."""
    if not is_classifier(est):
        return {}
    kwargs = {"y": y}
    if method == "partial_fit" and "classes" in inspect.signature(est.partial_fit).parameters:
        y = np.asarray(y)
        kwargs["classes"] = np.unique(y[y != -1]) if y.dtype.kind in "iuf" else np.unique(y)
    return kwargs


def fit(est, X, y=None, method="fit"):
    """``est.fit(X[, y])`` (y only for classifiers), ConvergenceWarnings of tiny max_iter silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        return getattr(est, method)(X, **fit_kwargs(est, method, y))


def outputs(est, X, y=None):
    """Every deterministic public output of a fitted estimator on X, by method name."""
    out = {}
    if hasattr(est, "transform"):
        out["transform"] = est.transform(X)
    if hasattr(est, "inverse_transform") and "transform" in out:
        out["inverse_transform"] = est.inverse_transform(out["transform"])
    if hasattr(est, "score_samples"):
        out["score_samples"] = est.score_samples(X)
    for method in ("predict", "decision_function", "predict_proba", "predict_log_proba", "log_likelihood"):
        if hasattr(est, method):
            out[method] = getattr(est, method)(X)
    if hasattr(est, "jacobian"):
        out["jacobian"] = est.jacobian(X[:5])
    if hasattr(est, "tangent_space"):
        out["tangent_directions"], out["tangent_singular_values"] = est.tangent_space(X[:5])
    if hasattr(est, "sample"):
        out["sample"] = est.sample(3, random_state=0)
    if hasattr(est, "score"):
        if is_classifier(est):
            labeled = y != -1 if y is not None else slice(None)
            if y is not None:
                out["score"] = np.float64(est.score(X[labeled], y[labeled]))
        else:
            out["score"] = np.float64(est.score(X))
    return out


def assert_identical(a, b):
    """Bit-identical outputs (same keys, dtypes, shapes and bytes)."""
    assert a.keys() == b.keys()
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert x.dtype == y.dtype and x.shape == y.shape, key
        assert x.tobytes() == y.tobytes(), f"{key} differs"


def digest(out):
    """One hash of every output's dtype, shape and bytes."""
    h = hashlib.sha256()
    for key in sorted(out):
        value = np.ascontiguousarray(out[key])
        h.update(f"{key}:{value.dtype}:{value.shape}".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def pickled_globals(payload):
    """The module names a pickle imports (GLOBAL / STACK_GLOBAL operands)."""
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(io.BytesIO(payload)):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.add(strings[-2])
        elif op.name == "GLOBAL":
            names.add(arg.split(" ")[0])
    return names


def reseal(state):
    """Give a hand-edited saved state the digest of its new contents, as if it had been saved so."""
    state[DIGEST_KEY] = state_digest(state)
    return state


class Canary:
    """A class a tampered file may name: counts how often it was ever built or given a state."""

    built = 0

    def __new__(cls, *args, **kwargs):
        Canary.built += 1
        return super().__new__(cls)

    def __setstate__(self, state):
        Canary.built += 1
