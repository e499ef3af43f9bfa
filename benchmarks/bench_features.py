"""Features before a classifier: skae's transformers against scikit-learn's feature learners.

The use skae exists for, as a user writes it: ``make_pipeline(scaler, transformer, LogisticRegression())``
on data that ships with scikit-learn (and MNIST, for size). Every row of a dataset is measured in the
same run, over the same seeds, with the same classifier:

- ``LogisticRegression``: the scaled inputs, no transformer;
- scikit-learn's unsupervised feature learners: ``PCA``, ``BernoulliRBM`` (after a ``MinMaxScaler``,
  since it needs inputs in [0, 1]), ``MiniBatchDictionaryLearning`` (sparse coding) and ``Nystroem``
  (an RBF kernel map);
- every skae transformer at its defaults, with only ``n_components`` and ``random_state`` set;
- skae's wide route, ``SparseAutoencoder 1000 top-k``: ``SparseAutoencoder(1000, hidden_layer_sizes=(),
  sparsity="topk", k=50, transform_k=150, tied_weights=True, conditioning="center")`` after a
  ``MinMaxScaler``, the same on every dataset: not at the code size ``K`` but a wide, sparse code
  (Makhzani & Frey's k-sparse autoencoder, encoded with 3k units), with ``--grid`` also over ``k`` in
  [10, 25, 50];
- with ``--grid``: every skae transformer with a 3-fold ``GridSearchCV`` of the whole pipeline over
  its regularization strength (:data:`STRENGTH_GRIDS`, the grids the user guide's table shows), on
  the training rows only.

Every other transformer has the dataset's code size ``K`` (the same for all rows). The basket:

========== ============================================== ====== ================= ===============
dataset    rows (train / test)                             K      scaler            classifier
========== ============================================== ====== ================= ===============
digits     1797 8x8 images, 25 % held out per seed         32     MinMaxScaler      LR()
nudged     scikit-learn's RBM example: digits and their    32     MinMaxScaler      LR()
           one-pixel shifts, its 80/20 split
rbm        the same rows in the example's own setting      100    (none: [0, 1])    LR(C=6000,
                                                                                   newton-cg); raw
                                                                                   pixels C=100
mnist1k    the first 1k / 10k / 60k MNIST training         32     MinMaxScaler      LR()
mnist10k   images, tested on the 10k test images
mnist60k
cancer     breast_cancer, 25 % held out per seed           8      StandardScaler    LR()
wine       wine, 25 % held out per seed                    8      StandardScaler    LR()
========== ============================================== ====== ================= ===============

``LR()`` is ``LogisticRegression(max_iter=2000)``. Seeds ``0 .. --seeds - 1`` are the networks'
``random_state`` and, where the split is drawn, the split's. Fit time is the whole pipeline's fit (the
grid rows: the search and its refit); transform time is the fitted transformer's ``transform`` of the
test rows (median over seeds).

    python benchmarks/bench_features.py --datasets digits,nudged,rbm,cancer,wine --seeds 3 --grid

The script prints one table per dataset and, unless ``--no-record``, appends them to
``benchmarks/RESULTS.md``'s log.
"""

import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import load_mnist, parser, record, table  # noqa: E402
from bench_rbm_digits import nudged_digits  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402
from sklearn.decomposition import PCA, MiniBatchDictionaryLearning  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.kernel_approximation import Nystroem  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import skae  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)

SKAE = [
    "Autoencoder",
    "SparseAutoencoder",
    "DenoisingAutoencoder",
    "ContractiveAutoencoder",
    "VAE",
    "LadderAutoencoder",
    "HashingAutoencoder",
]

WIDE_UNITS = 1000
WIDE_ROW = f"SparseAutoencoder {WIDE_UNITS} top-k"

# Each estimator's regularization strength and the grid the user guide recommends (its default inside).
STRENGTH_GRIDS = {
    "Autoencoder": ("alpha", [0.0, "auto", 1e-2]),
    "SparseAutoencoder": ("sparsity_weight", [1e-4, 1e-3, 1e-2]),
    "DenoisingAutoencoder": ("noise_level", [0.2, 0.5, 1.0]),
    "ContractiveAutoencoder": ("contraction_weight", [3e-3, 1e-2, 3e-2]),
    "VAE": ("beta", [0.1, 0.3, 1.0]),
    "LadderAutoencoder": ("noise_level", [0.1, 0.3, 0.6]),
}


