"""2-D maps of MNIST and the digits: NeighborEmbeddingAutoencoder beside PCA, Autoencoder, UMAP and openTSNE.

Sainburg, McInnes & Gentner's (2021) protocol: fit on the first 50,000 MNIST training images; map the
10,000 test images; report the 1-NN and 5-NN accuracy of the test codes (a k-neighbours classifier on
the training codes), scikit-learn's ``trustworthiness`` (k=5) of the first 10,000 training rows' codes,
the reconstruction MSE of the test images decoded from their 2-D codes (pixels in [0, 1], mean over
pixels and images), the fit time and the time to map the 10,000 test images. On the 8x8 digits
(``--dataset digits``) the same measures on a stratified 25 % hold-out (seed 0); trustworthiness on all
training rows.

UMAP (umap-learn) and openTSNE are benchmark-only dependencies (``pip install skae[bench]``); a
method whose package is missing is skipped. openTSNE maps new rows by optimising them against the
fitted map (``TSNEEmbedding.transform``); it has no decoder. UMAP's ``inverse_transform`` is slow
(tens of seconds per 10k rows): ``--umap-inverse`` measures it, otherwise its MSE is left out.

    python benchmarks/bench_visualization.py [--dataset digits|mnist|both] [--rows 50000]
        [--epochs 200] [--minutes 10] [--methods pca,ae,neae,umap,tsne] [--threads 2]
        [--embedding-loss umap|tsne] [--no-record]
"""

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_mnist, parser, record, table  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import trustworthiness  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

from skae import Autoencoder, NeighborEmbeddingAutoencoder  # noqa: E402

METHODS = ("pca", "ae", "neae", "umap", "tsne")


def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def mnist(path, rows):
    X_train, y_train, X_test, y_test = load_mnist(path, n_train=rows)
    return X_train, X_test, y_train, y_test


class _OpenTSNE:
    """openTSNE behind fit / transform (``TSNEEmbedding.transform`` places new rows)."""

    def __init__(self, threads, seed=0):
        from openTSNE import TSNE

        self.tsne = TSNE(n_jobs=threads, random_state=seed, verbose=False)

    def fit(self, X):
        self.embedding_ = self.tsne.fit(X)
        return self

    def transform(self, X):
        return np.asarray(self.embedding_.transform(X))

    def train_codes(self):
        return np.asarray(self.embedding_)


def contenders(which, dataset, epochs, threads, weight, minutes, embedding_loss=None, noise_level=None):
    # ``weight``, ``embedding_loss`` and ``noise_level``: None leaves the estimator's default.
    out = {}
    # Both skae maps: epochs up to ``epochs`` and, on MNIST, a time budget (the decaying step size then
    # reaches zero at whichever ends first).
    common = {"max_iter": epochs, "n_iter_no_change": epochs, "random_state": 0}
    if dataset == "mnist":
        common["max_time"] = 60 * minutes
    if "pca" in which:
        out["PCA"] = PCA(n_components=2, random_state=0)
    if "ae" in which:
        # The plain autoencoder of Sainburg et al.'s comparison: two hidden layers, (256, 128).
        out["Autoencoder (256, 128)"] = Autoencoder(
            n_components=2, hidden_layer_sizes=(256, 128), conditioning="center", **common
        )
    if "neae" in which:
        # The estimator's defaults (its network, five hidden layers of 128, and its training recipe: a step
        # of 3e-3 decaying to 0 over the budget, pixels centred) but for the budget and what is given: the
        # weight, embedding_loss and noise_level only when asked for.
        given = {"embedding_weight": weight, "embedding_loss": embedding_loss, "noise_level": noise_level}
        given = {key: value for key, value in given.items() if value is not None}
        est = NeighborEmbeddingAutoencoder(**given, **common)
        label = "" if weight is None else f", weight {weight:g}"
        label += "" if noise_level is None else f", noise_level {noise_level:g}"
        out[f"NeighborEmbeddingAutoencoder, {est.embedding_loss} loss{label}"] = est
    if "umap" in which:
        try:
            import umap

            out["UMAP (umap-learn)"] = umap.UMAP(random_state=0)
        except ImportError:
            print("umap-learn not installed: UMAP skipped")
    if "tsne" in which:
        try:
            out["t-SNE (openTSNE)"] = _OpenTSNE(threads)
        except ImportError:
            print("openTSNE not installed: t-SNE skipped")
    return out


