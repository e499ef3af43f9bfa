"""Determinism and global state, for every public estimator.

The same ``random_state`` gives bit-identical results across fits and across processes; fitting and
predicting leave every global (numpy's and torch's RNGs, torch's thread count and default dtype, grad
mode) as they were; concurrent inference from several threads equals serial inference.
"""

import json
import os
import random
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from _reliability import (  # noqa: F401
    ESTIMATORS,
    IDS,
    assert_identical,
    data,
    digest,
    fit,
    make,
    one_torch_thread,
    outputs,
    trained,
)
from sklearn.base import is_outlier_detector

X, Y = data()
TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_same_random_state_same_bits(cls):
    a = outputs(fit(make(cls, random_state=7), X, Y), X, Y)
    b = outputs(fit(make(cls, random_state=7), X, Y), X, Y)
    assert_identical(a, b)
    # An instance refitted gives the same bits too, and another seed gives other weights.
    est = make(cls, random_state=7)
    fit(est, X, Y)
    fit(est, X, Y)
    assert_identical(outputs(est, X, Y), a)
    other = outputs(fit(make(cls, random_state=8), X, Y), X, Y)
    key = "transform" if "transform" in a else "score_samples"
    assert not np.array_equal(other[key], a[key])


# Run in a fresh interpreter: fit each estimator and print the digests of its outputs.
_SCRIPT = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from _reliability import ESTIMATORS, data, digest, fit, make, outputs
X, Y = data()
print(json.dumps({c.__name__: digest(outputs(fit(make(c, random_state=7), X, Y), X, Y)) for c in ESTIMATORS}))
"""


def test_same_random_state_same_bits_across_processes():
    # Another interpreter, with another str hashing seed (other set and dict orders), and one torch
    # thread as in this process (see one_torch_thread).
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(TESTS), str(TESTS.parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = {c.__name__: digest(outputs(fit(make(c, random_state=7), X, Y), X, Y)) for c in ESTIMATORS}
    assert theirs == ours


def _global_state():
    return {
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "torch_rng": torch.get_rng_state(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "dtype": torch.get_default_dtype(),
        "grad": torch.is_grad_enabled(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
    }


def _assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key in before:
        a, b = before[key], after[key]
        if key == "numpy":
            assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:], key
        elif key == "torch_rng":
            assert torch.equal(a, b), key
        else:
            assert a == b, key


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("random_state", [0, None])
def test_globals_are_left_alone(cls, random_state):
    np.random.seed(123)
    torch.manual_seed(123)
    random.seed(123)
    before = _global_state()
    est = fit(make(cls, random_state=random_state), X, Y)
    if hasattr(est, "partial_fit"):
        fit(est, X, Y, method="partial_fit")
    out = outputs(est, X, Y)
    if hasattr(est, "sample"):
        est.sample(2, random_state=None)
    _assert_same_state(before, _global_state())
    # float32 outputs, except score (a Python float) and an outlier detector's scores, which
    # scikit-learn's outlier checks require in float64.
    float64 = {"score", "score_samples", "decision_function"} if is_outlier_detector(est) else {"score"}
    assert all(np.asarray(v).dtype != np.float64 for k, v in out.items() if k not in float64)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_float64_default_dtype_is_not_used(cls):
    # A user who set torch's default dtype to float64 still gets the float32 model, the same bits.
    expected = fit(make(cls), X, Y)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        est = fit(make(cls), X, Y)
        assert all(p.dtype == torch.float32 for p in trained(est).module_.parameters())
        # Every public output, not only transform: sampling and scoring draw noise too.
        assert_identical(outputs(est, X, Y), outputs(expected, X, Y))
    finally:
        torch.set_default_dtype(before)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_concurrent_inference_equals_serial(cls):
    est = fit(make(cls), X, Y)
    chunks = [X[i::4] for i in range(4)] * 3  # 12 calls, 4 at a time, on different rows
    serial = [outputs(est, chunk) for chunk in chunks]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ThreadPoolExecutor(max_workers=4) as pool:
            concurrent = list(pool.map(lambda chunk: outputs(est, chunk), chunks))
    for a, b in zip(serial, concurrent):
        assert_identical(a, b)
