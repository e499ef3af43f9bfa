"""The research helpers of ``benchmarks/bench_digits_routes.py`` (``benchmarks/_digits_routes.py``)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.semi_supervised import LabelSpreading

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import _digits_routes as routes  # noqa: E402
from _digits_routes import (  # noqa: E402
    agreement_labels,
    balanced_student,
    class_mass_labels,
    shifted_copies,
    shifted_spreading_labels,
    taught_rows,
)


def test_shifted_copies_move_each_image_by_one_pixel_with_zero_fill():
    X = np.array([[1.0, 2, 3, 4, 5, 6]])  # one 2 x 3 image: rows [1 2 3] and [4 5 6]
    before = X.copy()
    copies = shifted_copies(X, (2, 3))
    np.testing.assert_array_equal(copies, [
        [1, 2, 3, 4, 5, 6],  # the image itself
        [0, 1, 2, 0, 4, 5],  # right
        [2, 3, 0, 5, 6, 0],  # left
        [0, 0, 0, 1, 2, 3],  # down
        [4, 5, 6, 0, 0, 0],  # up
    ])
    np.testing.assert_array_equal(X, before)
    with pytest.raises(ValueError, match=r"image_shape=\(8, 8\) need 64 features"):
        shifted_copies(np.zeros((3, 63)), (8, 8))


def test_shifted_spreading_labels_keep_the_given_labels_and_beat_the_pixel_graphs():
    """The teacher of the shifts routes: every row labeled, the given labels kept, the inputs
    untouched, and fewer wrong labels than the same LabelSpreading on the pixels alone, class-balanced
    in the same way: on the demo's former split, 3 labels per class, draws 0-2, measured 0.035 / 0.057 /
    0.049 of the rows wrong against 0.045 / 0.080 / 0.062 (LabelSpreading has no randomness; five
    draws on two splits: benchmarks/log/RESULTS-log.md, 2026-12-04 21:03)."""
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X / 16.0, y, test_size=500, random_state=0, stratify=y)
    wrong, plain_wrong = [], []
    for seed in range(3):
        y_semi, keep = routes.draw_labels(y_train, 3, seed)
        X_before, y_before = X_train.copy(), y_semi.copy()
        labels, spreading = shifted_spreading_labels(X_train, y_semi)
        np.testing.assert_array_equal(X_train, X_before)
        np.testing.assert_array_equal(y_semi, y_before)
        assert labels.shape == y_train.shape and set(np.unique(labels)) == set(range(10))
        np.testing.assert_array_equal(labels[keep], y_train[keep])
        assert spreading.predict(X_train[:5]).shape == (5,)  # it labels new rows too
        plain = routes._spreading().fit(X_train, y_semi)
        plain_labels = class_mass_labels(plain.predict_proba(X_train), y_semi, plain[-1].classes_)
        wrong.append(np.mean(labels != y_train))
        plain_wrong.append(np.mean(plain_labels != y_train))
    assert all(a < b for a, b in zip(wrong, plain_wrong)), (wrong, plain_wrong)
    assert np.mean(wrong) < np.mean(plain_wrong) - 0.01, (wrong, plain_wrong)
    with pytest.raises(ValueError, match="X has 1297 rows but y_semi has 3"):
        shifted_spreading_labels(X_train, y_semi[:3])
    with pytest.raises(ValueError, match=r"image_shape=\(7, 7\) need 49 features"):
        shifted_spreading_labels(X_train, y_semi, image_shape=(7, 7))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_balanced_student_generalises_from_every_rows_label():
    """Every training row labeled (here by its true label, as a perfect teacher would): the student
    predicts held-out digits; mismatched lengths are refused."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    y_semi = np.full_like(y[:600], -1)
    y_semi[:50] = y[:50]
    student = balanced_student(X[:600], y_semi, y[:600], max_iter=15, random_state=0)
    assert student.n_features_in_ == 64
    np.testing.assert_array_equal(student.classes_, np.arange(10))
    assert student.score(X[600:1000], y[600:1000]) > 0.9
    with pytest.raises(ValueError, match="one of each per row"):
        balanced_student(X[:600], y_semi, y[:599])


