"""``python -m skae``: what skae is for, on scikit-learn's bundled digits (no download), each beside scikit-learn.

Four short comparisons, each against what a scikit-learn user would otherwise reach for, measured in the
same run on one split of the 8x8 digits (pixels divided by 16, 25 % of the images held out for testing):

1. *Features before a classifier*, in the setting of scikit-learn's RBM example: each image and its
   four one-pixel shifts (training images and test images shifted apart), where a linear classifier on
   the pixels does poorly. ``MinMaxScaler → skae transformer → LogisticRegression``, with a
   :class:`~sklearn.model_selection.GridSearchCV` over the autoencoder's regularization strength
   (:data:`FEATURES_ESTIMATOR`, :data:`FEATURES_GRID`), against the same classifier on the pixels, on
   PCA's components and on BernoulliRBM's features; test accuracy. The autoencoder trains for fewer
   epochs than its default, to keep the demo short.
2. *Denoising.* Digits with Gaussian noise: PCA reconstructions (the best of several code sizes, chosen on
   the test set in PCA's favour) against a DenoisingAutoencoder, both fitted on noisy training images;
   mean squared error against the clean test images.
3. *Outlier detection.* One digit against the other nine (digits 0, 1 and 2 in turn): 70 % of the
   images of that digit plus 5 % images of other digits for training; ROC-AUC on the held-out images,
   AutoencoderOutlierDetector against IsolationForest, both at their defaults.
4. *Few labels.* 3 labeled images per class, the rest of the training images unlabeled: LogisticRegression
   on the 30 labeled rows and scikit-learn's LabelSpreading on all rows, each on the pixels, on PCA's
   components and on the codes of part 1's autoencoder (fitted without labels: PCA on the training
   images, the autoencoder on them and their shifts); mean and sd over three label draws.

A closing line per part says whether skae's row is ahead of, level with or behind scikit-learn's best row
(level where the gap is within one sd of part 4's label draws). ``--plot FILE``
saves one figure: noisy test images and their PCA and skae reconstructions (matplotlib is
needed for it, not for skae). Figures measured by the benchmarks: ``benchmarks/RESULTS.md``.
"""

import argparse
import time
import warnings

import numpy as np
from scipy.ndimage import shift
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.semi_supervised import LabelSpreading

from . import Autoencoder, AutoencoderOutlierDetector, DenoisingAutoencoder, SparseAutoencoder, __version__

# Part 1's skae transformer and the grid over its regularization strength: the one place to change them.
# The grid's keys are the transformer's own parameter names (the pipeline's prefix is added below).
# A wide k-sparse code (Makhzani & Frey's, encoded with 3k units): the best features of the basket in
# benchmarks/bench_features.py on every image set (the RBM example: 0.980 against BernoulliRBM's 0.946).
FEATURES_ESTIMATOR = SparseAutoencoder(n_components=1000, hidden_layer_sizes=(), sparsity="topk", k=50, transform_k=150,
                                       tied_weights=True, conditioning="center", max_iter=10)
FEATURES_GRID = {"k": [25, 50]}
FEATURES_CV = 2

# The four one-pixel moves of scikit-learn's RBM example (up, left, right, down).
_SHIFTS = ((-1, 0), (0, -1), (0, 1), (1, 0))


def _nudged(X, y):
    """Each 8x8 image and its four one-pixel shifts (the vacated row or column left blank), with labels."""
    images = X.reshape(-1, 8, 8)
    moved = [shift(images, (0, dy, dx), order=0, cval=0) for dy, dx in _SHIFTS]
    X, y = np.concatenate([images, *moved]).reshape(-1, 64), np.tile(y, 1 + len(_SHIFTS))
    # Mixed, so that the grid search's folds hold every shift (in the order built they would not).
    order = np.random.RandomState(0).permutation(len(X))
    return X[order], y[order]

CONTAMINATION = 0.05