def _drawn(loader):
    def split(seed, mnist=None):
        X, y = loader(return_X_y=True)
        return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)

    return split


def _mnist(n_train):
    def split(seed, mnist=None):
        X_train, y_train, X_test, y_test = load_mnist(mnist, n_train=n_train)
        return X_train * 255.0, X_test * 255.0, y_train, y_test  # as loaded: the scaler is the pipeline's

    return split


# name: (split(seed, mnist) -> X_train, X_test, y_train, y_test; K; scaler before the transformer)
DATASETS = {
    "digits": (_drawn(load_digits), 32, MinMaxScaler),
    # scikit-learn's RBM example data (its split, pixels already in [0, 1]), from bench_rbm_digits
    "nudged": (lambda seed, mnist=None: nudged_digits(), 32, MinMaxScaler),
    "rbm": (lambda seed, mnist=None: nudged_digits(), 100, None),
    "mnist1k": (_mnist(1_000), 32, MinMaxScaler),
    "mnist10k": (_mnist(10_000), 32, MinMaxScaler),
    "mnist60k": (_mnist(60_000), 32, MinMaxScaler),
    "cancer": (_drawn(load_breast_cancer), 8, StandardScaler),
    "wine": (_drawn(load_wine), 8, StandardScaler),
}


def classifier(dataset, raw):
    if dataset == "rbm":  # scikit-learn's example; its tol=1 stops newton-cg before the first step today
        return LogisticRegression(C=100.0 if raw else 6000.0, solver="newton-cg")
    return LogisticRegression(max_iter=2000)


def rows(dataset, K, n_features, seed, grid):
    """``(name, steps before the classifier, param_grid or None)`` for every row of ``dataset``."""
    _, _, scaler = DATASETS[dataset]
    scaled = [("scale", scaler())] if scaler else []
    in_unit_box = [("scale", MinMaxScaler())] if dataset != "rbm" else []
    out = [
        ("LogisticRegression", scaled, None),
        # PCA has at most n_features components (the RBM example's 100 > 64 pixels: all 64).
        ("PCA", [*scaled, ("features", PCA(min(K, n_features), random_state=seed))], None),
        (
            "BernoulliRBM",
            [*in_unit_box, ("features", BernoulliRBM(K, learning_rate=0.06, n_iter=10, random_state=seed))],
            None,
        ),
        (
            "MiniBatchDictionaryLearning",
            [*scaled, ("features", MiniBatchDictionaryLearning(K, batch_size=256, max_iter=20, random_state=seed))],
            None,
        ),
        ("Nystroem", [*scaled, ("features", Nystroem(n_components=K, random_state=seed))], None),
    ]
    # skae's wide route (not at the code size K): a one-layer k-sparse dictionary of 1000 units, the same on
    # every dataset, encoded with 150 units (Makhzani & Frey's sparse encoding), and a grid over its k.
    wide = skae.SparseAutoencoder(WIDE_UNITS, hidden_layer_sizes=(), sparsity="topk", k=50, transform_k=150,
                                  tied_weights=True, conditioning="center", random_state=seed)
    out.append((WIDE_ROW, [*in_unit_box, ("features", wide)], None))
    if grid:
        out.append((f"{WIDE_ROW}, grid over k", [*in_unit_box, ("features", clone(wide))], {"k": [10, 25, 50]}))
    for name in SKAE:
        estimator = getattr(skae, name)(n_components=K, random_state=seed)
        out.append((name, [*scaled, ("features", estimator)], None))
        strength = STRENGTH_GRIDS.get(name)
        if grid and strength is not None:
            param, values = strength
            out.append((f"{name}, grid over {param}", [*scaled, ("features", clone(estimator))], {param: values}))
    return out


def _selected(row, name):
    """``--rows`` selection: a row by its own name, an estimator's name (its grid row too), or "grid"
    for every grid row."""
    return row == name or row.startswith(name + ",") or (name == "grid" and ", grid over" in row)


def _row_names(rows):
    """``--rows`` split at its commas, but for the comma inside a grid row's own name."""
    names = []
    for part in rows.split(","):
        if part.startswith(" grid over") and names:
            names[-1] += "," + part
        elif part:
            names.append(part)
    return names