def evaluate(name, est, X_train, X_test, y_train, y_test, n_trust, umap_inverse):
    start = time.perf_counter()
    est.fit(X_train)
    fit_time = time.perf_counter() - start
    Z_train = (
        est.train_codes()
        if hasattr(est, "train_codes")
        else (est.embedding_ if hasattr(est, "embedding_") else est.transform(X_train))
    )
    start = time.perf_counter()
    Z_test = est.transform(X_test)
    transform_time = time.perf_counter() - start
    accuracy = [KNeighborsClassifier(k).fit(Z_train, y_train).score(Z_test, y_test) for k in (1, 5)]
    trust = trustworthiness(X_train[:n_trust], Z_train[:n_trust], n_neighbors=5)
    mse = "—"
    if hasattr(est, "inverse_transform") and (not name.startswith("UMAP") or umap_inverse):
        start = time.perf_counter()
        decoded = est.inverse_transform(Z_test)
        mse = f"{float(np.mean((decoded - X_test) ** 2)):.4f}"
        if name.startswith("UMAP"):
            mse += f" ({time.perf_counter() - start:.0f} s)"
    epochs_run = f" ({est.n_iter_} epochs)" if hasattr(est, "loss_curve_") else ""
    row = [
        name,
        f"{accuracy[0]:.3f}",
        f"{accuracy[1]:.3f}",
        f"{trust:.3f}",
        mse,
        f"{fit_time:.1f}{epochs_run}",
        f"{transform_time:.3f}",
    ]
    print(row, flush=True)
    return row


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["digits", "mnist", "both"], default="both")
    p.add_argument("--rows", type=int, default=50_000, help="MNIST training images")
    p.add_argument("--epochs", type=int, default=None, help="skae maps' epochs (200; on MNIST --minutes bounds them)")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {METHODS}")
    p.add_argument("--threads", type=int, default=2, help="torch threads (and openTSNE's n_jobs)")
    p.add_argument("--minutes", type=float, default=10.0, help="time budget of each skae map's fit on MNIST")
    p.add_argument(
        "--weight", type=float, default=None, help="the skae map's embedding_weight (default: the estimator's)"
    )
    p.add_argument(
        "--embedding-loss",
        choices=["umap", "tsne"],
        default=None,
        help="the skae map's embedding_loss (default: the estimator's)",
    )
    p.add_argument(
        "--noise-level", type=float, default=None, help="the skae map's noise_level (default: the estimator's)"
    )
    p.add_argument("--umap-inverse", action="store_true", help="measure UMAP's inverse_transform on MNIST")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    which = set(args.methods.split(","))
    datasets = ["digits", "mnist"] if args.dataset == "both" else [args.dataset]
    headers = ["map", "1-NN", "5-NN", "trustworthiness (k=5)", "reconstruction MSE", "fit (s)", "transform test (s)"]
    for dataset in datasets:
        load_before = os.getloadavg()
        if dataset == "digits":
            X_train, X_test, y_train, y_test = digits()
        else:
            X_train, X_test, y_train, y_test = mnist(args.mnist, args.rows)
        epochs = args.epochs or 200
        n_trust = min(10_000, len(X_train))
        rows = [
            evaluate(name, est, X_train, X_test, y_train, y_test, n_trust, args.umap_inverse or dataset == "digits")
            for name, est in contenders(
                which, dataset, epochs, args.threads, args.weight, args.minutes, args.embedding_loss, args.noise_level
            ).items()
        ]
        load_after = os.getloadavg()
        body = table(rows, headers)
        body += (
            f"\n\n{dataset}: {len(X_train)} training rows, {len(X_test)} test rows; skae maps "
            f"{epochs} epochs, random_state=0; trustworthiness on {n_trust} training rows."
        )
        notes = (
            f"{torch.get_num_threads()} torch thread(s); load average {load_before[0]:.1f} at the start and "
            f"{load_after[0]:.1f} at the end (1-minute): on a shared machine the times are inflated; the "
            "accuracies, trustworthiness and MSE of PCA, UMAP and t-SNE do not depend on it, but the skae maps' "
            "do on MNIST, where max_time bounds their fits: a loaded machine runs fewer epochs in the budget."
        )
        record(f"2-D maps of {dataset} (bench_visualization.py)", body, args, notes)


if __name__ == "__main__":
    main()
