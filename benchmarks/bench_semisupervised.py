"""MNIST with 100 labels: skae's semi-supervised routes beside scikit-learn's, each timed.

100 labeled training rows (10 per class, drawn with seeds 0, 1, 2) and the other 59,900 unlabeled; every
model is fitted on the 60,000 training images and predicts the 10,000 test images, which no model sees
during fit. Rows (mean test error over the label draws, each draw's, and the training time):

- LogisticRegression on the 100 labeled rows (raw pixels);
- scikit-learn's LabelSpreading(kernel="knn", n_neighbors=10) on raw pixels and on PCA(50) codes;
- BernoulliRBM(256) features + LogisticRegression on the labeled rows;
- sequential skae: Pipeline(Autoencoder → LabelSpreading): one autoencoder fitted on all 60,000 rows
  (labels ignored), its codes labeled by the same LabelSpreading;
- joint skae: AutoencoderClassifier with a LadderAutoencoder whose code is the class layer
  (784-1000-500-250-250-250-10, Rasmus et al. 2015), trained per label draw for ``--ladder-minutes``
  at learning rate 2e-3, decayed linearly to 0 over the last third of the time box, as Rasmus et al.
  decay theirs over the last epochs: one ``fit`` with the engine's ``learning_rate="linear_decay",
  decay_start=2/3, max_time=...``, no hand-written loop.

Anchors (Kingma et al. 2014, Table 1; Rasmus et al. 2015): M1+TSVM 11.82 %, M2 11.97 %, M1+M2 3.33 %,
ladder 1.06 %. Target: ≤ 5 % within 30 minutes of training on 2 cores.

    python benchmarks/bench_semisupervised.py                      # the MNIST table
    python benchmarks/bench_semisupervised.py --gridsearch-only    # GridSearchCV n_jobs=1 vs 2 on digits
"""

import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's skae
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import load_mnist, parser, record, table  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.semi_supervised import LabelSpreading  # noqa: E402

import skae  # noqa: E402
from skae import Autoencoder, AutoencoderClassifier, LadderAutoencoder  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def labeled(y, seed, per_class=10):
    rng = np.random.RandomState(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])


def semi_labels(y, rows):
    y_semi = np.full(y.shape, -1, dtype=np.int64)  # MNIST labels are uint8: -1 would overflow
    y_semi[rows] = y[rows]
    return y_semi


def spreading():
    return LabelSpreading(kernel="knn", n_neighbors=10, max_iter=100)


# Rasmus et al.'s MNIST configuration in skae's units (user guide, "The published configuration"): input
# cost 1000 x mean feature variance (0.074 on MNIST) = 74, then 10, 0.1, ...; noise 0.3 on every pixel.
PUBLISHED = dict(denoising_weights=(74, 10, 0.1, 0.1, 0.1, 0.1, 0.1), noise_level=0.3,
                 input_noise_level=0.3, input_noise_units="data")


def ladder_classifier(seed, config="default"):
    costs = PUBLISHED if config == "published" else {}
    return AutoencoderClassifier(
        LadderAutoencoder(n_components=10, hidden_layer_sizes=(1000, 500, 250, 250, 250), **costs),
        batch_size=100, labeled_batch_size=100, learning_rate_init=2e-3, random_state=seed,
    )


def fit_ladder(clf, X, y_semi, budget_s):
    """One fit for ``budget_s`` seconds: step 2e-3, decayed linearly to 0 over the last third of the budget."""
    start = time.perf_counter()
    clf.set_params(learning_rate="linear_decay", decay_start=2 / 3, max_time=budget_s, max_iter=10_000,
                   n_iter_no_change=10_000, verbose=1).fit(X, y_semi)
    return clf.n_iter_, time.perf_counter() - start


