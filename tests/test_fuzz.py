"""Bad input, every public estimator, every public method.

Each call ends either in finite outputs of the right shape, or in a ValueError/TypeError raised by skae
or scikit-learn (not from inside torch) whose message names the problem. The caller's input is never
modified. A fixed grid covers each kind of bad input with the message it must give; hypothesis then
throws random dtypes, shapes, layouts and values at every method.
"""

import copy
import os
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _reliability import ESTIMATORS, IDS, data, fit, fit_kwargs, make, one_torch_thread, trained  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import is_classifier

N_FEATURES = 8
X_GOOD, Y_GOOD = data(n_samples=20, n_features=N_FEATURES)

X_METHODS = [
    "fit",
    "partial_fit",
    "transform",
    "score_samples",
    "score",
    "predict",
    "decision_function",
    "predict_proba",
    "predict_log_proba",
    "log_likelihood",
    "jacobian",
    "tangent_space",
]
METHODS = [*X_METHODS, "inverse_transform"]


@pytest.fixture(scope="module")
def fitted():
    return {cls: fit(make(cls), X_GOOD, Y_GOOD) for cls in ESTIMATORS}


# ------------------------------------------------------------------------------------------ oracle


def _n_rows(X):
    shape = getattr(X, "shape", None)
    if shape is not None:
        return shape[0] if len(shape) else None
    return len(X) if isinstance(X, list) else None


def _labels(X):
    """Valid labels for as many rows as X appears to have (classifiers only)."""
    n = _n_rows(X)
    return np.arange(n if n is not None else len(Y_GOOD)) % 3


def _innermost_file(exc):
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename


def _same(a, b):
    """Same values, dtypes and layout (ignoring scipy's cached flags, which copies drop)."""
    if sp.issparse(a):
        ca, cb = a.tocoo(), b.tocoo()
        return (
            a.format == b.format
            and a.dtype == b.dtype
            and a.shape == b.shape
            and all(np.array_equal(getattr(ca, k), getattr(cb, k), equal_nan=True) for k in ("row", "col", "data"))
        )
    if isinstance(a, pd.DataFrame):
        return a.equals(b)
    return pickle.dumps(a) == pickle.dumps(b)


def _call(est, method, X):
    """Call ``method`` on (a fitted or fresh) ``est``; returns its output."""
    y = _labels(X) if is_classifier(est) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feature-name notes; convergence/divergence warnings
        if method in ("fit", "partial_fit"):
            return getattr(est, method)(X, **fit_kwargs(est, method, y))
        if method == "score" and y is not None:
            return est.score(X, y)
        return getattr(est, method)(X)


def _expected_shape(est, method, n):
    k = getattr(est, "n_components", None)  # an outlier detector has no code
    return {
        "transform": (n, k),
        "inverse_transform": (n, est.n_features_in_),
        "score_samples": (n,),
        "score": (),
        "predict": (n,),
        "decision_function": (n,),
        "predict_proba": (n, len(getattr(est, "classes_", ()))),
        "predict_log_proba": (n, len(getattr(est, "classes_", ()))),
        "log_likelihood": (n,),
        "jacobian": (n, k, est.n_features_in_),
        # (directions, singular values), all min(K, n_features) of them by default
        "tangent_space": (
            (n, min(k or 0, est.n_features_in_), est.n_features_in_),
            (n, min(k or 0, est.n_features_in_)),
        ),
    }[method]


# A call that may end either way: in valid outputs, or in an error whose message says ``match``.
EITHER = "either"


def check_call(est, method, X, must_fail=EITHER, match=None):
    """Run one call and check the contract: ``must_fail`` True (it must refuse X), False (it must
    accept it) or EITHER. Returns the exception raised, if any."""
    before = copy.deepcopy(X)
    writeable = X.flags.writeable if isinstance(X, np.ndarray) else None
    try:
        out = _call(est, method, X)
    except (ValueError, TypeError) as exc:
        where = _innermost_file(exc)
        assert f"{os.sep}torch{os.sep}" not in where, f"{method}: error from inside torch ({where}): {exc!r}"
        assert len(str(exc)) > 15, f"{method}: unhelpful message {exc!r}"
        if match is not None:
            assert re.search(match, str(exc)), f"{method}: message {str(exc)!r} does not match {match!r}"
        assert must_fail is not False, f"{method} refused input it must accept: {exc!r}"
        result = exc
    else:
        assert must_fail is not True, f"{method} accepted input it must refuse"
        if method in ("fit", "partial_fit"):
            assert out is est
            assert all(bool(torch.isfinite(p).all()) for p in trained(est).module_.parameters())
        else:
            expected = _expected_shape(est, method, _n_rows(X))
            outs, shapes = (out, expected) if method == "tangent_space" else ((out,), (expected,))
            for out, shape in zip(outs, shapes, strict=True):
                out = np.asarray(out)
                assert out.shape == shape, (method, out.shape)
                if out.dtype.kind == "f":
                    assert np.isfinite(out).all(), f"{method} returned non-finite values"
        result = None
    assert _same(X, before), f"{method} modified the caller's input"
    if writeable is not None:
        assert X.flags.writeable == writeable
    return result


