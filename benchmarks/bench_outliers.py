"""Outlier detection: AutoencoderOutlierDetector beside IsolationForest, LOF, OneClassSVM and pyod's AutoEncoder.

Three one-class-versus-rest problems, each with a contaminated training set and a held-out test set:

- ``mnist``: the training images of one digit plus 5 % images of the other digits (drawn from the
  training set); test: the 10,000 test images, the other digits being the outliers. One run per inlier
  digit (``--digits``), per seed.
- ``digits``: scikit-learn's 8x8 digits, the same protocol: 70 % of one digit's images plus 5 % other
  digits for training; the remaining 30 % and every other digit not used in training for testing.
- ``breast_cancer``: scikit-learn's breast-cancer table (30 features), benign tumours the inliers and
  malignant ones the outliers: 60 % of the benign rows plus 5 % malignant rows for training, the rest
  for testing. Every detector but IsolationForest (insensitive to feature scale) and pyod's (which
  standardises itself) gets a StandardScaler fitted on the training rows.

Every detector runs at its defaults: skae's ``AutoencoderOutlierDetector(random_state=s)`` (an
``Autoencoder`` with a code of min(32, n_features // 2) units and otherwise default parameters), ``IsolationForest``,
``LocalOutlierFactor(novelty=True)``, ``OneClassSVM`` and pyod's ``AutoEncoder`` (where pyod imports).
ROC-AUC ranks each detector's outlier score on the held-out test rows, and, in a second column, on the
training rows themselves (the ``fit_predict`` setting, where the detector has seen the outliers it
ranks); fit time is the wall time of ``fit`` on the training rows, one thread for torch and for BLAS.

    OMP_NUM_THREADS=1 python benchmarks/bench_outliers.py
    OMP_NUM_THREADS=1 python benchmarks/bench_outliers.py --datasets digits breast_cancer --seeds 3
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
from _common import load_mnist, parser, record, table  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.neighbors import LocalOutlierFactor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import OneClassSVM  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skae import AutoencoderOutlierDetector  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)
CONTAMINATION = 0.05

try:
    import pyod
    from pyod.models.auto_encoder import AutoEncoder as PyodAutoEncoder
except ImportError as exc:  # not a skae dependency: the row says why it is missing
    pyod, PyodAutoEncoder, PYOD_ERROR = None, None, f"{type(exc).__name__}: {exc}"
else:
    PYOD_ERROR = None


class _Pyod:
    """pyod's AutoEncoder with scikit-learn's sign convention (higher score_samples = more normal)."""

    def __init__(self, random_state):
        self.model = PyodAutoEncoder(random_state=random_state, verbose=0)

    def fit(self, X):
        self.model.fit(X)
        return self

    def score_samples(self, X):
        return -self.model.decision_function(X)


def detectors(seed, scale):
    """name -> factory, each at its defaults. ``scale``: a StandardScaler first (tabular data)."""

    def scaled(est):
        return make_pipeline(StandardScaler(), est) if scale else est

    out = {
        "skae AutoencoderOutlierDetector": lambda: scaled(AutoencoderOutlierDetector(random_state=seed)),
        "IsolationForest": lambda: IsolationForest(random_state=seed),
        "LocalOutlierFactor(novelty=True)": lambda: scaled(LocalOutlierFactor(novelty=True)),
        "OneClassSVM": lambda: scaled(OneClassSVM()),
    }
    if PyodAutoEncoder is not None:
        out["pyod AutoEncoder"] = lambda: _Pyod(random_state=seed)
    return out


def _split(rng, inliers, outliers, train_fraction):
    """Training rows: ``train_fraction`` of the inliers plus 5 % outliers; test rows: the rest."""
    inliers, outliers = rng.permutation(inliers), rng.permutation(outliers)
    n_train = int(round(train_fraction * len(inliers)))
    n_contaminating = int(round(n_train * CONTAMINATION / (1 - CONTAMINATION)))
    train = np.r_[inliers[:n_train], outliers[:n_contaminating]]
    test = np.r_[inliers[n_train:], outliers[n_contaminating:]]
    return rng.permutation(train), test


def problems(name, args):
    """Yield ``(label, seed, X_train, is_outlier_train, X_test, is_outlier_test, scale)`` for one data set."""
    if name == "mnist":
        X_train, y_train, X_test, y_test = load_mnist(args.mnist)
        for digit in args.digits:
            for seed in range(args.seeds):
                rng = np.random.RandomState(seed)
                inliers = np.flatnonzero(y_train == digit)
                others = rng.choice(
                    np.flatnonzero(y_train != digit),
                    int(round(len(inliers) * CONTAMINATION / (1 - CONTAMINATION))),
                    replace=False,
                )
                rows = rng.permutation(np.r_[inliers, others])
                yield f"digit {digit}", seed, X_train[rows], y_train[rows] != digit, X_test, y_test != digit, False
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        for digit in range(10):
            for seed in range(args.small_seeds):
                train, test = _split(np.random.RandomState(seed), np.flatnonzero(y == digit),
                                     np.flatnonzero(y != digit), 0.7)
                yield f"digit {digit}", seed, X[train], y[train] != digit, X[test], y[test] != digit, False
    elif name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)  # 0 malignant, 1 benign
        for seed in range(args.small_seeds * 5):  # one inlier class: more draws
            train, test = _split(np.random.RandomState(seed), np.flatnonzero(y == 1), np.flatnonzero(y == 0), 0.6)
            yield "benign", seed, X[train], y[train] == 0, X[test], y[test] == 0, True


def training_scores(est, X_train):
    """Scores of the training rows themselves (the fit_predict setting)."""
    last = est[-1] if hasattr(est, "steps") else est
    if isinstance(last, LocalOutlierFactor):
        # With novelty=True, score_samples on the training rows would count each row as its own
        # neighbour; negative_outlier_factor_ is LOF's score of the training rows.
        return last.negative_outlier_factor_
    return est.score_samples(X_train)


def run(dataset, args):
    """Fit every detector on every problem of ``dataset``; returns {detector: [per-run dicts]}."""
    results = {}
    for label, seed, X_train, out_train, X_test, out_test, scale in problems(dataset, args):
        line = []
        for name, make in detectors(seed, scale).items():
            est = make()
            t = time.perf_counter()
            est.fit(X_train)
            fit_s = time.perf_counter() - t
            run_ = {
                "label": label,
                "test": roc_auc_score(out_test, -est.score_samples(X_test)),
                "train": roc_auc_score(out_train, -training_scores(est, X_train)),
                "fit_s": fit_s,
            }
            results.setdefault(name, []).append(run_)
            line.append(f"{name.split()[0]} {run_['test']:.3f}/{run_['train']:.3f}")
        print(f"{dataset} {label} seed {seed} ({len(X_train)} train rows), held-out/training AUC: "
              + ", ".join(line), flush=True)
    return results


def summarise(dataset, results):
    """Table rows and one verdict line for a data set."""
    mean = {name: np.mean([r["test"] for r in runs]) for name, runs in results.items()}
    rows = []
    for name, runs in results.items():
        test = np.array([r["test"] for r in runs])
        rows.append([
            dataset, name, f"{test.mean():.3f}" + (" (best)" if mean[name] == max(mean.values()) else ""),
            f"{test.std():.3f}", f"{test.min():.3f}", f"{np.mean([r['train'] for r in runs]):.3f}",
            f"{np.median([r['fit_s'] for r in runs]):.3g}", len(runs),
        ])
    ours = "skae AutoencoderOutlierDetector"
    others = {name: m for name, m in mean.items() if name != ours}
    rival = max(others, key=others.get)
    n_best = sum(
        all(results[ours][i]["test"] > results[name][i]["test"] for name in others)
        for i in range(len(results[ours]))
    )
    verdict = (
        f"{dataset}: skae {'wins' if mean[ours] > others[rival] else 'loses'} on the mean ({mean[ours]:.3f} "
        f"against the best other, {rival}, {others[rival]:.3f}) and is best in {n_best} of {len(results[ours])} runs"
    )
    if dataset == "mnist":
        per_run = []
        for i, r in enumerate(results[ours]):
            name = max(others, key=lambda n: results[n][i]["test"])
            per_run.append(f"{r['label']} {r['test']:.3f} vs {results[name][i]['test']:.3f} ({name.split('(')[0]})")
        verdict += " (held-out AUC, skae vs the best other: " + "; ".join(per_run) + ")"
    return rows, verdict


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["mnist", "digits", "breast_cancer"],
                   choices=["mnist", "digits", "breast_cancer"])
    p.add_argument("--digits", nargs="+", type=int, default=list(range(10)), help="MNIST inlier digits")
    p.add_argument("--seeds", type=int, default=1, help="MNIST: draws of the contaminating rows per inlier digit")
    p.add_argument("--small-seeds", type=int, default=3, help="digits: draws per inlier digit; breast_cancer: 5x this")
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    start = time.perf_counter()

    rows, verdicts = [], []
    with threadpool_limits(args.threads):
        for dataset in args.datasets:
            more_rows, verdict = summarise(dataset, run(dataset, args))
            rows += more_rows
            verdicts.append(verdict)

    headers = ["data", "detector", "ROC-AUC held-out", "sd", "min", "ROC-AUC training rows", "fit s (median)", "runs"]
    body = table(rows, headers) + "\n\n" + "\n\n".join(f"- {v}." for v in verdicts)
    minutes = (time.perf_counter() - start) / 60
    pyod_note = f"pyod {pyod.__version__}" if pyod is not None else f"pyod not available ({PYOD_ERROR})"
    notes = (
        f"{args.threads} thread(s) for torch and BLAS; load average {load_before[0]:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end (the 2-core machine is shared with other jobs); "
        f"{minutes:.1f} min in all; {pyod_note}; contamination of the training rows {CONTAMINATION:.0%}; "
        f"MNIST inlier digits {args.digits}, {args.seeds} seed(s) per digit; digits {args.small_seeds} seeds per "
        f"digit; breast_cancer {5 * args.small_seeds} draws. 'ROC-AUC training rows' ranks the training rows "
        "themselves (the fit_predict setting; LOF: negative_outlier_factor_), outliers included"
    )
    record("bench_outliers: outlier detection, one class versus the rest", body, args, notes)


if __name__ == "__main__":
    main()