def mnist_rows(args):
    X_train, y_train, X_test, y_test = load_mnist(args.mnist)
    seed_rows = [labeled(y_train, s) for s in args.seed_list]
    rows = []

    def log(msg):
        print(msg, flush=True)

    def add(name, errors, seconds, epochs="", note=""):
        rows.append([name, f"{np.mean(errors):.2f}", " / ".join(f"{e:.2f}" for e in errors), epochs,
                     f"{seconds:.0f}", note])
        log(str(rows[-1]))

    def error(model, Z_test):
        return 100 * (1 - model.score(Z_test, y_test))

    t = time.perf_counter()
    errs = [error(LogisticRegression(max_iter=3000).fit(X_train[r], y_train[r]), X_test) for r in seed_rows]
    add("LogisticRegression on the 100 labeled rows", errs, time.perf_counter() - t)

    if not args.skip_pixels:
        t = time.perf_counter()
        errs = [error(spreading().fit(X_train, semi_labels(y_train, r)), X_test) for r in seed_rows]
        add("LabelSpreading(knn, 10) on pixels", errs, time.perf_counter() - t)

    t = time.perf_counter()
    pca = PCA(50, random_state=0).fit(X_train)
    Z, Zt = pca.transform(X_train), pca.transform(X_test)
    errs = [error(spreading().fit(Z, semi_labels(y_train, r)), Zt) for r in seed_rows]
    add("LabelSpreading(knn, 10) on PCA(50) codes", errs, time.perf_counter() - t)

    if args.quick_baselines:
        return ladder_rows(args, X_train, y_train, seed_rows, rows, log, add, lambda m: error(m, X_test))

    t = time.perf_counter()
    rbm = BernoulliRBM(256, learning_rate=0.05, n_iter=10, batch_size=100, random_state=0).fit(X_train)
    Z, Zt = rbm.transform(X_train), rbm.transform(X_test)
    errs = [error(LogisticRegression(max_iter=3000).fit(Z[r], y_train[r]), Zt) for r in seed_rows]
    add("BernoulliRBM(256, 10 it) + LR on the labeled rows", errs, time.perf_counter() - t)

    # Sequential: one unsupervised autoencoder (labels ignored), then LabelSpreading on its codes, as a
    # Pipeline: make_pipeline(ae, spreading()).fit(X, y_semi) routes y_semi to LabelSpreading only.
    t = time.perf_counter()
    ae = Autoencoder(n_components=30, hidden_layer_sizes=(1000, 500, 250), loss="bce",
                     max_iter=args.ae_epochs, random_state=0, precision=args.precision)
    pipe = make_pipeline(ae, spreading())
    errs = []
    for i, r in enumerate(seed_rows):
        if i == 0:
            pipe.fit(X_train, semi_labels(y_train, r))
            ae_seconds = time.perf_counter() - t
        else:  # the same (frozen) autoencoder: only LabelSpreading is refitted on the new labels
            pipe[-1].fit(ae.transform(X_train), semi_labels(y_train, r))
        errs.append(error(pipe, X_test))
    add("Pipeline(Autoencoder(784-1000-500-250-30, bce) → LabelSpreading(knn, 10))", errs,
        time.perf_counter() - t, ae.n_iter_, f"autoencoder {ae_seconds:.0f} s, once for the 3 draws")
    return ladder_rows(args, X_train, y_train, seed_rows, rows, log, add, lambda m: error(m, X_test))


def ladder_rows(args, X_train, y_train, seed_rows, rows, log, add, test_error):
    budget_s = args.ladder_minutes * 60
    if args.deadline:  # equal budgets per draw that end before the deadline (HH:MM UTC), with a margin
        hh, mm = map(int, args.deadline.split(":"))
        now = time.gmtime()
        left = (hh * 60 + mm) * 60 - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)
        budget_s = min(budget_s, (left - 90 * args.seeds) / args.seeds)
        args.ladder_minutes = budget_s / 60
        log(f"ladder budget {budget_s:.0f} s per draw (deadline {args.deadline} UTC)")
    errs, seconds, epochs = [], 0.0, []
    for seed, r in zip(args.seed_list, seed_rows):
        log(f"ladder, label draw {seed}")
        clf = ladder_classifier(seed, args.config)
        e, s = fit_ladder(clf, X_train, semi_labels(y_train, r), budget_s)
        errs.append(test_error(clf))
        log(f"  test error {errs[-1]:.2f} %")
        seconds += s
        epochs.append(e)
    add("AutoencoderClassifier(LadderAutoencoder(784-1000-500-250-250-250-10))", errs, seconds / len(errs),
        "/".join(map(str, epochs)),
        f"{args.config} configuration, {args.ladder_minutes:.1f} min per draw (train s: mean per draw)")
    return rows


def digits_rows(args):
    """Scikit-learn's 8×8 digits with 3 and 10 labels per class: every route, defaults, mean over draws."""
    from sklearn.datasets import load_digits
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=500, random_state=0, stratify=y)
    ae = Autoencoder(n_components=16, hidden_layer_sizes=(64,), random_state=0).fit(X_train)
    routes = {
        "LogisticRegression on the labeled rows": lambda ys, s: make_pipeline(
            MinMaxScaler(), LogisticRegression(max_iter=2000)).fit(X_train[ys != -1], ys[ys != -1]),
        "LabelSpreading(knn, 10) on pixels": lambda ys, s: make_pipeline(MinMaxScaler(), spreading()).fit(
            X_train, ys),
        "Autoencoder(64-16) → LabelSpreading(knn, 10)": lambda ys, s: make_pipeline(
            FrozenEstimator(ae), spreading()).fit(X_train, ys),
        "Autoencoder(64-16), frozen → LR on the labeled rows": lambda ys, s: make_pipeline(
            FrozenEstimator(ae), LogisticRegression(max_iter=2000)).fit(X_train[ys != -1], ys[ys != -1]),
        "AutoencoderClassifier(Autoencoder(64-16)), joint": lambda ys, s: AutoencoderClassifier(
            Autoencoder(n_components=16, hidden_layer_sizes=(64,)), random_state=s).fit(X_train, ys),
        "AutoencoderClassifier() (ladder), joint": lambda ys, s: AutoencoderClassifier(random_state=s).fit(
            X_train, ys),
    }
    rows = []
    for per_class in (3, 10):
        for name, route in routes.items():
            accs, start = [], time.perf_counter()
            for seed in range(args.digits_draws):
                rows_kept = np.concatenate([
                    np.random.RandomState(seed).choice(np.flatnonzero(y_train == c), per_class, replace=False)
                    for c in range(10)])
                accs.append(route(semi_labels(y_train, rows_kept), seed).score(X_test, y_test))
            rows.append([per_class, name, f"{np.mean(accs):.3f}", f"{np.std(accs):.3f}",
                         f"{(time.perf_counter() - start) / len(accs):.1f}"])
            print(rows[-1], flush=True)
    return rows


