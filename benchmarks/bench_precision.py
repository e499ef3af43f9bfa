"""bfloat16 against float32 on MNIST 784-1000-500-250-30 at batch 256: epoch time and test error after the
same number of epochs, trained side by side (epochs alternate) in one process, with the minimal fp32 torch
loop timed in the same rounds as the reference.

Targets (issue: scale out): a bf16 epoch ≤ 0.5× the raw fp32 loop's; test error within 3 % of fp32's.

    python benchmarks/bench_precision.py [--epochs 5] [--rows 60000]
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_mnist, parser, record, table  # noqa: E402
from bench_overhead import RawLoop  # noqa: E402

from skae import Autoencoder  # noqa: E402

HIDDEN, K, BATCH = (1000, 500, 250), 30, 256


def test_error(est, X_test):
    R = est.inverse_transform(est.transform(X_test)).astype(np.float64)
    return float(np.mean(np.sum((X_test - R) ** 2, axis=1)))


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--rows", type=int, default=60000)
    args = p.parse_args()
    X, _, X_test, _ = load_mnist(args.mnist, n_train=args.rows)
    models = {
        prec: Autoencoder(n_components=K, hidden_layer_sizes=HIDDEN, batch_size=BATCH, random_state=0,
                          precision=prec)
        for prec in ("float32", "bfloat16")
    }
    raw = RawLoop(X, HIDDEN, K, BATCH)
    times = {"raw torch fp32": [], "float32": [], "bfloat16": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(args.epochs):
            start = time.perf_counter()
            raw.epoch()
            times["raw torch fp32"].append(time.perf_counter() - start)
            for prec, est in models.items():
                start = time.perf_counter()
                est.partial_fit(X)
                times[prec].append(time.perf_counter() - start)
    ref = np.median(times["raw torch fp32"])
    errors = {prec: test_error(est, X_test) for prec, est in models.items()}
    rows = [["raw torch fp32 loop", f"{ref:.2f}", "1.000", "", ""]]
    for prec in models:
        med = np.median(times[prec])
        rows.append([f"skae precision={prec!r}", f"{med:.2f}", f"{med / ref:.3f}", f"{errors[prec]:.3f}",
                     f"{models[prec].loss_curve_[-1]:.5f}"])
    body = table(rows, ["contender", "median s/epoch", "ratio vs raw fp32", f"test error after {args.epochs} ep",
                        "final train loss"])
    ratio = np.median(times["bfloat16"]) / ref
    rel = errors["bfloat16"] / errors["float32"] - 1
    body += (f"\n\nbf16 epoch ≤ 0.50× raw fp32: {'met' if ratio <= 0.5 else 'MISSED'} ({ratio:.3f}). "
             f"bf16 test error within 3 % of fp32: {'met' if abs(rel) <= 0.03 else 'MISSED'} ({rel:+.1%}).")
    record("bench_precision: bfloat16 vs float32, MNIST 784-1000-500-250-30", body, args,
           notes=f"{len(X)} rows per epoch, batch {BATCH}, {args.epochs} epochs, epochs alternating; "
                 "test error = Σ squared error over 784 pixels, mean over the 10k test images")


if __name__ == "__main__":
    main()
