"""Behaviour of AutoencoderOutlierDetector: it flags what it should, in scikit-learn's conventions."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skae import (
    VAE,
    Autoencoder,
    AutoencoderClassifier,
    AutoencoderOutlierDetector,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def plane_with_outliers(n_inliers=200, n_outliers=10, n_features=10, seed=0):
    """Rows near a 2-D plane through the origin, then rows off it at the same distance from 0.

    Returns ``X`` (inliers first) and the boolean mask of the outliers.
    """
    rng = np.random.RandomState(seed)
    basis = np.linalg.qr(rng.normal(size=(n_features, 2)))[0].T  # orthonormal rows
    inliers = rng.normal(size=(n_inliers, 2)) @ basis + 0.01 * rng.normal(size=(n_inliers, n_features))
    # Outliers: directions orthogonal to the plane, with the inliers' typical norm.
    off = rng.normal(size=(n_outliers, n_features))
    off -= off @ basis.T @ basis
    off *= np.sqrt(2) / np.linalg.norm(off, axis=1, keepdims=True)
    X = np.vstack([inliers, off]).astype(np.float32)
    return X, np.r_[np.zeros(n_inliers, bool), np.ones(n_outliers, bool)]


def linear_ae(**kw):
    """A linear autoencoder with a 2-D code: PCA's subspace, so it learns the plane (no weight decay,
    which would shrink the reconstruction of rows far out on the plane)."""
    params = dict(
        n_components=2, hidden_layer_sizes=(), activation="identity", learning_rate_init=0.01, batch_size=32,
        max_iter=60, random_state=0, alpha=0.0,
    )
    return Autoencoder(**{**params, **kw})


def small_ae(cls=Autoencoder, **kw):
    return cls(**{"n_components": 2, "hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0, **kw})


@pytest.fixture(scope="module")
def plane():
    X, is_outlier = plane_with_outliers()
    with warnings.catch_warnings():  # 60 epochs, on purpose: their ConvergenceWarning is expected
        warnings.simplefilter("ignore", ConvergenceWarning)
        return X, is_outlier, AutoencoderOutlierDetector(linear_ae(), contamination=10 / 210).fit(X)


# ------------------------------------------------------------------------------------------ oracles


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_flags_exactly_the_rows_off_the_manifold(plane):
    # With contamination equal to the true proportion, the flagged rows are exactly the injected ones.
    X, is_outlier, det = plane
    pred = det.predict(X)
    np.testing.assert_array_equal(pred == -1, is_outlier)
    np.testing.assert_array_equal(det.fit_predict(X), pred)
    # And new rows: on the plane (a mix of training inliers) versus off it.
    X_new = np.vstack([X[:5] + X[5:10], X[-3:] * 2])
    np.testing.assert_array_equal(det.predict(X_new), [1] * 5 + [-1] * 3)


def test_auto_contamination_is_tukeys_fence_and_finds_the_outliers(plane):
    X, is_outlier, fixed = plane
    det = clone(fixed).set_params(contamination="auto").fit(X)
    scores = det.score_samples(X)
    q1, q3 = np.percentile(scores, [25, 75])
    assert det.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1), rel=1e-12)
    flagged = det.predict(X) == -1
    assert flagged[is_outlier].all()  # every injected row
    assert flagged[~is_outlier].mean() < 0.05  # and few of the others


def test_detects_other_digits_among_zeros():
    # The task autoencoders are for: rare images unlike the rest (5% other digits among the zeros).
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.RandomState(0)
    others = rng.choice(np.flatnonzero(y != 0), 9, replace=False)
    rows = np.r_[np.flatnonzero(y == 0), others]
    # Dropout, as in the detector's default autoencoder: 200 epochs of small batches on 187 rows would
    # otherwise let the network learn the 9 outliers too.
    det = AutoencoderOutlierDetector(
        Autoencoder(n_components=4, hidden_layer_sizes=(32,), dropout=0.2, random_state=0)
    )
    det.fit(X[rows])
    assert roc_auc_score(y[rows] != 0, -det.score_samples(X[rows])) > 0.9
    # Held-out digits: every other digit not used in training versus nothing — most are flagged.
    unseen = np.setdiff1d(np.flatnonzero(y != 0), others)
    assert (det.predict(X[unseen]) == -1).mean() > 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_predict_ranks_the_training_outliers_at_the_defaults(seed):
    # Issue 22.2: at the defaults, ~190 training rows (one digit plus 9 others) are trained on long
    # enough that the network reconstructs its own outliers: ranked by reconstruction error alone,
    # the training rows' ROC-AUC was 0.73 / 0.74 (seeds 0 / 1). The code distance still sees them:
    # 0.970 / 0.988 (measured 2026-12-03); fit_predict flagged 6 and 7 of the 9, and 4 and 3 inliers.
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.RandomState(seed)
    rows = np.r_[np.flatnonzero(y == 1), rng.choice(np.flatnonzero(y != 1), 9, replace=False)]
    det = AutoencoderOutlierDetector(random_state=seed, contamination=0.05)
    flagged = det.fit_predict(X[rows]) == -1
    is_outlier = y[rows] != 1
    auc = roc_auc_score(is_outlier, -det.score_samples(X[rows]))
    reconstruction_only = roc_auc_score(is_outlier, -det.autoencoder_.score_samples(X[rows]))
    assert auc > 0.95 and auc > reconstruction_only + 0.1
    # fit_predict flags them: most of the 9 outliers, few of the ~180 inliers.
    assert flagged[is_outlier].mean() > 0.5 and flagged[~is_outlier].mean() < 0.04


def test_code_distance_sees_outliers_on_the_manifold(plane):
    # Rows on the plane but far from the inliers are reconstructed perfectly by the linear
    # autoencoder: only their codes give them away.
    X, is_outlier, _ = plane
    X_in = X[~is_outlier]
    rng = np.random.RandomState(3)
    pca = PCA(2).fit(X_in)
    directions = rng.normal(size=(10, 2))
    # On the plane (without the inliers' noise), at 5 standard deviations from its centre.
    far = pca.inverse_transform(5 * np.sqrt(pca.explained_variance_) * directions
                                / np.linalg.norm(directions, axis=1, keepdims=True)).astype(np.float32)
    rows = np.vstack([X_in, far])
    truth = np.r_[np.zeros(len(X_in), bool), np.ones(10, bool)]
    both = AutoencoderOutlierDetector(linear_ae(), contamination=10 / 210).fit(rows)
    error_only = AutoencoderOutlierDetector(linear_ae(), code_distance=False, contamination=10 / 210).fit(rows)
    np.testing.assert_array_equal(both.predict(rows) == -1, truth)
    assert roc_auc_score(truth, -error_only.score_samples(rows)) < 0.5
    # The rows off the plane are still found with the code distance on.
    det = AutoencoderOutlierDetector(linear_ae(), contamination=10 / 210).fit(X)
    np.testing.assert_array_equal(det.predict(X) == -1, is_outlier)


def test_score_is_the_sum_of_the_three_ratios():
    # The oracle: reconstruction error, squared Mahalanobis distance of the code and squared distance
    # of the reconstruction from the training mean, each divided by its median on the training rows,
    # written out in numpy.
    X = load_digits().data[:150] / 16.0
    det = AutoencoderOutlierDetector(small_ae(n_components=3), contamination=0.1).fit(X)
    ae = det.autoencoder_
    error = -ae.score_samples(X).astype(np.float64)
    Z = ae.transform(X).astype(np.float64)
    centred = Z - Z.mean(axis=0)
    t2 = np.sum(centred @ np.linalg.inv(np.cov(Z, rowvar=False, bias=True)) * centred, axis=1)
    r = ((ae.inverse_transform(ae.transform(X)) - X.mean(axis=0)) ** 2).sum(axis=1)
    expected = -(error / np.median(error) + t2 / np.median(t2) + r / np.median(r))
    np.testing.assert_allclose(det.score_samples(X), expected, rtol=1e-4)
    np.testing.assert_allclose(det.code_mean_, Z.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(det.mean_, X.mean(axis=0))
    assert det.error_offset_ == 0.0  # squared errors: no shift


def test_distance_along_the_manifold_sees_extreme_rows():
    # Breast-cancer-like outliers: rows along the inliers' main direction, reconstructed well, and
    # with codes on the main axis of the codes, 4 standard deviations out. Scaled along it only, they
    # are what the reconstruction's distance from the mean is for.
    rng = np.random.RandomState(0)
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0].T
    inliers = (rng.normal(size=(300, 2)) * [3.0, 1.0]) @ basis + 0.01 * rng.normal(size=(300, 10))
    extreme = (np.c_[rng.choice([-4.0, 4.0], 15) * 3.0, rng.normal(size=15)]) @ basis
    X = np.vstack([inliers, extreme]).astype(np.float32)
    truth = np.r_[np.zeros(300, bool), np.ones(15, bool)]
    det = AutoencoderOutlierDetector(linear_ae(), contamination=15 / 315).fit(X)
    error_only = AutoencoderOutlierDetector(linear_ae(), code_distance=False, contamination=15 / 315).fit(X)
    assert roc_auc_score(truth, -det.score_samples(X)) > 0.99
    assert roc_auc_score(truth, -error_only.score_samples(X)) < 0.6


def test_constant_code_units_give_finite_scores():
    # Fewer training rows than code units: the codes' covariance is singular.
    X = np.random.RandomState(0).rand(3, 6)
    det = AutoencoderOutlierDetector(small_ae(n_components=4), contamination=0.3).fit(X)
    assert np.isfinite(det.score_samples(np.random.RandomState(1).rand(5, 6))).all()


@pytest.mark.parametrize(
    "contamination, n_flagged", [(0.005, 1), (0.05, 10), (0.1, 20), (0.25, 50), (0.5, 100)]
)
def test_contamination_is_the_fraction_flagged_on_the_training_rows(contamination, n_flagged):
    X = np.random.RandomState(0).normal(size=(200, 6))
    det = AutoencoderOutlierDetector(small_ae(), contamination=contamination).fit(X)
    assert (det.predict(X) == -1).sum() == n_flagged
    assert (det.fit_predict(X) == -1).sum() == n_flagged
    assert det.offset_ == np.percentile(det.score_samples(X), 100 * contamination)


@pytest.mark.parametrize(
    "cls", [Autoencoder, SparseAutoencoder, DenoisingAutoencoder, ContractiveAutoencoder, VAE],
    ids=lambda c: c.__name__,
)
def test_every_autoencoder_and_its_own_score(cls):
    X = load_digits().data[:150] / 16.0
    det = AutoencoderOutlierDetector(small_ae(cls), code_distance=False, contamination=0.1).fit(X)
    assert type(det.autoencoder_) is cls and det.autoencoder_.n_iter_ == 5
    scores = det.score_samples(X)
    # The wrapped autoencoder's score (negative error; the VAE's ELBO) to float32 precision, in float64.
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, det.autoencoder_.score_samples(X), rtol=1e-5, atol=1e-6)
    assert (det.predict(X) == -1).sum() == 15
    assert det.code_mean_ is None and det.error_offset_ is None and det.score_scales_ is None
    # With the code distance (the default) too, and the same fraction flagged; for the VAE, whose
    # negative ELBO may be negative, the errors are shifted to a minimum of 0 first.
    det = AutoencoderOutlierDetector(small_ae(cls), contamination=0.1).fit(X)
    scores = det.score_samples(X)
    low = det.error_offset_
    assert np.isfinite(scores).all() and low <= 0 and (det.score_scales_ > 0).all()
    assert np.median(-det.autoencoder_.score_samples(X) - low) == pytest.approx(det.score_scales_[0], rel=1e-5)
    assert (det.predict(X) == -1).sum() == 15


def test_offset_decision_function_and_predict_agree(plane):
    X, _, det = plane
    scores = det.score_samples(X)
    decision = det.decision_function(X)
    np.testing.assert_array_equal(decision, scores - det.offset_)
    np.testing.assert_array_equal(det.predict(X), np.where(decision < 0, -1, 1))
    assert isinstance(det.offset_, float)
    pred = det.predict(X)
    assert pred.dtype.kind == "i" and set(np.unique(pred)) == {-1, 1}


def test_a_rows_score_does_not_depend_on_the_other_rows():
    # Bit for bit: one row alone, in a shuffled batch, or across a block boundary (> 256 rows).
    # 8 features: with 5, the float32 kernels on an AMD EPYC (AVX2, no AVX-512) round a row's
    # products by its position in the block (about 1e-7 relative; measured with raw torch matmuls),
    # which no padding removes.
    X = np.random.RandomState(0).normal(size=(600, 8))
    det = AutoencoderOutlierDetector(small_ae(), contamination=0.1).fit(X)
    full = det.score_samples(X)
    perm = np.random.RandomState(1).permutation(600)
    np.testing.assert_array_equal(det.score_samples(X[perm]), full[perm])
    for i in (0, 255, 256, 599):
        assert det.score_samples(X[i : i + 1])[0] == full[i]
    np.testing.assert_array_equal(det.score_samples(X[250:270]), full[250:270])
    # So predict on one row agrees with predict on all of them, even right at the threshold.
    np.testing.assert_array_equal([det.predict(X[i : i + 1])[0] for i in range(0, 600, 7)], det.predict(X)[::7])


def test_sparse_input_gives_the_dense_scores():
    X = np.random.RandomState(0).rand(40, 6)
    X[X < 0.5] = 0
    det = AutoencoderOutlierDetector(small_ae(), contamination=0.1).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(det.score_samples(sp.csr_matrix(X)), det.score_samples(X))
    np.testing.assert_array_equal(det.predict(sp.csc_matrix(X)), det.predict(X))


# ------------------------------------------------------------------------------------------ composition


def test_frozen_autoencoder_is_used_as_it_is(plane):
    X, is_outlier, _ = plane
    ae = linear_ae().fit(X[~is_outlier])  # e.g. trained beforehand on clean data
    weights = [p.detach().clone() for p in ae.module_.parameters()]
    det = AutoencoderOutlierDetector(FrozenEstimator(ae), contamination=10 / 210).fit(X)
    assert det.autoencoder_.estimator is ae
    assert all((p == w).all() for p, w in zip(ae.module_.parameters(), weights))  # not refitted
    np.testing.assert_array_equal(det.predict(X) == -1, is_outlier)


def test_frozen_autoencoder_fitted_on_a_frame_checks_the_names_once(plane):
    # The detector passes its validated arrays to the autoencoder: one fitted on a DataFrame warned
    # "X does not have valid feature names" on every block of every call (12 times for 300 rows),
    # and took another frame's columns without a word.
    X, is_outlier, _ = plane
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ae = linear_ae().fit(frame[~is_outlier])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det = AutoencoderOutlierDetector(FrozenEstimator(ae), contamination=10 / 210).fit(frame)
        scores = det.score_samples(frame)
        np.testing.assert_array_equal(det.predict(frame) == -1, is_outlier)
    with pytest.warns(UserWarning, match="X does not have valid feature names") as record:
        plain = AutoencoderOutlierDetector(FrozenEstimator(ae), contamination=10 / 210).fit(X)
        np.testing.assert_array_equal(plain.score_samples(X), scores)
    assert len(record) == 1  # once, at fit
    renamed = frame.rename(columns=lambda c: "g" + c[1:])
    with pytest.raises(ValueError, match="feature names should match those that were passed during fit"):
        AutoencoderOutlierDetector(FrozenEstimator(ae)).fit(renamed)


def test_in_a_pipeline_and_a_grid_search():
    X, y = load_digits(return_X_y=True)
    rows = np.r_[np.flatnonzero(y == 1), np.flatnonzero(y == 7)[:10]]
    X, is_inlier = X[rows], (y[rows] == 1).astype(int)
    pipe = make_pipeline(StandardScaler(), AutoencoderOutlierDetector(small_ae(), contamination=0.05))
    pred = pipe.fit_predict(X)
    assert (pred == -1).sum() == np.ceil(0.05 * len(X))
    np.testing.assert_array_equal(pipe.predict(X), pred)
    np.testing.assert_array_equal(pipe.decision_function(X) < 0, pred == -1)
    assert pipe.score_samples(X).shape == (len(X),)
    # The wrapped autoencoder's parameters are tuned like any nested parameter; roc_auc ranks the
    # decision function (high = inlier) against labels with inliers as the positive class.
    search = GridSearchCV(
        pipe,
        {"autoencoderoutlierdetector__autoencoder__n_components": [1, 4]},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X, is_inlier)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    # The detector ranks the held-out 7s below the 1s in every candidate (chance is 0.5; a decision
    # function of the wrong sign would score below it), and the refit carries the chosen size.
    assert search.cv_results_["mean_test_score"].min() > 0.6
    best = search.best_params_["autoencoderoutlierdetector__autoencoder__n_components"]
    assert search.best_estimator_[-1].autoencoder_.n_components == best


def test_feature_names_and_pandas():
    X = np.random.RandomState(0).rand(50, 4)
    df = pd.DataFrame(X, columns=list("abcd"))
    det = AutoencoderOutlierDetector(small_ae(), contamination=0.1).fit(df)
    np.testing.assert_array_equal(det.feature_names_in_, list("abcd"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning from the detector or the autoencoder
        pred = det.predict(df)
    np.testing.assert_array_equal(pred, AutoencoderOutlierDetector(small_ae(), contamination=0.1).fit(X).predict(X))
    with pytest.raises(ValueError, match="feature names"):
        det.predict(df[list("dcba")])


def test_pickle_roundtrip_is_bit_identical(plane):
    # (test_persistence.py checks, for every estimator, that the payload holds no torch storage.)
    X, _, det = plane
    loaded = pickle.loads(pickle.dumps(det))
    assert loaded.offset_ == det.offset_
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
    np.testing.assert_array_equal(loaded.predict(X), det.predict(X))


def test_skops_needs_only_the_two_skae_classes(plane):
    skops_io = pytest.importorskip("skops.io")
    X, _, det = plane
    payload = skops_io.dumps(det)
    assert sorted(skops_io.get_untrusted_types(data=payload)) == [
        "skae._autoencoder.Autoencoder",
        "skae._outlier.AutoencoderOutlierDetector",
    ]
    loaded = skops_io.loads(payload, trusted=skops_io.get_untrusted_types(data=payload))
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))


def test_default_autoencoder_and_clone_leave_the_parameter_alone():
    ae = small_ae()
    det = AutoencoderOutlierDetector(ae).fit(np.random.RandomState(0).rand(30, 4))
    assert det.autoencoder is ae and not hasattr(ae, "module_")  # a clone was fitted
    for n_features, k in [(1, 1), (3, 1), (30, 15), (64, 32), (784, 32)]:
        made = AutoencoderOutlierDetector()._make_autoencoder(n_features)
        assert type(made) is Autoencoder and made.n_components == k
        assert made.get_params() == Autoencoder(n_components=k, dropout=0.2, alpha=0.0).get_params()


def test_random_state_seeds_the_autoencoder():
    X = np.random.RandomState(0).rand(40, 6)
    ae = small_ae(random_state=None)
    a = AutoencoderOutlierDetector(ae, random_state=3).fit(X)
    b = AutoencoderOutlierDetector(small_ae(random_state=3)).fit(X)
    assert a.autoencoder_.random_state == 3 and ae.random_state is None
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    # None leaves the autoencoder's own seed in charge; the default autoencoder is seeded too.
    assert AutoencoderOutlierDetector(small_ae(random_state=5)).fit(X).autoencoder_.random_state == 5
    c, d = (AutoencoderOutlierDetector(random_state=0).fit(X) for _ in range(2))
    np.testing.assert_array_equal(c.score_samples(X), d.score_samples(X))
    assert c.offset_ == d.offset_


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("contamination", [0, -0.1, 0.6, 1, "0.1", "none", None])
def test_bad_contamination(contamination):
    det = AutoencoderOutlierDetector(small_ae(), contamination=contamination)
    with pytest.raises(InvalidParameterError, match=r"'contamination' parameter of AutoencoderOutlierDetector must be"):
        det.fit(np.random.rand(20, 3))


def test_bad_autoencoder():
    X = np.random.RandomState(0).rand(20, 3)
    with pytest.raises(InvalidParameterError, match=r"'autoencoder' parameter of AutoencoderOutlierDetector"):
        AutoencoderOutlierDetector(PCA()).fit(X)
    for bad in (AutoencoderClassifier(), FrozenEstimator(PCA().fit(X))):
        with pytest.raises(TypeError, match="autoencoder must be a skae autoencoder"):
            AutoencoderOutlierDetector(bad).fit(X)
    # The wrapped autoencoder's own parameters are validated, in its own words.
    with pytest.raises(InvalidParameterError, match=r"'n_components' parameter of Autoencoder must be"):
        AutoencoderOutlierDetector(Autoencoder(n_components=0)).fit(X)
    with pytest.raises(NotFittedError):  # a frozen autoencoder must have been fitted
        AutoencoderOutlierDetector(FrozenEstimator(small_ae())).fit(X)


def test_bad_data():
    X = np.random.RandomState(0).rand(30, 4)
    det = AutoencoderOutlierDetector(small_ae())
    with pytest.raises(NotFittedError):
        det.predict(X)
    det.fit(X)
    for method in ("predict", "decision_function", "score_samples"):
        with pytest.raises(ValueError, match="X has 3 features, but AutoencoderOutlierDetector is expecting 4"):
            getattr(det, method)(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        det.predict(np.where(X > 0.9, np.nan, X))
    with pytest.raises(ValueError, match="needs X in \\[0, 1\\]"):  # loss="bce" with negative values
        AutoencoderOutlierDetector(small_ae(loss="bce")).fit(X - 0.5)