def gridsearch_rows(repeats):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler

    X, y = load_digits(return_X_y=True)
    name = "SparseAutoencoder" if hasattr(skae, "SparseAutoencoder") else "Autoencoder"
    ae = getattr(skae, name)(n_components=16, hidden_layer_sizes=(64,), max_iter=20, random_state=0)
    param = "ae__sparsity_weight" if name == "SparseAutoencoder" else "ae__alpha"
    pipe = Pipeline([("scale", MinMaxScaler()), ("ae", ae), ("clf", LogisticRegression(max_iter=1000))])
    grid = {param: [1e-4, 1e-3, 1e-2], "clf__C": [0.1, 1.0, 10.0]}
    times = {1: [], 2: []}
    for _ in range(repeats):
        for n_jobs in (1, 2):  # interleaved, so that both see the same load
            t = time.perf_counter()
            GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(X, y)
            times[n_jobs].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    rows = [[f"n_jobs={k}", f"{med[k]:.1f}", " / ".join(f"{t:.1f}" for t in v)] for k, v in times.items()]
    return rows, med[2] / med[1], name, param


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0,
                   help="label draws are seeds first-seed, first-seed + 1, ... (to run draws in parallel)")
    p.add_argument("--config", default="default", choices=["default", "published"],
                   help="the ladder's defaults, or Rasmus et al.'s costs and noise (see PUBLISHED)")
    p.add_argument("--ladder-minutes", type=float, default=25.0, help="training time box per label draw")
    p.add_argument("--ae-epochs", type=int, default=30, help="epochs of the sequential route's autoencoder")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--deadline", default="", help="HH:MM UTC: shorten the per-draw budget to end before it")
    p.add_argument("--quick-baselines", action="store_true",
                   help="only LogisticRegression and LabelSpreading on PCA(50) codes beside the ladder")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--skip-pixels", action="store_true", help="skip LabelSpreading on raw pixels")
    p.add_argument("--digits-only", action="store_true", help="only the digits table (3 and 10 labels per class)")
    p.add_argument("--digits-draws", type=int, default=5)
    p.add_argument("--gridsearch", action="store_true", help="also time GridSearchCV n_jobs=1 vs 2")
    p.add_argument("--gridsearch-only", action="store_true")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--notes", default="", help="run conditions to record (load, other jobs)")
    args = p.parse_args()
    args.seed_list = list(range(args.first_seed, args.first_seed + args.seeds))
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    load = f"load average {os.getloadavg()[0]:.2f} at the start"
    if args.digits_only:
        rows = digits_rows(args)
        body = table(rows, ["labels per class", "route", "test accuracy (mean)", "sd over draws", "fit s"])
        body += (f"\n\nscikit-learn's digits, 1297 training rows (the rest unlabeled) and 500 test rows; "
                 f"{args.digits_draws} label draws (seeds 0…); every estimator at its defaults "
                 f"(the ladder: 200 epochs); {torch.get_num_threads()} torch threads.")
        record("Semi-supervised digits, 3 and 10 labels per class", body, args, notes=load)
        return
    if not args.gridsearch_only:
        start = time.perf_counter()
        rows = mnist_rows(args)
        wall = time.perf_counter() - start
        body = table(rows, ["row", "test error % (mean)", "per label draw", "epochs", "train s", "note"])
        body += (
            f"\n\nWall time {wall / 60:.1f} min; {torch.get_num_threads()} torch threads. Anchors: M1+TSVM "
            "11.82 %, M2 11.97 %, M1+M2 3.33 % (Kingma et al. 2014); ladder 1.06 % (Rasmus et al. 2015). "
            "Target ≤ 5 %."
        )
        notes = f"{load}, {os.getloadavg()[0]:.2f} at the end. {args.notes}".strip()
        record("Semi-supervised MNIST, 100 labels", body, args, notes=notes)
    if args.gridsearch or args.gridsearch_only:
        rows, ratio, name, param = gridsearch_rows(args.repeats)
        body = table(rows, ["GridSearchCV", "median wall s", "runs"])
        body += (
            f"\n\nPipeline(MinMaxScaler → {name}(64-16) → LogisticRegression) on digits, grid {param} × clf__C "
            f"(3 × 3), cv=3: n_jobs=2 / n_jobs=1 wall-time ratio {ratio:.2f} (runs interleaved)."
        )
        record("GridSearchCV n_jobs=1 vs 2 (torch threads in joblib workers)", body, args, notes=load)


if __name__ == "__main__":
    main()