def _features(X_train, y_train, X_test, y_test, estimator, grid, cv, seed):
    """Test accuracy and fit time of LogisticRegression on the pixels and on each transformer's features."""
    n_components = estimator.get_params().get("n_components", 32)
    pca_components = min(n_components, X_train.shape[1])  # PCA has at most one component per pixel

    def classifier():
        return LogisticRegression(max_iter=2000)

    rows = {
        "pixels": make_pipeline(MinMaxScaler(), classifier()),
        f"PCA({pca_components})": make_pipeline(MinMaxScaler(), PCA(pca_components, random_state=seed),
                                                 classifier()),
        "BernoulliRBM(100)": make_pipeline(
            MinMaxScaler(), BernoulliRBM(100, learning_rate=0.06, n_iter=20, random_state=seed), classifier()),
    }
    pipeline = Pipeline([("scale", MinMaxScaler()), ("autoencoder", clone(estimator).set_params(random_state=seed)),
                         ("classify", classifier())])
    skae_row = f"skae {type(estimator).__name__} + grid"
    rows[skae_row] = GridSearchCV(
        pipeline, {f"autoencoder__{name}": values for name, values in grid.items()}, cv=cv)
    results = {}
    for name, model in rows.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        results[name] = (model.score(X_test, y_test), time.perf_counter() - start)
    return results, rows[skae_row]


def _short(estimator):
    """``Name(k=v, ...)`` with the parameters set away from their defaults, random_state left out."""
    changed = {k: v for k, v in estimator.get_params(deep=False).items()
               if k != "random_state" and repr(v) != repr(type(estimator)().get_params(deep=False)[k])}
    return f"{type(estimator).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


def _grid_summary(search):
    """Each grid point's mean CV accuracy, and the one chosen, in one line."""
    def point(params):
        return ", ".join(f"{k.split('__', 1)[1]}={v:g}" if isinstance(v, float) else f"{k.split('__', 1)[1]}={v!r}"
                         for k, v in params.items())
    cv = "; ".join(f"{point(p)}: {s:.3f}" for p, s in zip(search.cv_results_["params"],
                                                          search.cv_results_["mean_test_score"]))
    return f"{cv}; chose {point(search.best_params_)}"


def _denoising(X_train, X_test, noise, seed, max_iter=200):
    rng = np.random.RandomState(seed)
    noisy_train = X_train + noise * rng.randn(*X_train.shape)
    noisy_test = X_test + noise * rng.randn(*X_test.shape)

    def error(model):
        return float(np.mean((model.inverse_transform(model.transform(noisy_test)) - X_test) ** 2))

    rows = {"noisy images, no denoising": (float(np.mean((noisy_test - X_test) ** 2)), 0.0, "")}
    best = None
    start = time.perf_counter()
    for k in (8, 16, 24, 32):
        pca = PCA(k, random_state=seed).fit(noisy_train)
        err = error(pca)
        if best is None or err < best[0]:
            best = (err, k, pca)
    rows["PCA, best of K = 8/16/24/32"] = (best[0], time.perf_counter() - start, f"K={best[1]}")
    start = time.perf_counter()
    dae = DenoisingAutoencoder(n_components=32, noise="gaussian", noise_level=1.0, max_iter=max_iter,
                               random_state=seed)
    dae.fit(noisy_train)
    rows["skae DenoisingAutoencoder(32)"] = (error(dae), time.perf_counter() - start, "K=32")
    return rows, {"noisy": noisy_test, "PCA": best[2], "skae": dae}


def _outliers(X, y, digits, seed, max_iter=None):
    """Held-out ROC-AUC of each detector, one digit against the rest, and the detectors' total fit time."""
    scores = {"IsolationForest()": [], "skae AutoencoderOutlierDetector()": []}
    seconds = dict.fromkeys(scores, 0.0)
    for digit in digits:
        rng = np.random.RandomState(seed + digit)
        inliers, outliers = rng.permutation(np.flatnonzero(y == digit)), rng.permutation(np.flatnonzero(y != digit))
        n_train = int(round(0.7 * len(inliers)))
        n_other = int(round(n_train * CONTAMINATION / (1 - CONTAMINATION)))
        train = np.r_[inliers[:n_train], outliers[:n_other]]
        test = np.r_[inliers[n_train:], outliers[n_other:]]
        autoencoder = None if max_iter is None else Autoencoder(n_components=32, max_iter=max_iter)
        for name, detector in (("IsolationForest()", IsolationForest(random_state=seed)),
                               ("skae AutoencoderOutlierDetector()",
                                AutoencoderOutlierDetector(autoencoder, random_state=seed))):
            start = time.perf_counter()
            detector.fit(X[train])
            seconds[name] += time.perf_counter() - start
            # score_samples: higher is more normal, so the outliers' score is its negative.
            scores[name].append(roc_auc_score(y[test] != digit, -detector.score_samples(X[test])))
    return scores, seconds


