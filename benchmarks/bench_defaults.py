"""Defaults on scikit-learn's bundled tabular data, as loaded (unscaled): each skae estimator against the
linear model a user would otherwise pick, measured in the same run.

- Reconstruction R² (variance-weighted, ``1 - SSE / SST`` over all features, in the data's units) on
  held-out rows, at K = 2 and 5: PCA vs Autoencoder, SparseAutoencoder, DenoisingAutoencoder,
  ContractiveAutoencoder, each with its defaults but ``n_components``. Targets: Autoencoder ≥ 99 % of
  PCA's R², every estimator ≥ 90 % of PCA's.
- Held-out log-likelihood per sample (nats): VAE (``log_likelihood``, importance-weighted) vs
  probabilistic PCA (``PCA.score``) and ``FactorAnalysis.score``. Target: VAE ≥ FactorAnalysis − 1.

Each figure is the mean over ``--folds`` folds of a shuffled KFold (every row is held out once), so no
split is chosen; ``random_state=fold`` for the networks.

    python benchmarks/bench_defaults.py
"""

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's skae
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import parser, record, table  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine  # noqa: E402
from sklearn.decomposition import PCA, FactorAnalysis  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from skae import VAE, Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder, SparseAutoencoder  # noqa: E402

DATASETS = {"breast_cancer": load_breast_cancer, "wine": load_wine, "diabetes": load_diabetes}
RECONSTRUCTORS = [Autoencoder, SparseAutoencoder, DenoisingAutoencoder, ContractiveAutoencoder]


def r2(X, R):
    """Variance-weighted R² of the reconstruction R of X (one number over all features)."""
    X = X.astype(np.float64)
    return 1.0 - ((X - R) ** 2).sum() / ((X - X.mean(axis=0)) ** 2).sum()


def folds(X, n_folds):
    return KFold(n_folds, shuffle=True, random_state=0).split(X)


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--ks", type=int, nargs="+", default=[2, 5])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = p.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    r2_rows, ll_rows, misses = [], [], []
    start_all = time.perf_counter()
    for name in args.datasets:
        X = DATASETS[name]().data.astype(np.float32)
        for K in args.ks:
            scores = {"PCA": []} | {cls.__name__: [] for cls in RECONSTRUCTORS}
            seconds = dict.fromkeys(scores, 0.0)
            lls = {"PPCA (PCA.score)": [], "FactorAnalysis": [], "VAE": []}
            ll_seconds = dict.fromkeys(lls, 0.0)
            for fold, (train, test) in enumerate(folds(X, args.folds)):
                t = time.perf_counter()
                pca = PCA(K).fit(X[train])
                seconds["PCA"] += time.perf_counter() - t
                scores["PCA"].append(r2(X[test], pca.inverse_transform(pca.transform(X[test]))))
                for cls in RECONSTRUCTORS:
                    t = time.perf_counter()
                    est = cls(n_components=K, random_state=fold).fit(X[train])
                    seconds[cls.__name__] += time.perf_counter() - t
                    scores[cls.__name__].append(r2(X[test], est.inverse_transform(est.transform(X[test]))))
                t = time.perf_counter()
                ppca = PCA(K).fit(X[train])
                ll_seconds["PPCA (PCA.score)"] += time.perf_counter() - t
                lls["PPCA (PCA.score)"].append(ppca.score(X[test]))
                t = time.perf_counter()
                fa = FactorAnalysis(K, random_state=fold).fit(X[train])
                ll_seconds["FactorAnalysis"] += time.perf_counter() - t
                lls["FactorAnalysis"].append(fa.score(X[test]))
                t = time.perf_counter()
                vae = VAE(n_components=K, random_state=fold).fit(X[train])
                ll_seconds["VAE"] += time.perf_counter() - t
                lls["VAE"].append(float(np.mean(vae.log_likelihood(X[test], n_importance_samples=500),
                                                dtype=np.float64)))
            pca_r2 = np.mean(scores["PCA"])
            for est_name, vals in scores.items():
                ratio = np.mean(vals) / pca_r2
                floor = 0.99 if est_name == "Autoencoder" else 0.90
                verdict = "" if est_name == "PCA" else ("met" if ratio >= floor else "MISSED")
                if verdict == "MISSED":
                    misses.append(f"{name} K={K} {est_name} R² ratio {ratio:.3f} < {floor}")
                target = f"≥ {floor:.2f}: {verdict}" if verdict else ""
                r2_rows.append([name, K, est_name, f"{np.mean(vals):.4f}", f"{ratio:.3f}", target,
                                f"{seconds[est_name] / args.folds:.2f}"])
            fa_ll = np.mean(lls["FactorAnalysis"])
            for est_name, vals in lls.items():
                verdict = ""
                if est_name == "VAE":
                    verdict = "met" if np.mean(vals) >= fa_ll - 1 else "MISSED"
                    if verdict == "MISSED":
                        misses.append(f"{name} K={K} VAE log-likelihood {np.mean(vals):.2f} < FA {fa_ll:.2f} - 1")
                ll_rows.append([name, K, est_name, f"{np.mean(vals):.2f}", f"{np.std(vals):.2f}",
                                f"≥ FA − 1: {verdict}" if verdict else "", f"{ll_seconds[est_name] / args.folds:.2f}"])
            print(table(r2_rows[-5:], ["data", "K", "model", "R²", "÷ PCA", "target", "fit s"]), flush=True)
            print(table(ll_rows[-3:], ["data", "K", "model", "nats", "sd", "target", "fit s"]), flush=True)
    body = (
        "Reconstruction R² on held-out rows (variance-weighted, in the data's units; mean over "
        f"{args.folds} folds), defaults except n_components:\n\n"
        + table(r2_rows, ["data", "K", "model", "R²", "÷ PCA", "target", "fit s (mean per fold)"])
        + "\n\nHeld-out log-likelihood per sample (nats; VAE: importance-weighted, 500 draws), defaults "
        "except n_components:\n\n"
        + table(ll_rows, ["data", "K", "model", "nats (mean)", "sd over folds", "target", "fit s (mean per fold)"])
        + f"\n\nWall time {time.perf_counter() - start_all:.0f} s. "
        + ("Misses: " + "; ".join(misses) + "." if misses else "Every target met.")
    )
    record("bench_defaults: skae defaults vs PCA / FactorAnalysis on bundled tabular data, unscaled", body, args)


if __name__ == "__main__":
    main()