def measure(dataset, seeds, grid_seeds, mnist, names):
    split, K, _ = DATASETS[dataset]
    results = {}
    for seed in seeds:
        X_train, X_test, y_train, y_test = split(seed, mnist)
        for name, steps, param_grid in rows(dataset, K, X_train.shape[1], seed, grid=seed < grid_seeds):
            if names and not any(_selected(name, n) for n in names):
                continue
            raw = name == "LogisticRegression"
            pipe = Pipeline([*steps, ("classifier", classifier(dataset, raw))])
            start = time.perf_counter()
            if param_grid is not None:
                search = GridSearchCV(pipe, {f"features__{p}": v for p, v in param_grid.items()}, cv=3)
                search.fit(X_train, y_train)
                pipe, chosen = search.best_estimator_, next(iter(search.best_params_.values()))
            else:
                pipe.fit(X_train, y_train)
                chosen = None
            fit_s = time.perf_counter() - start
            accuracy = pipe.score(X_test, y_test)
            transform_s = float("nan")
            if "features" in pipe.named_steps:
                head = pipe[:-1]
                start = time.perf_counter()
                head.transform(X_test)
                transform_s = time.perf_counter() - start
            entry = results.setdefault(name, {"acc": [], "fit": [], "transform": [], "chosen": []})
            entry["acc"].append(accuracy)
            entry["fit"].append(fit_s)
            entry["transform"].append(transform_s)
            entry["chosen"].append(chosen)
            picked = "" if chosen is None else f", chose {chosen}"
            print(f"  {dataset} seed {seed} {name}: {accuracy:.4f} ({fit_s:.1f} s{picked})", flush=True)
    return K, results


def summarise(dataset, K, results):
    base = statistics.mean(results["PCA"]["acc"]) if "PCA" in results else None
    sklearn_best = max(
        (statistics.mean(r["acc"]) for n, r in results.items() if not any(n.startswith(s) for s in SKAE)),
        default=None,
    )
    body = []
    for name, r in results.items():
        mean, transform_s = statistics.mean(r["acc"]), statistics.median(r["transform"])
        sd = statistics.stdev(r["acc"]) if len(r["acc"]) > 1 else 0.0
        chosen = [c for c in r["chosen"] if c is not None]
        verdict = ""
        if any(name.startswith(s) for s in SKAE) and base is not None:
            verdict = ("≥ PCA" if mean >= base else "< PCA") + (
                f", {'≥' if mean >= sklearn_best else '<'} best sklearn" if sklearn_best is not None else ""
            )
        body.append(
            [
                name,
                f"{mean:.4f} ± {sd:.4f}",
                " ".join(f"{a:.4f}" for a in r["acc"]),
                f"{statistics.median(r['fit']):.1f}",
                "-" if np.isnan(transform_s) else f"{transform_s * 1e3:.0f}",
                " ".join(f"{c:g}" if isinstance(c, float) else str(c) for c in chosen) or "-",
                verdict,
            ]
        )
    headers = ["features + LogisticRegression", "accuracy (mean ± sd)", "per seed", "fit s", "transform ms",
               "chosen", "verdict"]
    return f"### {dataset} (K = {K})\n\n" + table(body, headers)


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,nudged,rbm,mnist1k,cancer,wine")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--grid", action="store_true", help="also the GridSearchCV rows over each strength")
    p.add_argument("--grid-seeds", type=int, default=None, help="the grid rows on the first N seeds only (default all)")
    p.add_argument("--rows", default="",
                   help="comma-separated row names (an estimator's name selects its grid row too; "
                   "'grid': every grid row; a grid row's own name, e.g. 'VAE, grid over beta', that row only): "
                   "only those rows")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--notes", default="")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    names = _row_names(args.rows)
    args.grid_seeds = 0 if not args.grid else args.seeds if args.grid_seeds is None else args.grid_seeds
    start = time.perf_counter()
    sections = []
    with threadpool_limits(args.threads):
        for dataset in args.datasets.split(","):
            K, results = measure(dataset, range(args.seeds), args.grid_seeds, args.mnist, names)
            sections.append(summarise(dataset, K, results))
            print(sections[-1], flush=True)
    notes = (
        f"{args.threads} threads for torch and BLAS; {args.seeds} seeds; {(time.perf_counter() - start) / 60:.1f} min "
        f"in all. {args.notes}"
    )
    record("bench_features: features before a LogisticRegression", "\n\n".join(sections), args, notes)


if __name__ == "__main__":
    main()