def _few_labels(X_train, y_train, X_test, y_test, codes, per_class, draws):
    """Test accuracy of each route over label draws. ``codes``: transformers fitted with no labels."""
    inputs = {"pixels": (X_train, X_test)}
    inputs.update({name: (model.transform(X_train), model.transform(X_test)) for name, model in codes.items()})
    scores = {f"LogisticRegression, labeled rows' {name}": [] for name in inputs}
    scores.update({f"LabelSpreading(knn), all rows' {name}": [] for name in inputs})
    for seed in draws:
        rng = np.random.RandomState(seed)
        keep = np.concatenate([rng.choice(np.flatnonzero(y_train == c), per_class, replace=False)
                               for c in np.unique(y_train)])
        y_semi = np.full_like(y_train, -1)
        y_semi[keep] = y_train[keep]
        for name, (train, test) in inputs.items():
            lr = LogisticRegression(max_iter=2000).fit(train[keep], y_train[keep])
            scores[f"LogisticRegression, labeled rows' {name}"].append(lr.score(test, y_test))
            with np.errstate(invalid="ignore", divide="ignore"):  # LabelSpreading divides 0 by 0 on some codes
                spread = LabelSpreading(kernel="knn", n_neighbors=10).fit(train, y_semi)
                scores[f"LabelSpreading(knn), all rows' {name}"].append(spread.score(test, y_test))
    return scores