def test_taught_rows_count_the_given_labels_labeled_copies_times():
    """Every row once and each labeled row ``labeled_copies - 1`` times more, all five shifts of each,
    with the teacher's labels (the labeled rows' own)."""
    X = np.arange(4 * 4, dtype=float).reshape(4, 4)
    y_semi = np.array([-1, 1, -1, -1])
    labels = np.array([0, 1, 2, 0])
    X_taught, y_taught = taught_rows(X, y_semi, labels, image_shape=(2, 2), labeled_copies=3)
    rows = [0, 1, 2, 3, 1, 1]
    assert X_taught.shape == (5 * len(rows), 4)
    np.testing.assert_array_equal(X_taught[: len(rows)], X[rows])
    np.testing.assert_array_equal(X_taught, shifted_copies(X[rows], (2, 2)))
    np.testing.assert_array_equal(y_taught, np.tile(labels[rows], 5))
    with pytest.raises(ValueError, match="one of each per row"):
        taught_rows(X, y_semi[:3], labels)


def test_balanced_student_is_fitted_on_the_taught_rows(monkeypatch):
    seen = {}

    def fit(self, X, y):
        seen["X"], seen["y"] = X, y
        return self

    monkeypatch.setattr(routes.AutoencoderClassifier, "fit", fit)
    X = np.random.RandomState(0).rand(6, 4)
    y_semi = np.array([-1, 1, -1, 0, -1, -1])
    labels = np.array([0, 1, 1, 0, 0, 1])
    student = balanced_student(X, y_semi, labels, image_shape=(2, 2), labeled_copies=4)
    X_taught, y_taught = taught_rows(X, y_semi, labels, image_shape=(2, 2), labeled_copies=4)
    np.testing.assert_array_equal(seen["X"], X_taught)
    np.testing.assert_array_equal(seen["y"], y_taught)
    assert student.autoencoder.module is routes.ConvAutoencoderModule
    assert student.autoencoder.module_params["image_shape"] == (2, 2)


def test_agreement_labels_adds_only_rows_where_both_models_agree():
    y_semi = np.array([0, -1, -1, -1, 1, -1])
    first = np.array([1, 0, 1, 2, 1, 0])   # disagrees with the given label of row 0: ignored
    second = np.array([0, 0, 2, 2, 0, 1])
    y_new = agreement_labels(y_semi, first, second)
    np.testing.assert_array_equal(y_new, [0, 0, -1, 2, 1, -1])
    np.testing.assert_array_equal(y_semi, [0, -1, -1, -1, 1, -1])  # the input is not modified


def test_agreement_with_the_spreading_itself_is_its_transduction():
    """Agreeing with LabelSpreading's own labels labels every row by them (the mechanics end to end)."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    y_semi = np.full_like(y, -1)
    y_semi[:30] = y[:30]
    spread = LabelSpreading(kernel="knn", n_neighbors=10).fit(X, y_semi)
    y_new = agreement_labels(y_semi, spread.transduction_, spread.predict(X))
    assert np.all(y_new[:30] == y[:30])
    assert np.mean(y_new != -1) > 0.95
    refit = LabelSpreading(kernel="knn", n_neighbors=10).fit(X, y_new)
    assert refit.score(X[30:], y[30:]) >= spread.score(X[30:], y[30:]) - 0.02


def test_class_mass_labels_match_the_labeled_rows_class_shares():
    """Probabilities that lean to one class in every row, on top of each row's own class: the argmax
    gives that class to all, while after rescaling every column to the labeled rows' class shares (here
    equal, as the true shares nearly are) each unlabeled row gets its own class back; labeled rows keep
    their label and neither input is modified."""
    rng = np.random.RandomState(0)
    n, classes = 300, np.array([3, 5, 7])
    true = rng.randint(3, size=n)
    P = np.full((n, 3), 0.1)
    P[np.arange(n), true] += 0.3
    P[:, 0] += 0.5  # every row leans to class 3
    P /= P.sum(axis=1, keepdims=True)
    y_semi = np.full(n, -1)
    y_semi[:6] = classes[[0, 1, 2, 0, 1, 2]]
    P_before, y_before = P.copy(), y_semi.copy()
    labels = class_mass_labels(P, y_semi, classes)
    assert np.all(classes[P.argmax(axis=1)] == 3)  # without normalisation: one class for all
    np.testing.assert_array_equal(labels[:6], y_semi[:6])
    np.testing.assert_array_equal(labels[6:], classes[true[6:]])
    np.testing.assert_array_equal(P, P_before)
    np.testing.assert_array_equal(y_semi, y_before)
