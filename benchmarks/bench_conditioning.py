"""Input conditioning on pixels in [0, 1]: ``conditioning="standard"`` vs ``"center"`` vs ``"none"``.

scikit-learn's 8x8 digits divided by 16 (every pixel in [0, 1], some almost always 0), a stratified
70/30 split per seed. For Autoencoder and SparseAutoencoder at their defaults but ``n_components=16``:

- held-out reconstruction error: squared error summed over the 64 pixels, mean over the test images;
- a LogisticRegression on the codes (fitted on the training codes, scored on the test codes).

PCA(16) and a LogisticRegression on the raw pixels are measured in the same run as the baselines.

    python benchmarks/bench_conditioning.py
"""

import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's skae
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import parser, record, table  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skae import Autoencoder, SparseAutoencoder  # noqa: E402

CONDITIONINGS = ("standard", "center", "none")


def reconstruction_error(X, R):
    return float(np.mean(np.sum((X.astype(np.float64) - R) ** 2, axis=1)))


def accuracy(Z_train, y_train, Z_test, y_test):
    clf = LogisticRegression(max_iter=5000).fit(Z_train, y_train)
    return float(clf.score(Z_test, y_test))


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--n-components", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", ConvergenceWarning)
    load_start = os.getloadavg()[0]
    start_all = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    K = args.n_components
    results = {}  # (model, conditioning) -> list of (error, accuracy, seconds, epochs)

    for seed in range(args.seeds):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        pca = PCA(K, random_state=seed).fit(X_train)
        err = reconstruction_error(X_test, pca.inverse_transform(pca.transform(X_test)))
        acc = accuracy(pca.transform(X_train), y_train, pca.transform(X_test), y_test)
        results.setdefault(("PCA", "-"), []).append((err, acc, float("nan"), 0))
        raw = accuracy(X_train, y_train, X_test, y_test)
        results.setdefault(("raw pixels", "-"), []).append((float("nan"), raw, float("nan"), 0))
        for Estimator in (Autoencoder, SparseAutoencoder):
            for conditioning in CONDITIONINGS:
                est = Estimator(n_components=K, conditioning=conditioning, random_state=seed)
                t0 = time.perf_counter()
                est.fit(X_train)
                seconds = time.perf_counter() - t0
                err = reconstruction_error(X_test, est.inverse_transform(est.transform(X_test)))
                acc = accuracy(est.transform(X_train), y_train, est.transform(X_test), y_test)
                results.setdefault((Estimator.__name__, conditioning), []).append((err, acc, seconds, est.n_iter_))
                print(f"seed {seed} {Estimator.__name__:18s} {conditioning:9s} error {err:.3f} "
                      f"accuracy {acc:.4f} ({seconds:.1f}s, {est.n_iter_} epochs)", flush=True)

    rows = []
    for (model, conditioning), runs in results.items():
        runs = np.array(runs)
        err, acc, sec, ep = runs.T
        rows.append([
            model,
            conditioning,
            "-" if np.isnan(err).all() else f"{err.mean():.3f} ± {err.std():.3f}",
            f"{acc.mean():.4f} ± {acc.std():.4f}",
            " ".join(f"{a:.4f}" for a in acc),
            "-" if np.isnan(sec).all() else f"{np.median(sec):.1f}",
            "-" if not ep.any() else f"{np.median(ep):.0f}",
        ])
    body = table(
        rows,
        ["model", "conditioning", "held-out error (sum over pixels)", "LogReg accuracy on codes",
         "accuracy per seed", "fit s (median)", "epochs (median)"],
    )
    notes = (
        f"1 torch thread; load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
        f"(the 2-core machine is shared with other jobs); {(time.perf_counter() - start_all) / 60:.1f} min "
        f"in all; load_digits / 16, stratified 70/30 split per seed (seeds 0..{args.seeds - 1}, also the "
        f"networks' random_state); n_components={K}, other parameters at their defaults; mean ± sd over seeds"
    )
    record("bench_conditioning: input conditioning on pixels in [0, 1]", body, args, notes)


if __name__ == "__main__":
    main()
