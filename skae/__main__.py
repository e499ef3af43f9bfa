"""``python -m skae``: where autoencoders earn their place, on scikit-learn's bundled digits (no download).

Two short comparisons, each against what a scikit-learn user would otherwise reach for, measured in the
same run, the clear win first:

1. *Denoising.* Digits with Gaussian noise: PCA reconstructions (the best of several code sizes, chosen on
   the test set in PCA's favour) against a DenoisingAutoencoder, both fitted on noisy training images.
2. *Few labels.* 3 labeled images per class, the rest unlabeled (``-1``): LogisticRegression on the 30
   labeled rows; scikit-learn's LabelSpreading on all rows; the same LabelSpreading on a graph of the
   images and their one-pixel shifts (:func:`shifted_spreading_labels`), which links digits a pixel
   apart, and its own prediction; scikit-learn's two-step route, that graph's labels rebalanced to the
   labeled rows' class shares (class-mass normalisation), then an SVC fitted on them; and skae's: the
   same rebalanced labels teach a convolutional AutoencoderClassifier, on the images and their
   one-pixel shifts, the given labels counted ten times (:func:`balanced_student`, a noisy student),
   beside the same SVC fitted on those same rows (:func:`taught_rows`). Mean and sd of the test
   accuracy over three label draws (seeds 0, 1, 2). The nearest-neighbour graph finds the labels and
   the shifts add what a pixel graph cannot know, that a digit moved by a pixel is the same digit; on
   these 8x8 images the SVC makes as much of them as skae's network, or more. ``--with-ladder`` adds
   skae's default AutoencoderClassifier (a ladder network, no teacher), which on these 64-pixel images
   stays behind LabelSpreading and on MNIST's 784 pixels wins by far (see the User Guide), and its
   agreement with LabelSpreading. Five-draw figures on this split and on a second one:
   ``benchmarks/bench_digits_routes.py`` and ``benchmarks/RESULTS.md``.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC

from . import AutoencoderClassifier, DenoisingAutoencoder, __version__
from .modules import ConvAutoencoderModule

LADDER = "skae AutoencoderClassifier() (ladder)"


SPREAD = "LabelSpreading(knn) on all rows"
SPREAD_SHIFTS = "sklearn: LabelSpreading on the rows and their shifts"
AGREE = "skae ladder ∧ LabelSpreading → LabelSpreading"
BALANCED = "sklearn: its labels class-balanced → SVC"
SHIFTED = "sklearn: its labels class-balanced → SVC, shifted copies"
STUDENT = "skae: its labels class-balanced → conv AutoencoderClassifier"
WIDTH = len(STUDENT)


def agreement_labels(y_semi, first, second, unlabeled=-1):
    """``y_semi`` with the unlabeled rows on whose label two models agree labeled by that label.

    ``first`` and ``second`` are the two models' labels for every row (e.g. LabelSpreading's
    ``transduction_`` and a classifier's ``predict``); labeled rows keep their own label, the rows
    where the models disagree stay unlabeled.
    """
    y_new = np.array(y_semi, copy=True)
    agree = (y_new == unlabeled) & (np.asarray(first) == np.asarray(second))
    y_new[agree] = np.asarray(first)[agree]
    return y_new


def class_mass_labels(probabilities, y_semi, classes, n_rounds=30, unlabeled=-1):
    """Labels for every row from class probabilities rescaled to the labeled rows' class proportions.

    Class-mass normalisation (Zhu, Ghahramani & Lafferty, 2003): each column of ``probabilities``
    (rows x ``classes``, e.g. LabelSpreading's ``predict_proba`` on its training rows) is scaled so
    that the mean probability of each class matches its share among the labeled rows of ``y_semi``,
    and the rows are renormalised, ``n_rounds`` times; each row then takes its most probable class.
    Labeled rows keep their own label. Neither input is modified.
    """
    P = np.array(probabilities, dtype=float)
    y_semi = np.asarray(y_semi)
    classes = np.asarray(classes)
    labeled = y_semi != unlabeled
    prior = np.array([np.mean(y_semi[labeled] == c) for c in classes])
    for _ in range(n_rounds):
        P = P * (prior / np.maximum(P.mean(axis=0), 1e-12))
        P /= P.sum(axis=1, keepdims=True)
    labels = classes[P.argmax(axis=1)]
    labels[labeled] = y_semi[labeled]
    return labels


def draw_labels(y, per_class, seed):
    """``(y_semi, keep)``: ``per_class`` rows of each class drawn with ``seed`` keep their label, the rest -1.

    ``keep`` holds the kept rows' indices, class by class.
    """
    rng = np.random.RandomState(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    y_semi = np.full_like(y, -1)
    y_semi[keep] = y[keep]
    return y_semi, keep


def shifted_copies(X, image_shape):
    """The rows of ``X`` as images, then the same images moved by one pixel right, left, down and up.

    Returns ``5 * len(X)`` rows: ``X`` itself, then its four shifts in that order; the pixels moved out
    of the frame are dropped and those moved in are 0 (the digits' background). ``X`` is not modified.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != np.prod(image_shape):
        raise ValueError(f"X has shape {X.shape}; rows of image_shape={tuple(image_shape)} need "
                         f"{int(np.prod(image_shape))} features.")
    images = X.reshape(len(X), *image_shape)
    copies = [X]
    for axis, step in ((2, 1), (2, -1), (1, 1), (1, -1)):
        moved = np.zeros_like(images)
        into, out_of = [slice(None)] * 3, [slice(None)] * 3
        into[axis], out_of[axis] = (slice(1, None), slice(None, -1)) if step == 1 else (slice(None, -1), slice(1, None))
        moved[tuple(into)] = images[tuple(out_of)]
        copies.append(moved.reshape(len(X), -1))
    return np.concatenate(copies)


def taught_rows(X, y_semi, labels, *, image_shape=(8, 8), labeled_copies=10, unlabeled=-1):
    """``(X_taught, y_taught)``: the rows :func:`balanced_student` learns from, for any classifier.

    ``labels`` holds a label for every row of ``X`` (e.g. :func:`class_mass_labels` of LabelSpreading's
    probabilities, which keeps the given labels of ``y_semi``); the rows that ``y_semi`` labels enter
    ``labeled_copies`` times, so that the given labels weigh more than the propagated ones, and every
    row enters with its four one-pixel shifts (:func:`shifted_copies`), each with its row's label.
    """
    labels = np.asarray(labels)
    if len(labels) != len(X) or len(y_semi) != len(X):
        raise ValueError(f"X has {len(X)} rows, but labels has {len(labels)} and y_semi {len(y_semi)}: "
                         "the taught rows need one of each per row.")
    given = np.flatnonzero(np.asarray(y_semi) != unlabeled)
    rows = np.concatenate([np.arange(len(X))] + [given] * (labeled_copies - 1))
    return shifted_copies(np.asarray(X)[rows], image_shape), np.tile(labels[rows], 5)


def shifted_spreading_labels(X, y_semi, *, image_shape=(8, 8)):
    """``(labels, spreading)``: a label for every row of ``X`` from LabelSpreading on the images and their shifts.

    The demo's LabelSpreading (MinMax scaling, a 10-nearest-neighbour graph) is fitted on
    :func:`shifted_copies` of ``X``, each copy of a row labeled as ``y_semi`` labels the row (-1:
    unlabeled, scikit-learn's marker), so that the graph links digits one pixel apart. Each row's class
    probabilities are the mean over its five copies, rebalanced to the labeled rows' class shares by
    :func:`class_mass_labels`; the given labels are kept. ``spreading`` is the fitted pipeline, whose
    ``predict`` labels new rows (a vote of their nearest rows and shifts). Neither input is modified.
    """
    y_semi = np.asarray(y_semi)
    if len(y_semi) != len(X):
        raise ValueError(f"X has {len(X)} rows but y_semi has {len(y_semi)}: one label (or -1) per row.")
    copies = shifted_copies(X, image_shape)
    spreading = _spreading().fit(copies, np.tile(y_semi, 5))
    probabilities = spreading.predict_proba(copies).reshape(5, len(X), -1).mean(axis=0)
    classes = spreading[-1].classes_
    return class_mass_labels(probabilities, y_semi, classes), spreading


def balanced_student(X, y_semi, labels, *, image_shape=(8, 8), labeled_copies=10, max_iter=40, random_state=None,
                     unlabeled=-1):
    """A convolutional AutoencoderClassifier fitted on every row's label, on shifted copies of the images.

    It learns from :func:`taught_rows`: every row with its label (e.g. LabelSpreading's, class-balanced
    by :func:`class_mass_labels`), the given labels of ``y_semi`` counted ``labeled_copies`` times, each
    row with its four one-pixel shifts, which teach what a nearest-neighbour graph cannot know: a digit
    moved by a pixel is the same digit. The network is a :class:`~skae.DenoisingAutoencoder` (Gaussian
    noise, 32 codes) on :class:`~skae.modules.ConvAutoencoderModule` under the classifier's head;
    settings chosen on a second partition of the digits, not on the demo's test rows
    (``benchmarks/bench_digits_routes.py``, route ``student``).
    """
    X_taught, y_taught = taught_rows(X, y_semi, labels, image_shape=image_shape, labeled_copies=labeled_copies,
                                     unlabeled=unlabeled)
    autoencoder = DenoisingAutoencoder(
        n_components=32, noise="gaussian", noise_level=0.5, module=ConvAutoencoderModule,
        module_params={"image_shape": tuple(image_shape), "channels": (32, 64)},
    )
    return AutoencoderClassifier(autoencoder, max_iter=max_iter, random_state=random_state).fit(X_taught, y_taught)


def _spreading():
    return make_pipeline(MinMaxScaler(), LabelSpreading(kernel="knn", n_neighbors=10))


def _few_labels(X_train, y_train, X_test, y_test, per_class, draws, student_max_iter, ladder_max_iter=None):
    names = ["LogisticRegression on the labeled rows", SPREAD, SPREAD_SHIFTS, BALANCED, SHIFTED, STUDENT]
    if ladder_max_iter is not None:
        names += [LADDER, AGREE]
    scores = {name: [] for name in names}
    seconds = dict.fromkeys(names, 0.0)

    def timed(name, fit):
        start = time.perf_counter()
        model = fit()
        seconds[name] += time.perf_counter() - start
        scores[name].append(model.score(X_test, y_test))
        return model

    for seed in draws:
        y_semi, keep = draw_labels(y_train, per_class, seed)
        timed(names[0], lambda: make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=2000)).fit(
            X_train[keep], y_train[keep]))
        spread = timed(SPREAD, lambda: _spreading().fit(X_train, y_semi))
        # The graph on the images and their one-pixel shifts: labels for every training row, rebalanced to
        # the labeled rows' class shares; its own prediction for the test rows is a kNN vote.
        start = time.perf_counter()
        labels, spread_shifts = shifted_spreading_labels(X_train, y_semi)
        shared = time.perf_counter() - start
        scores[SPREAD_SHIFTS].append(spread_shifts.score(X_test, y_test))
        for name in (SPREAD_SHIFTS, BALANCED, SHIFTED, STUDENT):
            seconds[name] += shared
        # scikit-learn's two-step route (benchmarks/bench_digits_routes.py, shifts_svc): an SVC on them.
        timed(BALANCED, lambda: make_pipeline(MinMaxScaler(), SVC()).fit(X_train, labels))
        # The same SVC on the rows skae's network learns from (the images and their shifts; shifts_svc_shift).
        timed(SHIFTED, lambda: make_pipeline(MinMaxScaler(), SVC()).fit(*taught_rows(X_train, y_semi, labels)))
        # skae's: a convolutional AutoencoderClassifier learns them from the same rows (shifts_student).
        timed(STUDENT, lambda: balanced_student(X_train, y_semi, labels, max_iter=student_max_iter,
                                                random_state=seed))
        if ladder_max_iter is not None:
            ladder = timed(LADDER, lambda: AutoencoderClassifier(max_iter=ladder_max_iter, random_state=seed).fit(
                X_train, y_semi))
            # Co-training by agreement: the rows on which LabelSpreading and the ladder agree become
            # labeled, and LabelSpreading runs again from that larger labeled set. Its time includes both.
            timed(AGREE, lambda: _spreading().fit(X_train, agreement_labels(
                y_semi, spread[-1].transduction_, ladder.predict(X_train))))
    if ladder_max_iter is not None:
        seconds[AGREE] += seconds[SPREAD] + seconds[LADDER]
    return scores, seconds


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
        err = error(PCA(k, random_state=seed).fit(noisy_train))
        if best is None or err < best[0]:
            best = (err, k)
    rows["PCA, best of K = 8/16/24/32"] = (best[0], time.perf_counter() - start, f"K={best[1]}")
    start = time.perf_counter()
    dae = DenoisingAutoencoder(n_components=32, noise="gaussian", noise_level=1.0, max_iter=max_iter,
                               random_state=seed)
    dae.fit(noisy_train)
    rows["skae DenoisingAutoencoder(32)"] = (error(dae), time.perf_counter() - start, "K=32")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m skae", description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", type=int, default=3)
    parser.add_argument("--draws", type=int, default=3, help="label draws (seeds 0, 1, ...) to average")
    parser.add_argument("--student-max-iter", type=int, default=40,
                        help="epochs of skae's AutoencoderClassifier on LabelSpreading's labels (default 40)")
    parser.add_argument("--with-ladder", action="store_true",
                        help="also skae's default AutoencoderClassifier (a ladder network) alone and its agreement "
                             "with LabelSpreading (about 9 s a draw more)")
    parser.add_argument(
        "--max-iter", type=int, default=40,
        help="with --with-ladder, epochs of the ladder network (default 40; its own default is 200)",
    )
    parser.add_argument("--noise", type=float, default=0.25, help="noise std on pixels in [0, 1]")
    parser.add_argument("--denoising-max-iter", type=int, default=200,
                        help="epochs of the denoising autoencoder (its default, 200)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=500, random_state=0, stratify=y)
    print(f"skae {__version__} demo on scikit-learn's digits: {len(X_train)} training, {len(X_test)} test images")

    with warnings.catch_warnings():
        # Fixed epoch budgets, on purpose: no convergence expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        denoise = _denoising(X_train, X_test, args.noise, seed=0, max_iter=args.denoising_max_iter)
        print(f"\n1. Denoising: Gaussian noise of std {args.noise} on the pixels (in [0, 1]); mean squared "
              "error of the cleaned test images")
        print(f"   {'model':<{WIDTH}} {'error':>9} {'':>20} {'fit s':>7}")
        for name, (err, sec, note) in denoise.items():
            print(f"   {name:<{WIDTH}} {err:>9.4f} {note:>20} {sec:>7.1f}", flush=True)
        scores, seconds = _few_labels(
            X_train, y_train, X_test, y_test, args.labels_per_class, range(args.draws), args.student_max_iter,
            ladder_max_iter=args.max_iter if args.with_ladder else None,
        )

    n_labels = 10 * args.labels_per_class
    print(f"\n2. Few labels: {n_labels} labeled training images, the rest unlabeled "
          f"(test accuracy, mean of {args.draws} label draws)")
    print(f"   {'model':<{WIDTH}} {'accuracy':>9} {'sd':>6} {'min':>6} {'max':>6} {'fit s':>7}")
    for name, vals in scores.items():
        label = name if name != LADDER else f"skae AutoencoderClassifier(max_iter={args.max_iter}) (ladder)"
        print(f"   {label:<{WIDTH}} {np.mean(vals):>9.3f} {np.std(vals):>6.3f} {min(vals):>6.3f} {max(vals):>6.3f} "
              f"{seconds[name] / len(vals):>7.1f}")
    pca, dae = denoise["PCA, best of K = 8/16/24/32"][0], denoise["skae DenoisingAutoencoder(32)"][0]
    if dae < pca:
        denoising = (f"the denoising autoencoder removes noise PCA cannot ({dae:.4f} against {pca:.4f}, "
                     f"{100 * (1 - dae / pca):.0f} % less error).")
    else:
        denoising = f"the denoising autoencoder does not beat PCA here ({dae:.4f} against {pca:.4f})."
    print(f"\nIn short: {denoising} {_few_labels_summary(scores, n_labels)} "
          f"Wall time {time.perf_counter() - start:.0f} s.")


def _versus(scores, route, baseline):
    """How ``route`` compares with ``baseline``, draw by draw, in words."""
    gain = np.asarray(scores[route]) - np.asarray(scores[baseline])
    sd = max(np.std(scores[route]), np.std(scores[baseline]))
    if len(gain) < 2:
        verdict = "one draw: no spread to compare with"
    elif gain.mean() > sd:
        verdict = "more than one sd of either route's draws"
    elif -gain.mean() > sd:
        verdict = "behind by more than one sd of either route's draws"
    else:
        verdict = "within the spread over label draws"
    return f"{gain.mean():+.3f}, ahead in {np.sum(gain > 0)} of {len(gain)} draws, {verdict}"


def _few_labels_summary(scores, n_labels):
    lr = np.mean(scores["LogisticRegression on the labeled rows"])
    spread, spread_shifts, balanced, shifted, student = (
        np.mean(scores[name]) for name in (SPREAD, SPREAD_SHIFTS, BALANCED, SHIFTED, STUDENT))
    text = (f"With {n_labels} labels LogisticRegression reaches {lr:.3f} and LabelSpreading {spread:.3f}; "
            f"on a graph of the images and their one-pixel shifts, which links digits a pixel apart, "
            f"LabelSpreading's own prediction reaches {spread_shifts:.3f}, and its labels rebalanced to the "
            f"labeled classes' shares, then an SVC, {balanced:.3f}. Taught those labels on the images and their "
            f"shifts, skae's convolutional AutoencoderClassifier reaches {student:.3f} "
            f"({_versus(scores, STUDENT, SPREAD)} against LabelSpreading) and scikit-learn's SVC {shifted:.3f} "
            f"(skae {_versus(scores, STUDENT, SHIFTED)} against it): on these 8x8 images the shifts carry the "
            f"gain, for either model.")
    if LADDER in scores:
        ladder, agree = np.mean(scores[LADDER]), np.mean(scores[AGREE])
        text += (f" The ladder alone, with no teacher, gets {ladder:.3f}, and the rows where it agrees with "
                 f"LabelSpreading, spread again, {agree:.3f} ({_versus(scores, AGREE, SPREAD)}).")
    return text


if __name__ == "__main__":
    main()
