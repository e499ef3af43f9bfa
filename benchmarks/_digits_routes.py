"""The few-labels routes of ``bench_digits_routes.py`` on the 8x8 digits: research helpers, not skae's API.

LabelSpreading on a graph of the images and their one-pixel shifts (:func:`shifted_spreading_labels`),
its labels rebalanced to the labeled rows' class shares (:func:`class_mass_labels`), and a convolutional
AutoencoderClassifier taught them on the shifted images (:func:`balanced_student`, a noisy student), or
the same rows for any classifier (:func:`taught_rows`). They were ``python -m skae``'s second part until
issue 35; their tests are ``tests/test_digits_routes.py``, their figures ``benchmarks/RESULTS.md``.
"""

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.semi_supervised import LabelSpreading

from skae import AutoencoderClassifier, DenoisingAutoencoder
from skae.modules import ConvAutoencoderModule


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

    The routes' LabelSpreading (MinMax scaling, a 10-nearest-neighbour graph) is fitted on
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
    settings chosen on a second partition of the digits, not on the test rows of its split
    (``bench_digits_routes.py``, route ``student``).
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