def _plot(path, X_test, cleaned, n_images=10):
    """One figure: clean, noisy, PCA-cleaned and skae-cleaned test images, one row each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {"clean": X_test[:n_images], "noisy": cleaned["noisy"][:n_images]}
    for name in ("PCA", "skae"):
        model = cleaned[name]
        rows[f"{name} from noisy"] = model.inverse_transform(model.transform(cleaned["noisy"][:n_images]))
    fig, axes = plt.subplots(len(rows), n_images, figsize=(n_images * 0.9, len(rows) * 1.0), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n_images):
            ax = axes[r, c]
            ax.imshow(np.clip(images[c], 0, 1).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("python -m skae: denoising digits, PCA against a DenoisingAutoencoder", fontsize=10)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _print_table(title, header, rows):
    """``rows``: (name, formatted figures) pairs, printed under ``title`` in aligned columns."""
    width = max(len("model"), *(len(name) for name, _ in rows))
    print(f"\n{title}")
    print(f"   {'model':<{width}} {header}")
    for name, figures in rows:
        print(f"   {name:<{width}} {figures}", flush=True)


def _verdict(rows, spread, skae_name, other, higher):
    """skae's row against ``other``: "ahead", "level" or "behind". Where the rows are means over draws
    (``spread``: their sd), a gap of at most one sd of either is "level", as the benchmarks judge a win."""
    gap = rows[skae_name] - rows[other] if higher else rows[other] - rows[skae_name]
    if spread is not None and abs(gap) <= max(spread[skae_name], spread[other]):
        return "level (within one sd of the draws)"
    return "ahead" if gap > 0 else "level" if gap == 0 else "behind"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skae", description=__doc__.splitlines()[0])
    parser.add_argument("--features-max-iter", type=int, default=None,
                        help="epochs of part 1's autoencoder (default: FEATURES_ESTIMATOR's own)")
    parser.add_argument("--noise", type=float, default=0.25, help="noise std on pixels in [0, 1] (part 2)")
    parser.add_argument("--denoising-max-iter", type=int, default=100,
                        help="epochs of the denoising autoencoder (default 100)")
    parser.add_argument("--outlier-digits", type=int, nargs="+", default=[0, 1, 2],
                        help="the inlier digits of part 3, one detector each (default: 0 1 2)")
    parser.add_argument("--outlier-max-iter", type=int, default=None,
                        help="epochs of the outlier detector's autoencoder (default: its own)")
    parser.add_argument("--labels-per-class", type=int, default=3)
    parser.add_argument("--draws", type=int, default=3, help="label draws (seeds 0, 1, ...) to average")
    parser.add_argument("--plot", metavar="FILE", help="save a figure of the denoised images to FILE (matplotlib)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    print(f"skae {__version__} demo on scikit-learn's digits: {len(X_train)} training, {len(X_test)} test images")
    estimator = FEATURES_ESTIMATOR
    if args.features_max_iter is not None:
        estimator = clone(estimator).set_params(max_iter=args.features_max_iter)

    with warnings.catch_warnings():
        # Fixed epoch budgets, on purpose: no convergence expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        features, search = _features(*_nudged(X_train, y_train), *_nudged(X_test, y_test), estimator, FEATURES_GRID,
                                     FEATURES_CV, 0)
        _print_table(
            "1. Features before a classifier, on the images and their one-pixel shifts: MinMaxScaler → features → "
            "LogisticRegression (test accuracy)",
            f"{'accuracy':>9} {'fit s':>7}",
            [(k, f"{acc:>9.3f} {sec:>7.1f}") for k, (acc, sec) in features.items()],
        )
        print(f"   skae {type(estimator).__name__}: {_short(estimator)}")
        print(f"   GridSearchCV({FEATURES_CV}-fold), mean CV accuracy: {_grid_summary(search)}")

        denoise, cleaned = _denoising(X_train, X_test, args.noise, seed=0, max_iter=args.denoising_max_iter)
        _print_table(
            f"2. Denoising: Gaussian noise of std {args.noise} on the pixels (in [0, 1]); mean squared error of "
            "the cleaned test images", f"{'error':>9} {'':>6} {'fit s':>7}",
            [(k, f"{err:>9.4f} {note:>6} {sec:>7.1f}") for k, (err, sec, note) in denoise.items()],
        )

        outliers, outlier_seconds = _outliers(X, y, args.outlier_digits, seed=0, max_iter=args.outlier_max_iter)
        _print_table(
            f"3. Outlier detection: each of {len(args.outlier_digits)} digits against the rest, 5 % other digits "
            "among the training rows (held-out ROC-AUC)", f"{'ROC-AUC':>9} {'min':>6} {'fit s':>7}",
            [(k, f"{np.mean(v):>9.3f} {min(v):>6.3f} {outlier_seconds[k]:>7.1f}") for k, v in outliers.items()],
        )

        # Part 1's transformers, fitted on the training rows with no use of their labels.
        n_components = search.best_estimator_["autoencoder"].n_components
        codes = {"PCA codes": make_pipeline(MinMaxScaler(), PCA(min(n_components, X.shape[1]), random_state=0))
                 .fit(X_train),
                 "skae codes": search.best_estimator_[:-1]}
        few = _few_labels(X_train, y_train, X_test, y_test, codes, args.labels_per_class, range(args.draws))
        _print_table(
            f"4. Few labels: {10 * args.labels_per_class} labeled training images, the rest unlabeled (test "
            f"accuracy over {args.draws} label draws)", f"{'accuracy':>9} {'sd':>6}",
            [(k, f"{np.mean(v):>9.3f} {np.std(v):>6.3f}") for k, v in few.items()],
        )

    skae_features = next(k for k in features if k.startswith("skae"))
    print("\nIn short, skae against scikit-learn's best row of each part:")
    for part, rows, spread, higher, fmt in (
        ("features before a classifier (accuracy)", {k: acc for k, (acc, _) in features.items()}, None, True, ".3f"),
        ("denoising (error)", {k: err for k, (err, _, _) in denoise.items() if k.startswith(("PCA", "skae"))}, None,
         False, ".4f"),
        ("outlier detection (ROC-AUC)", {k: np.mean(v) for k, v in outliers.items()}, None, True, ".3f"),
        ("few labels (accuracy)", {k: np.mean(v) for k, v in few.items()}, {k: np.std(v) for k, v in few.items()},
         True, ".3f"),
    ):
        skae = {k: v for k, v in rows.items() if "skae" in k}
        best = max if higher else min
        skae_name = skae_features if skae_features in skae else best(skae, key=skae.get)
        other = best((k for k in rows if k not in skae), key=rows.get)
        print(f"   {part}: {_verdict(rows, spread, skae_name, other, higher)}, {rows[skae_name]:{fmt}} ({skae_name}) "
              f"against {rows[other]:{fmt}} ({other})")

    if args.plot:
        _plot(args.plot, X_test, cleaned)
        print(f"\nSaved the figure to {args.plot}.")
    print(f"\nWall time {time.perf_counter() - start:.0f} s. The benchmarks' figures: benchmarks/RESULTS.md in the "
          "source repository.")


if __name__ == "__main__":
    main()
