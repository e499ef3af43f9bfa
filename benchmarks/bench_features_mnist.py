"""MNIST test error of LogisticRegression on learned features: each autoencoder vs PCA vs pixels.

Each feature extractor is a ``Pipeline(extractor, LogisticRegression)`` whose extractor
hyperparameters are chosen by ``GridSearchCV`` on one fixed validation split (``PredefinedSplit``:
the last ``--val`` of the ``--rows`` training rows), refitted on all ``--rows`` rows, and scored
on the 10,000 MNIST test images. Sized for a shared 2-core CPU (subset of rows, few epochs), so
the errors are far above the papers' full-data, fine-tuned figures (GUIDE §5: k-sparse features
+ logistic regression ≈ 1.35 % on full MNIST); what this run measures is the comparison between
extractors under one small budget.

    python benchmarks/bench_features_mnist.py [--rows 10000] [--val 2000] [--epochs 5] [--only NAME]
"""

import time
import warnings

import numpy as np
import torch
from _common import load_mnist, parser, record, table
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skae import Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder, SparseAutoencoder


def candidates(epochs):
    arch = dict(n_components=64, hidden_layer_sizes=(256,), max_iter=epochs, random_state=0)
    return [
        ("raw pixels", FunctionTransformer(), {}),
        ("PCA", PCA(random_state=0), {"features__n_components": [32, 64]}),
        ("Autoencoder", Autoencoder(**arch), {"features__alpha": [0.0, 1e-4]}),
        (
            "SparseAutoencoder topk (512 units, 1 layer)",
            SparseAutoencoder(
                sparsity="topk",
                k=25,
                n_components=512,
                hidden_layer_sizes=(),
                max_iter=epochs,
                random_state=0,
            ),
            {"features__k": [25, 50]},
        ),
        (
            "DenoisingAutoencoder masking",
            DenoisingAutoencoder(noise="masking", **arch),
            {"features__noise_level": [0.2, 0.4]},
        ),
        (
            # "auto": the stochastic penalty (one random projection) for this 64-unit code
            "ContractiveAutoencoder (stochastic)",
            ContractiveAutoencoder(**arch),
            {"features__contraction_weight": [1e-3, 1e-2, 1e-1]},
        ),
        (
            "ContractiveAutoencoder (exact)",
            ContractiveAutoencoder(contraction_estimator="exact", **arch),
            {"features__contraction_weight": [1e-3, 1e-2, 1e-1]},
        ),
    ]


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000, help="training rows (train + validation)")
    p.add_argument("--val", type=int, default=2_000, help="validation rows for the grid search")
    p.add_argument("--epochs", type=int, default=5, help="autoencoder epochs (max_iter)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument(
        "--only", action="append", default=None, help="run only the rows whose name starts with this (repeatable)"
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    X, y, X_test, y_test = load_mnist(args.mnist, n_train=args.rows)
    fold = np.r_[np.full(args.rows - args.val, -1), np.zeros(args.val, dtype=int)]

    rows = []
    for name, extractor, grid in candidates(args.epochs):
        if args.only and not any(name.startswith(part) for part in args.only):
            continue
        pipe = Pipeline(
            [
                ("features", extractor),
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(max_iter=300, C=0.1)),
            ]
        )
        start = time.perf_counter()
        search = GridSearchCV(pipe, grid or {"clf__C": [0.1]}, cv=PredefinedSplit(fold))
        search.fit(X, y)
        error = 100 * (1 - search.score(X_test, y_test))
        seconds = time.perf_counter() - start
        chosen = {k.split("__", 1)[1]: v for k, v in search.best_params_.items() if grid}
        val_error = 100 * (1 - search.best_score_)
        rows.append([name, f"{error:.2f}", f"{val_error:.2f}", chosen or "-", f"{seconds:.0f}"])
        print(rows[-1], flush=True)

    body = table(rows, ["features", "test error %", "validation error %", "chosen", "time (s)"]) + (
        f"\n\nTraining rows: first {args.rows} of MNIST train ({args.rows - args.val} fit + "
        f"{args.val} validation for the grid search, then refit on all {args.rows}); test: the "
        f"10,000 MNIST test images. Autoencoders: {args.epochs} epochs, Adam 1e-3, batch 256, "
        "784-256-64 (sparse: one layer, 512 top-k units), MSE on pixels in [0, 1]; features "
        "standardised, then LogisticRegression(C=0.1, max_iter=300). Reference (full data, "
        "GUIDE §5): k-sparse + logistic regression ≈ 1.35 %."
    )
    notes = (
        f"torch threads: {torch.get_num_threads()}. Small budget on a 2-core machine shared with "
        "other jobs during the run; not comparable with the papers' full-data figures."
    )
    record("MNIST features + LogisticRegression (bench_features_mnist.py)", body, args, notes)


if __name__ == "__main__":
    main()