def _target(cls, method, fitted):
    # Inference methods leave the fitted model alone, so it is shared; fits get a fresh one.
    return make(cls) if method in ("fit", "partial_fit") else fitted[cls]


# ------------------------------------------------------------------------------------------ the grid


def _with(X, i, j, value):
    X = X.astype(np.float64)
    X[i, j] = value
    return X


def _uint64_large(X):
    # abs: inverse_transform's input (codes) has negative entries, which a cast to uint64 cannot hold.
    return (np.abs(X) * 2**62).astype(np.uint64)


def _readonly(X):
    X = X.copy()
    X.setflags(write=False)
    return X


def _pandas_mixed(X):
    """A frame whose columns cycle through float64, float32, int64 and bool."""
    kinds = [
        lambda c: c.astype(np.float64),
        lambda c: c.astype(np.float32),
        lambda c: (c * 10).astype(np.int64),
        lambda c: c > 0.5,
    ]
    return pd.DataFrame({f"c{j}": kinds[j % 4](X[:, j]) for j in range(X.shape[1])})


def _pandas_string(X):
    df = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    df["c0"] = "a"
    return df


def _pandas_na(X):
    df = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    df["c0"] = pd.array([1] * (len(X) - 1) + [None], dtype="Int64")
    return df


OVERFLOW = r"overflow|too large|infinity"
SPARSE_OK = r"[Ss]parse.*dense"
# Too few rows for a fit: the classifier's labels hold one class, the map's graph has too few neighbours.
FEW_ROWS = r"at least 2 classes|n_neighbors < n_samples"


def _fit_may_refuse(method):
    return EITHER if method in ("fit", "partial_fit") else False


def _codes_may_refuse(method):
    """Sparse rows are data (accepted); sparse codes, inverse_transform's input, may be refused."""
    return EITHER if method == "inverse_transform" else False


