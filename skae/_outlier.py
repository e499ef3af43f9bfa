"""Autoencoders as outlier detectors, in scikit-learn's conventions (IsolationForest, LocalOutlierFactor)."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._autoencoder import Autoencoder
from ._base import BaseAutoencoder
from ._classifier import AutoencoderClassifier
from ._integrity import check_state_digest, seal
from ._params import store_params

__all__ = ["AutoencoderOutlierDetector"]

# Rows per call to the autoencoder's score_samples. Every call gets exactly this many rows (the last
# block is padded with copies of its first row), so that a row's score never depends on which rows
# it is scored with: float32 matrix products round differently with the number of rows (by about
# 1e-7 relative), which would make predict on one row disagree with predict on many near the
# threshold, and fail scikit-learn's subset-invariance checks once the scores are float64.
_SCORE_BLOCK = 256

# Tukey's fence for contamination="auto": a row is an outlier when its score lies more than this many
# interquartile ranges below the first quartile of the training scores.
_TUKEY_K = 1.5


# Dropout of the default autoencoder (pyod's AutoEncoder default too). Trained on contaminated rows, an
# autoencoder also learns to reconstruct the outliers among them; dropout slows that memorisation. With
# 5 % other digits among one digit's 8x8 images, the ROC-AUC of the training rows themselves rose from
# 0.88 to 0.95 (held-out rows: 0.991 to 0.992); on MNIST digits 2, 5 and 8 from 0.852 to 0.867.
_DEFAULT_DROPOUT = 0.2


# Ridge on the covariance of the training codes, relative to its mean eigenvalue: a code unit that is
# constant on the training rows (a dead unit, or n_samples <= n_components) must not give infinite
# distances.
_CODE_RIDGE = 1e-6


def _default_code_size(n_features):
    """The default autoencoder's ``n_components``: half the features, at most 32.

    Narrow enough that the network cannot copy its input (an identity map reconstructs outliers as
    well as inliers), wide enough to reconstruct the inliers' detail. On MNIST, the digit 3 against
    5 % other digits, ROC-AUC was 0.83 with a 2-unit code and 0.92 with 32 units; 16, 32 and 64 units
    did about equally well over the digits 1, 3 and 7 (0.952, 0.957, 0.954).
    """
    return min(32, max(1, n_features // 2))


def _unwrap(autoencoder):
    """The skae autoencoder inside ``autoencoder`` (itself, or the one a FrozenEstimator holds)."""
    return autoencoder.estimator if isinstance(autoencoder, FrozenEstimator) else autoencoder


def _as_frame(names):
    """``block -> block`` as the autoencoder was fitted: a pandas DataFrame with ``names`` where it
    was fitted on one (no copy of the block), else the array as it is."""
    if names is None:
        return lambda block: block
    import pandas as pd  # the autoencoder was fitted on a DataFrame

    columns = pd.Index(names)
    return lambda block: pd.DataFrame(block, columns=columns, copy=False)


class AutoencoderOutlierDetector(OutlierMixin, BaseEstimator):
    """Outlier detection with an autoencoder's reconstruction error and code distance.

    An autoencoder trained on mostly normal data reconstructs normal rows well and unusual ones
    badly, and codes normal rows close together. This estimator fits a clone of ``autoencoder`` on X
    and scores each row by its reconstruction error (the negative of the autoencoder's
    :meth:`~skae.Autoencoder.score_samples`; the VAE's negative ELBO) plus, by default, how far
    along the learned manifold it lies from the training rows (the Mahalanobis distance of its code,
    and the distance of its reconstruction from their mean), each term relative to its median on
    the training rows (see Notes). Rows scoring below ``offset_`` are outliers. It follows
    scikit-learn's conventions for outlier detectors (:class:`~sklearn.ensemble.IsolationForest`,
    :class:`~sklearn.neighbors.LocalOutlierFactor`): :meth:`predict` returns +1 for inliers and -1
    for outliers, :meth:`decision_function` is ``score_samples(X) - offset_`` (negative for
    outliers), and :meth:`fit_predict` labels the training rows.

    Read more in the :ref:`User Guide <outlier_detection>`.

    Parameters
    ----------
    autoencoder : skae autoencoder instance, default=None
        The autoencoder whose reconstruction score is thresholded: :class:`Autoencoder`,
        :class:`SparseAutoencoder`, :class:`DenoisingAutoencoder`, :class:`ContractiveAutoencoder`
        or :class:`VAE`, with all its own hyperparameters (``n_components``, ``max_iter``,
        ``random_state`` ...), which a grid search reaches as ``autoencoder__<name>``. It is cloned
        at fit, never modified. A fitted autoencoder wrapped in
        :class:`~sklearn.frozen.FrozenEstimator` is used as it is: :meth:`fit` then only sets the
        threshold. None means ``Autoencoder(n_components=min(32, max(1, n_features // 2)),
        dropout=0.2, alpha=0.0)``, all its other parameters at their defaults: a code half as wide as
        the input, at most 32 units, and dropout against memorising the outliers among the training
        rows.
    contamination : "auto" or float, default="auto"
        The expected proportion of outliers in the training data.

        - float in (0, 0.5]: ``offset_`` is that quantile of the training scores, so that this
          fraction of the training rows is flagged (as in IsolationForest).
        - "auto": Tukey's fence on the training scores, ``offset_ = Q1 - 1.5 * (Q3 - Q1)`` with
          Q1 and Q3 their quartiles: a row is an outlier when its reconstruction is unusually bad
          compared with the bulk of the training rows. The fraction flagged then depends on the
          data (see Notes).
    code_distance : bool, default=True
        Add to a row's reconstruction error two measures of how far along the learned manifold it
        lies from the training rows: the squared Mahalanobis distance of its code
        (``autoencoder_.transform``) from the training codes, and the squared distance of its
        reconstruction from the training rows' mean, in the units of X; each of the three terms is
        divided by its median on the training rows. The reconstruction error sees rows off the
        manifold; the whitened code distance sees training outliers that the network has learned
        to reconstruct (it must code them unlike the inliers); the distance of the reconstruction
        sees rows that are extreme versions of the normal pattern, along the data's main
        directions. False scores by the reconstruction error alone, i.e. :meth:`score_samples` is
        the autoencoder's own score.
    random_state : int, RandomState instance or None, default=None
        When not None, it replaces the autoencoder's own ``random_state`` in the clone that is
        fitted (as :class:`~sklearn.ensemble.BaggingClassifier` seeds its estimators), so that
        ``AutoencoderOutlierDetector(random_state=0)`` is reproducible without spelling out the
        autoencoder. None leaves the autoencoder's own ``random_state`` in charge. Unused with a
        ``FrozenEstimator``, which is not refitted.

    Attributes
    ----------
    autoencoder_ : skae autoencoder
        The fitted clone of ``autoencoder`` (the ``FrozenEstimator`` itself when one is given). Its
        ``transform``, ``inverse_transform``, ``n_iter_`` and ``loss_curve_`` are available.
    offset_ : float
        The threshold on :meth:`score_samples`: ``decision_function = score_samples - offset_``,
        and rows with a negative decision are outliers.
    mean_ : ndarray of shape (n_features_in_,)
        With ``code_distance=True``: the mean of the training rows, from which the distance of each
        row's reconstruction is measured. None otherwise.
    code_mean_ : ndarray of shape (n_components,)
        With ``code_distance=True``: the mean of the training rows' codes. None otherwise.
    code_precision_ : ndarray of shape (n_components, n_components)
        With ``code_distance=True``: the inverse of the training codes' covariance (with a tiny
        ridge, so that constant code units do not give infinite distances). None otherwise.
    error_offset_ : float
        With ``code_distance=True``: the smallest reconstruction error on the training rows if it
        is negative (the VAE's negative ELBO can be), else 0; subtracted from the error. None
        otherwise.
    score_scales_ : ndarray of shape (3,)
        With ``code_distance=True``: the medians, on the training rows, of the three terms of the
        score (the shifted reconstruction error, the code's squared Mahalanobis distance and the
        reconstruction's squared distance from ``mean_``), which divide them. None otherwise.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Outlier detection by random partitioning.
    sklearn.neighbors.LocalOutlierFactor : Outlier detection by local density.
    sklearn.svm.OneClassSVM : Support of the data distribution.
    Autoencoder : The default autoencoder.

    Notes
    -----
    *Scale.* The reconstruction error is summed (or averaged) over features in the units of X, so a
    feature with a large spread dominates it. Put a :class:`~sklearn.preprocessing.StandardScaler`
    (or, for ``loss="bce"``, a :class:`~sklearn.preprocessing.MinMaxScaler`) before the detector in
    a pipeline when the features have different units.

    *contamination="auto".* Reconstruction errors have no natural scale (unlike IsolationForest's
    path-length score, whose "auto" threshold is 0.5 on a normalised scale), so "auto" is a rule on
    the training scores themselves rather than a fixed fraction. Tukey's fence is invariant to the
    units of the score, and being built from quartiles it is not moved by the outliers it is meant
    to find. On well-modelled data the errors are skewed to the right, and the fence flags a few
    percent of the training rows; it flags more where a group of rows is reconstructed clearly
    worse than the rest. pyod's detectors default to ``contamination=0.1``; pass a float when
    the proportion of outliers is known.

    *The score.* With ``code_distance=True``, ``score_samples(x) = -(e(x) / e_med + t(x) / t_med +
    r(x) / r_med)``, where ``e`` is the reconstruction error (``-autoencoder_.score_samples``,
    shifted by ``error_offset_``), ``t`` the squared Mahalanobis distance of the code ``z =
    autoencoder_.transform(x)``, ``(z - code_mean_) @ code_precision_ @ (z - code_mean_)``, ``r`` the
    squared distance ``||autoencoder_.inverse_transform(z) - mean_||²``, and ``e_med``, ``t_med``,
    ``r_med`` their medians on the training rows (``score_scales_``). The first two are the
    autoencoder's version of the pair of statistics that monitor a PCA model, the residual's squared
    norm (Q or SPE) and Hotelling's T² of the scores (Jackson & Mudholkar [4]_), added as ratios to a
    typical value as in Yue & Qin's combined index [5]_; the third keeps the data's own metric along
    the manifold, where T² weighs every code direction alike. The code distance is what finds the
    training set's own outliers in the :meth:`fit_predict` setting, where the network has learned to
    reconstruct them, and the third term finds outliers along the data's main directions (the user
    guide has the measured figures).

    *Training on contaminated data.* The autoencoder is fitted on all of X, outliers included, and
    given enough epochs it learns to reconstruct the rare rows as well, which hides them from a
    reconstruction score (``code_distance=False``) in :meth:`fit_predict`; the code distance still
    sees them, since the network has to code them apart from the inliers. A narrow code (small
    ``n_components``), dropout (the default autoencoder's 0.2) and a modest number of epochs slow the
    memorisation down. For novelty detection, fit on clean data only and :meth:`predict` new rows.

    *Scores.* :meth:`score_samples` returns float64; with ``code_distance=False`` it is the
    autoencoder's score. The autoencoder is
    evaluated on blocks of a fixed number of rows, so that each row's score is bit-for-bit the same
    whichever other rows it is scored with; it agrees with ``autoencoder_.score_samples`` to float32
    precision. (On some CPUs the float32 kernels for a few features, e.g. 5 on an AVX2 AMD EPYC,
    also round a row by its position in the block: there the scores agree to float32 rounding,
    about 1e-7 relative, rather than to the last bit.)

    References
    ----------
    .. [1] Sakurada, M. and Yairi, T., "Anomaly detection using autoencoders with nonlinear
       dimensionality reduction", MLSDA workshop, 2014.
    .. [2] Aggarwal, C. C., "Outlier Analysis", 2nd ed., Springer, 2017, §3.5.
    .. [3] Tukey, J. W., "Exploratory Data Analysis", Addison-Wesley, 1977.
    .. [4] Jackson, J. E. and Mudholkar, G. S., "Control procedures for residuals associated with
       principal component analysis", Technometrics 21(3), 1979.
    .. [5] Yue, H. H. and Qin, S. J., "Reconstruction-based fault identification using a combined
       index", Industrial & Engineering Chemistry Research 40(20), 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import Autoencoder, AutoencoderOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 1)) * [[1.0, -1.0, 0.5, 2.0]]  # rows on a line through 0
    >>> X_new = np.array([[1.0, -1.0, 0.5, 2.0], [1.0, 1.0, 1.0, 1.0]])  # on the line, off it
    >>> det = AutoencoderOutlierDetector(
    ...     Autoencoder(n_components=1, hidden_layer_sizes=(), activation="identity",
    ...                 learning_rate_init=0.01, batch_size=20, max_iter=50, random_state=0),
    ...     contamination=0.05,
    ... ).fit(X)
    >>> det.predict(X_new)
    array([ 1, -1])
    >>> float((det.predict(X) == -1).mean())
    0.05
    """

    _parameter_constraints: dict = {
        "autoencoder": [BaseAutoencoder, FrozenEstimator, None],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "code_distance": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, autoencoder=None, *, contamination="auto", code_distance=True, random_state=None):
        store_params(self, locals())

    def _make_autoencoder(self, n_features):
        if self.autoencoder is None:
            # alpha=0: the detector's default was measured without weight decay (bench_outliers).
            ae = Autoencoder(n_components=_default_code_size(n_features), dropout=_DEFAULT_DROPOUT, alpha=0.0)
        else:
            ae = self.autoencoder
            inner = _unwrap(ae)
            if not isinstance(inner, BaseAutoencoder) or isinstance(inner, AutoencoderClassifier):
                raise TypeError(
                    "autoencoder must be a skae autoencoder instance (Autoencoder, SparseAutoencoder, "
                    "DenoisingAutoencoder, ContractiveAutoencoder, VAE ...), or a fitted one wrapped in "
                    f"sklearn.frozen.FrozenEstimator, got {ae!r}."
                )
            if isinstance(ae, FrozenEstimator):
                return ae  # used as it is: cloning returns it, and it is not refitted
            ae = clone(ae)
        if self.random_state is not None:
            ae.set_params(random_state=self.random_state)
        return ae

    def _validate_X(self, X, reset):
        # The autoencoder's own validation (float32, sparse kept sparse). Values beyond float32's range
        # become inf in the cast and are reported by validate_data; numpy's overflow warning is noise.
        with np.errstate(over="ignore", invalid="ignore"):
            return validate_data(self, X, reset=reset, accept_sparse=("csr", "csc"), dtype=np.float32, order="C")

    @_fit_context(
        # The autoencoder validates its own parameters when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None):
        """Fit the autoencoder on X and set the threshold ``offset_`` from its scores on X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, which may hold outliers.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted detector.
        """
        if isinstance(self.autoencoder, FrozenEstimator):
            # The columns against those the frozen autoencoder was fitted with, in scikit-learn's own
            # validation (names and count only): it then gets this detector's validated arrays.
            validate_data(self.autoencoder.estimator, X, skip_check_array=True, reset=False)
        X = self._validate_X(X, reset=True)
        autoencoder = self._make_autoencoder(X.shape[1])
        self.autoencoder_ = autoencoder.fit(X, None)  # FrozenEstimator.fit requires y
        self.mean_ = self.code_mean_ = self.code_precision_ = None
        self.error_offset_ = self.score_scales_ = None
        if self.code_distance:
            self.mean_ = np.asarray(X.mean(axis=0, dtype=np.float64)).ravel()
        error, codes, spread = self._error_and_codes(X)
        if self.code_distance:
            codes = codes.astype(np.float64)
            self.code_mean_ = codes.mean(axis=0)
            cov = np.atleast_2d(np.cov(codes, rowvar=False, bias=True))
            ridge = _CODE_RIDGE * max(float(np.trace(cov)) / cov.shape[0], np.finfo(np.float32).tiny)
            self.code_precision_ = np.linalg.pinv(cov + ridge * np.eye(cov.shape[0]), hermitian=True)
            # Ratios to the median, in the manner of Yue & Qin's combined index; errors that can be
            # negative (the VAE's negative ELBO) are first shifted to a minimum of 0.
            self.error_offset_ = min(0.0, float(error.min()))
            medians = np.median([error - self.error_offset_, self._distance(codes), spread], axis=1)
            self.score_scales_ = np.where(medians > 0, medians, 1.0)
        scores = self._combine(error, codes, spread)
        if self.contamination == "auto":
            q1, q3 = np.percentile(scores, [25.0, 75.0])
            self.offset_ = float(q1 - _TUKEY_K * (q3 - q1))
        else:
            # As IsolationForest: rows strictly below this quantile are outliers, i.e. the requested
            # fraction of the training rows (up to ties). In float64, between two float32 scores.
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    def _error_and_codes(self, X):
        """Per row of validated X, on blocks of ``_SCORE_BLOCK`` rows: the reconstruction error, the
        code and the squared distance of the reconstruction from ``mean_`` (float64).

        The codes and distances are None with ``code_distance=False``.
        """
        n = X.shape[0]
        error = np.empty(n, dtype=np.float64)
        codes = spread = None
        if self.code_distance:
            spread = np.empty(n, dtype=np.float64)
        # The blocks are arrays this detector validated. A frozen autoencoder fitted on a DataFrame
        # gets them under the names it was fitted with (checked at fit): it would warn "X does not
        # have valid feature names" on each. (A filter on that warning is process-wide, not thread-safe.)
        named = _as_frame(getattr(_unwrap(self.autoencoder_), "feature_names_in_", None))
        for start in range(0, n, _SCORE_BLOCK):
            rows = X[start : start + _SCORE_BLOCK]
            if sp.issparse(rows):
                rows = rows.toarray()
            m = rows.shape[0]
            if m < _SCORE_BLOCK:
                block = np.empty((_SCORE_BLOCK, X.shape[1]), dtype=np.float32)
                block[:m] = rows
                block[m:] = rows[0]
                rows = block
            rows = named(rows)
            error[start : start + m] = -self.autoencoder_.score_samples(rows)[:m]
            if self.code_distance:
                z = np.asarray(self.autoencoder_.transform(rows))
                if codes is None:
                    codes = np.empty((n, z.shape[1]), dtype=z.dtype)
                codes[start : start + m] = z[:m]
                reconstruction = np.asarray(self.autoencoder_.inverse_transform(z))[:m]
                spread[start : start + m] = ((reconstruction - self.mean_) ** 2).sum(axis=1)
        return error, codes, spread

    def _distance(self, codes):
        """Squared Mahalanobis distances of ``codes`` from the training codes' mean."""
        centred = codes.astype(np.float64) - self.code_mean_
        return np.einsum("ij,jk,ik->i", centred, self.code_precision_, centred)

    def _combine(self, error, codes, spread):
        """The score (higher is more normal) from the three outputs of ``_error_and_codes``."""
        if not self.code_distance:
            return -error
        terms = np.stack([error - self.error_offset_, self._distance(codes), spread], axis=1)
        return -(terms / self.score_scales_).sum(axis=1)

    def _score(self, X):
        """Scores of validated X, float64; each row's is independent of the rows it comes with."""
        return self._combine(*self._error_and_codes(X))

    def score_samples(self, X):
        """Per-sample score: lower is more abnormal.

        With ``code_distance=True`` (the default), minus the sum of the row's reconstruction error,
        the squared Mahalanobis distance of its code and the squared distance of its reconstruction
        from the training mean, each divided by its median on the training rows (see the class
        Notes). With ``code_distance=False``, the negative
        reconstruction error (the ELBO for a :class:`VAE`) of each row, as returned by
        ``autoencoder_.score_samples``. Float64; unlike :meth:`decision_function` it does not depend
        on ``contamination``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder, AutoencoderOutlierDetector
        >>> X = np.random.RandomState(0).rand(100, 6)
        >>> det = AutoencoderOutlierDetector(Autoencoder(max_iter=5, random_state=0),
        ...                                  code_distance=False).fit(X)
        >>> s = det.score_samples(X)
        >>> bool(np.allclose(s, det.autoencoder_.score_samples(X), rtol=1e-5))
        True
        """
        check_is_fitted(self)
        return self._score(self._validate_X(X, reset=False))

    def decision_function(self, X):
        """Shifted score: ``score_samples(X) - offset_``; negative for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,), dtype float64
            Negative values are outliers, non-negative ones inliers.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder, AutoencoderOutlierDetector
        >>> X = np.random.RandomState(0).rand(100, 6)
        >>> det = AutoencoderOutlierDetector(Autoencoder(max_iter=5, random_state=0),
        ...                                  contamination=0.1).fit(X)
        >>> int((det.decision_function(X) < 0).sum())
        10
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Whether each row is an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,), dtype int
            +1 for inliers, -1 for outliers.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder, AutoencoderOutlierDetector
        >>> X = np.random.RandomState(0).rand(100, 6)
        >>> det = AutoencoderOutlierDetector(Autoencoder(max_iter=5, random_state=0)).fit(X)
        >>> det.predict(X[:3]).shape
        (3,)
        """
        decision = self.decision_function(X)
        is_inlier = np.ones(decision.shape[0], dtype=int)
        is_inlier[decision < 0] = -1
        return is_inlier

    def __getstate__(self):
        return seal(super().__getstate__())  # a damaged file fails to load (see _integrity.py)

    def __setstate__(self, state):
        super().__setstate__(check_state_digest(state, type(self).__name__))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        if self.autoencoder is not None:
            # loss="bce" (the Bernoulli VAE) needs X in [0, 1]: the checks must not feed negatives.
            tags.input_tags.positive_only = get_tags(_unwrap(self.autoencoder)).input_tags.positive_only
        return tags