# name: (make the input from a valid one; must it fail: True, False, EITHER, None (a fresh fit only may
# accept it) or a function of the method; what the message must say)
CASES = {
    "nan": (lambda X: _with(X, 0, 0, np.nan), True, r"NaN"),
    "+inf": (lambda X: _with(X, 1, 1, np.inf), True, r"infinity"),
    "-inf": (lambda X: _with(X, 2, 0, -np.inf), True, r"infinity"),
    "beyond_float32": (lambda X: _with(X, 0, 1, 1e39), True, OVERFLOW),
    "huge": (lambda X: np.full(X.shape, 1e30), EITHER, OVERFLOW),
    "huge_signs": (lambda X: np.where(X > 0.3, 1e30, -1e30), EITHER, OVERFLOW),
    "tiny": (lambda X: X * 1e-38, False, None),
    "subnormal": (lambda X: np.full(X.shape, 1e-45), False, None),
    "constant_columns": (lambda X: np.full_like(X, 0.5), False, None),
    "zeros": (lambda X: np.zeros_like(X), False, None),
    "object_numeric": (lambda X: X.astype(object), False, None),
    "object_string": (lambda X: np.where(X > 0.5, X, "x").astype(object), True, r"convert|string"),
    "strings": (lambda X: X.astype(str).astype("U5"), False, None),
    "words": (lambda X: np.full(X.shape, "word"), True, r"convert|string"),
    "complex": (lambda X: X + 1j, True, r"[Cc]omplex"),
    "1d": (lambda X: X[:, 0], True, r"2D array"),
    "3d": (lambda X: X[:, :, None], True, r"dim 3"),
    "scalar": (lambda X: np.float64(0.5), True, r"2D array|scalar|array-like"),
    "zero_rows": (lambda X: X[:0], True, r"0 sample"),
    "zero_columns": (lambda X: X[:, :0], True, r"0 feature"),
    "one_row": (lambda X: X[:1], _fit_may_refuse, FEW_ROWS),
    "one_more_feature": (lambda X: np.hstack([X, X[:, :1]]), None, r"features"),
    "one_less_feature": (lambda X: X[:, 1:], None, r"features"),
    "fortran_order": (np.asfortranarray, False, None),
    "strided_view": (lambda X: np.repeat(X, 2, axis=1)[::2, ::2], _fit_may_refuse, FEW_ROWS),
    "read_only": (_readonly, False, None),
    "float16": (lambda X: X.astype(np.float16), False, None),
    "int8": (lambda X: (X * 100).astype(np.int8), False, None),
    "uint64_large": (_uint64_large, EITHER, OVERFLOW),
    "bool": (lambda X: X > 0.5, False, None),
    "list_of_lists": (lambda X: X.tolist(), False, None),
    "ragged_list": (lambda X: [list(r) for r in X[:-1]] + [list(X[-1, :-1])], True, r"inhomogeneous|sequence"),
    "pandas_mixed_dtypes": (_pandas_mixed, False, None),
    "pandas_string_column": (_pandas_string, True, r"convert|string"),
    "pandas_nullable_na": (_pandas_na, True, r"NaN|NA"),
    "csr": (sp.csr_matrix, _codes_may_refuse, SPARSE_OK),
    "csc": (sp.csc_matrix, _codes_may_refuse, SPARSE_OK),
    "coo": (sp.coo_matrix, _codes_may_refuse, SPARSE_OK),
    "csr_array": (sp.csr_array, _codes_may_refuse, SPARSE_OK),
    "csr_nan": (lambda X: sp.csr_matrix(_with(X, 0, 0, np.nan)), True, r"NaN|[Ss]parse.*dense"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_bad_input_grid(cls, case, fitted):
    make_input, must_fail, match = CASES[case]
    for method in METHODS:
        est = _target(cls, method, fitted)
        if not hasattr(est, method):
            continue
        if method == "inverse_transform":
            base = fitted[cls].transform(X_GOOD[:6])
        else:
            base = X_GOOD.copy()
        X = make_input(base)
        fails = must_fail(method) if callable(must_fail) else must_fail
        if must_fail is None:  # a new number of features is fine for a fresh fit only
            fails = method not in ("fit", "partial_fit")
        check_call(est, method, X, must_fail=fails, match=match)


def test_bad_labels():
    for cls in [c for c in ESTIMATORS if is_classifier(make(c))]:
        _check_bad_labels(cls)


def _check_bad_labels(cls):
    for y, match in [
        (Y_GOOD[:-1], r"inconsistent numbers of samples"),
        (np.where(Y_GOOD == -1, np.nan, Y_GOOD), r"NaN|nan"),
        (Y_GOOD.reshape(-1, 2), r"y|shape|1d"),
    ]:
        with pytest.raises((ValueError, TypeError), match=match):
            fit(make(cls), X_GOOD, y)


_SAMPLERS = [cls for cls in ESTIMATORS if hasattr(cls, "sample")]


@pytest.mark.parametrize("cls", _SAMPLERS, ids=[cls.__name__ for cls in _SAMPLERS])
def test_sample_bad_arguments(cls, fitted):
    est = fitted[cls]
    Z = est.sample(4, random_state=0)
    assert Z.shape == (4, est.n_features_in_) and np.isfinite(Z).all()
    for n in (-1, 1.5, "3", None):
        with pytest.raises((ValueError, TypeError), match="n_samples"):
            est.sample(n, random_state=0)
    with pytest.raises(ValueError, match="random_state|RandomState|seed"):
        est.sample(2, random_state="abc")


# ------------------------------------------------------------------------------------------ hypothesis

_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([0.0, 1.0, -1.0, 1e30, -1e30, 1e-30, 3.4e38, 1e39, np.nan, np.inf]),
)
_LAYOUTS = ["as_is", "fortran", "read_only", "strided", "csr", "dataframe", "list"]


@st.composite
def bad_arrays(draw, n_features):
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.bool_, object]))
    ndim = draw(st.sampled_from([2, 2, 2, 2, 1, 3, 0]))
    rows = st.integers(0, 6)
    cols = st.sampled_from([n_features, n_features, n_features, 0, 1, n_features + 1])
    shape = {0: (), 1: (draw(rows),), 2: (draw(rows), draw(cols)), 3: (draw(rows), draw(cols), 2)}[ndim]
    if dtype in (np.float64, np.float32, np.float16, object):
        elements = _FLOATS
    elif dtype is np.int64:
        elements = st.integers(-(2**63), 2**63 - 1)
    else:
        elements = st.booleans()
    with np.errstate(over="ignore", invalid="ignore"):
        X = draw(hnp.arrays(np.float64 if dtype is object else dtype, shape, elements=elements))
        if dtype is object:
            X = X.astype(object)
    layout = draw(st.sampled_from(_LAYOUTS)) if X.ndim == 2 else "as_is"
    if layout == "fortran":
        X = np.asfortranarray(X)
    elif layout == "read_only":
        X.setflags(write=False)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=1)[:, ::2]
    elif layout == "csr" and dtype not in (object, np.float16):
        X = sp.csr_matrix(X)
    elif layout == "dataframe":
        X = pd.DataFrame(X)
    elif layout == "list":
        X = X.tolist()
    return X


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(method=st.sampled_from(METHODS), draw=st.data())
def test_random_bad_input(cls, fitted, method, draw):
    est = _target(cls, method, fitted)
    if not hasattr(est, method):
        return
    n_columns = est.n_components if method == "inverse_transform" else N_FEATURES
    check_call(est, method, draw.draw(bad_arrays(n_columns), label="X"))
