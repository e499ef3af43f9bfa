"""The semi-supervised autoencoder classifier: one network, loss ℓ_Y(labeled rows) + λ·ℓ_X(all rows).

The classifier is an engine estimator (it inherits :class:`BaseAutoencoder`: the training loop,
``transform``, persistence) and it holds the autoencoder whose loss it adds (``autoencoder_``, an
unfitted clone) through that autoencoder's ``Objective`` (``skae/_objective.py``): its network
factory, its loss, its scores. It calls no private method of the autoencoder; what a step needs
beyond the batch (the labeled rows appended to it, ``n_extra``) travels in the ``Batch``.
Holding rather than inheriting the autoencoder lets one classifier take any skae autoencoder.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseAutoencoder, _seed_from
from ._docstrings import engine_docs
from ._ladder import LadderAutoencoder
from ._objective import Objective
from ._params import ENGINE_CONSTRAINTS, store_params
from ._training import LabeledBatches, Loss, _adam, _decayed_split, held_out_batches
from .nn.classifier import ClassifierNetwork, CodeAsScores
from .nn.layers import MLP

__all__ = ["AutoencoderClassifier"]


def _unlabeled_mask(y, marker):
    """Boolean mask of the rows of validated 1-D ``y`` equal to ``marker`` (None: no row is)."""
    n = y.shape[0]
    if marker is None:
        return np.zeros(n, dtype=bool)
    if y.dtype.kind in "US" and not isinstance(marker, str):
        # A string array cannot hold the integer -1; the string "-1" is almost surely meant as it.
        if np.any(y == str(marker)):
            raise ValueError(
                f"y has dtype string and contains {str(marker)!r}. If you wish to predict on string "
                f"targets, use dtype object, and use {marker!r} as the label for unlabeled samples."
            )
        return np.zeros(n, dtype=bool)
    if y.dtype.kind in "biuf" and isinstance(marker, str):
        return np.zeros(n, dtype=bool)
    mask = np.asarray(y == marker)
    return np.broadcast_to(mask, (n,)).astype(bool) if mask.ndim == 0 else mask.astype(bool)


@engine_docs
class AutoencoderClassifier(ClassifierMixin, BaseAutoencoder):
    """Semi-supervised classifier: an autoencoder and a classifier head on its code, trained jointly.

    One network is trained on the sum of two losses: the mean cross-entropy of a classifier head over
    the *labeled* rows of each mini-batch, and ``reconstruction_weight`` times the wrapped
    autoencoder's own training loss (reconstruction plus its penalty, noise or KL term) over *all*
    rows. Unlabeled rows are marked ``-1`` in ``y``, as in :mod:`sklearn.semi_supervised`; they shape
    the code through the reconstruction term only. This is the concurrent training
    ``ℓ_Y + λ·ℓ_X`` of semi-supervised autoencoders (Ranzato & Szummer, 2008; Goodfellow et al.,
    2016, §15.1).

    Parameters
    ----------
    autoencoder : skae autoencoder instance, default=None
        The autoencoder whose network, loss and hyperparameters (``n_components``,
        ``hidden_layer_sizes``, ``activation``, noise, sparsity, contraction, KL, ``dropout``,
        ``alpha`` on its own weights ...) are used. It is cloned, never modified. Its training-loop
        parameters (``max_iter``, ``batch_size``, ``learning_rate_init``, ``random_state``,
        ``device`` ...) are ignored: this estimator's own are used. So is the Autoencoder's
        ``scale_codes``: :meth:`transform` returns the code the head reads. None means
        ``LadderAutoencoder(n_components=n_classes)``, a ladder network whose code is the class layer
        (Rasmus et al., 2015): the strongest joint semi-supervised learner skae has (see the User
        Guide for the measurements).
    reconstruction_weight : float, default=1.0
        Weight λ of the autoencoder's loss. 0 trains a plain neural-network classifier with the
        autoencoder's encoder as its body (the unlabeled rows then only set the network's input
        standardisation).
    classifier_hidden_layer_sizes : "auto", array-like of int or None, default="auto"
        Hidden layer sizes of the classifier head on the code; ``()`` is a softmax (multinomial
        logistic) layer. None means no head: the code itself holds the class scores (logits), so
        the autoencoder's ``n_components`` must be the number of classes — the ladder network's
        top layer is its class layer this way (Rasmus et al., 2015). "auto" is None for a
        :class:`LadderAutoencoder` with one code unit per class, ``()`` otherwise.
    pretrain_epochs : int, default=0
        When > 0, the autoencoder is first trained alone, on its own loss over all rows, for at
        most this many epochs (sequential pretraining); the joint training then starts from its
        weights. Only at initialisation: ``warm_start`` and later ``partial_fit`` calls do not
        pretrain again. Pretraining follows ``learning_rate`` over its own epochs; ``max_time``
        bounds the joint training only.
    labeled_batch_size : int, "auto" or None, default="auto"
        Labeled rows added to every training step. With few labels, a mini-batch drawn from all
        rows holds almost none (100 labels among 60,000 rows: 0.4 per batch of 256), so the
        supervised term would be absent from most steps. Each step therefore also takes this many
        labeled rows, cycling through them in a fresh random order each time they are used up (a
        labeled and an unlabeled mini-batch at every step, as ladder networks are trained). "auto"
        is ``min(batch_size, n_labeled)``; None draws only from all rows (the labeled rows then
        enter a step only when the shuffle puts them there). Unused when every row is labeled.
    unlabeled_label : int, str or None, default=-1
        The value of ``y`` that marks an unlabeled row. None means that every row is labeled (plain
        supervised training), which is also how to use ``-1`` as a class.
    alpha : float, default=0.0
        Strength of the L2 penalty on the classifier head's weights (weight decay in Adam). The
        autoencoder's weights get the wrapped autoencoder's own ``alpha``.
    [engine-params: batch_size]
    [engine-params: learning_rate_init]
    max_iter : int, default=200
        Maximum number of joint-training epochs.
    [engine-params: learning_rate, decay_start, max_time]
    tol : float, default=1e-5
        Tolerance for the stopping criterion on the training loss (or, with early stopping, on the
        validation accuracy).
    [engine-params: n_iter_no_change]
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stratified as MLPClassifier's split is (each
        class, and the unlabeled rows, in proportion; each class keeps a row to train on where the
        fraction allows), stop when the accuracy on the held-out labeled rows stops improving, and
        keep the best weights. When no labeled row is held out, the autoencoder's score on the
        held-out rows is used instead.
    [engine-params: validation_fraction]
    [engine-params: shuffle]
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, pretraining, shuffling, the validation split and any noise or
        sampling of the autoencoder, through a local ``torch.Generator``.
    [engine-params: verbose]
    [engine-params: warm_start]
    [engine-params: device]
    [engine-params: precision]
    [engine-params: conditioning]

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (the unlabeled marker excluded).
    autoencoder_ : skae autoencoder
        The clone of ``autoencoder`` whose objective is the reconstruction term. Its own network is
        not fitted: the trained network is ``module_.autoencoder``.
    module_ : torch.nn.Module
        The trained network: ``module_.autoencoder`` (encoder and decoder) and ``module_.head``.
    n_components : int
        Size of the code (the autoencoder's ``n_components``); :meth:`transform` returns it.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_iter_ : int
        Number of joint-training epochs run.
    t_ : int
        Number of training rows seen.
    loss_curve_ : list of float
        Joint training loss at the end of each epoch.
    best_loss_ : float
        Lowest training loss reached.
    validation_scores_ : list of float or None
        Accuracy on the held-out labeled rows after each epoch, when ``early_stopping=True``.
    best_validation_score_ : float or None
        Best validation score, when ``early_stopping=True``.

    See Also
    --------
    Autoencoder : The default autoencoder.
    sklearn.semi_supervised.SelfTrainingClassifier : Semi-supervised learning by pseudo-labelling.
    sklearn.semi_supervised.LabelSpreading : Graph-based semi-supervised learning.
    sklearn.neural_network.MLPClassifier : The fully supervised network.

    Notes
    -----
    *Which code the head sees.* During training the head is fed the code returned by the
    autoencoder's own training pass (``_loss``), with dropout active: the code of the
    corrupted input for a denoising autoencoder (a data augmentation of the labeled rows), the
    posterior mean ``mu`` for skae's VAE (its KL and reconstruction terms use the sampled ``z``). At
    prediction time (:meth:`predict`, :meth:`predict_proba`, :meth:`transform`) the code of the clean
    input is used, in eval mode: no noise, no dropout, the VAE's posterior mean.

    *The supervised term* of a step is the mean cross-entropy over its labeled rows only: those the
    shuffle put in its mini-batch and the ``labeled_batch_size`` labeled rows appended to it.
    Unlabeled rows never enter it. The autoencoder's term is computed on the mini-batch itself (an
    autoencoder that normalises over the batch, the ladder, takes its statistics from it too), so
    that the appended rows do not over-weight the labeled rows in the unsupervised term.

    *Which autoencoder.* The default, a :class:`LadderAutoencoder` with one code unit per class and
    no head, is the strongest joint learner measured here: on MNIST with 100 labels it reaches a
    few percent error, where the other autoencoders' joint training is no better than a logistic
    regression on the labeled rows (see the User Guide). The autoencoders' objectives are
    unit-free (the reconstruction relative to the data's variance, the ladder's normalised
    denoising costs; the VAE's is in nats per sample): ``reconstruction_weight`` of 1 is a
    reasonable start for all but the VAE.

    :meth:`score` is the accuracy; :meth:`score_samples` is the wrapped autoencoder's per-sample
    score (e.g. negative reconstruction error) under the jointly trained network.

    References
    ----------
    .. [1] Ranzato, M. and M. Szummer, "Semi-supervised learning of compact document representations
       with deep networks", ICML 2008.
    .. [2] Kingma, D. P., D. J. Rezende, S. Mohamed and M. Welling, "Semi-supervised learning with deep
       generative models", NeurIPS 2014.
    .. [3] Goodfellow, I., Y. Bengio and A. Courville, "Deep Learning", MIT Press, 2016, §15.1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import Autoencoder, AutoencoderClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = MinMaxScaler().fit_transform(X)
    >>> y_semi = np.full_like(y, -1)
    >>> y_semi[:100] = y[:100]  # 100 labeled rows, the rest unlabeled
    >>> clf = AutoencoderClassifier(Autoencoder(n_components=16, hidden_layer_sizes=(64,)),
    ...                             max_iter=5, random_state=0).fit(X, y_semi)
    >>> clf.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> clf.predict_proba(X[:2]).shape
    (2, 10)
    >>> clf.transform(X[:2]).shape
    (2, 16)
    """

    _parameter_constraints: dict = {
        "autoencoder": [BaseAutoencoder, None],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "classifier_hidden_layer_sizes": [
            StrOptions({"auto"}), "array-like", Interval(Integral, 1, None, closed="left"), None
        ],
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left")],
        "labeled_batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
        "unlabeled_label": [Integral, str, None],
        # The engine's parameters are the classifier's: the wrapped autoencoder's values for them are unused.
        **ENGINE_CONSTRAINTS,
    }

    def __init__(
        self,
        autoencoder=None,
        *,
        reconstruction_weight=1.0,
        classifier_hidden_layer_sizes="auto",
        pretrain_epochs=0,
        labeled_batch_size="auto",
        unlabeled_label=-1,
        alpha=0.0,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        decay_start=0.0,
        max_iter=200,
        max_time=None,
        tol=1e-5,
        n_iter_no_change=20,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        device="cpu",
        precision="float32",
        conditioning="standard",
    ):
        store_params(self, locals())

    @property
    def n_components(self):
        # The engine's transform / inverse_transform / jacobian read the code size from here.
        check_is_fitted(self)
        return self.autoencoder_.n_components

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the network on labeled and unlabeled rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            All rows, labeled and unlabeled.
        y : array-like of shape (n_samples,)
            Class labels, with ``unlabeled_label`` (-1) for the unlabeled rows. For string labels
            with unlabeled rows use an object array, as in :mod:`sklearn.semi_supervised`.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        return self._fit(X, y, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch over X, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows, labeled and unlabeled.
        y : array-like of shape (n_samples,)
            Class labels, ``unlabeled_label`` for unlabeled rows. A call may hold no labeled row.
        classes : array-like of shape (n_classes,), default=None
            All the classes, required on the first call (as in
            :meth:`sklearn.neural_network.MLPClassifier.partial_fit`) and ignored afterwards unless
            it differs from ``classes_``, which is an error.

        Returns
        -------
        self : object
            The classifier.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import Autoencoder, AutoencoderClassifier
        >>> X = np.random.RandomState(0).rand(40, 6)
        >>> y = np.r_[[0, 1] * 5, [-1] * 30]
        >>> clf = AutoencoderClassifier(Autoencoder(n_components=3), random_state=0)
        >>> clf.partial_fit(X, y, classes=[0, 1]).n_iter_
        1
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def _batch_extension(self, targets, train_index, n_train):
        pool = torch.arange(targets.numel()) if train_index is None else train_index
        pool = pool[targets[pool] >= 0]
        n_labeled = pool.numel()
        size = 0
        if self.labeled_batch_size is not None and 0 < n_labeled < n_train:
            wanted = self._batch_size(n_train) if self.labeled_batch_size == "auto" else self.labeled_batch_size
            size = min(wanted, n_labeled)
        return LabeledBatches(pool, size) if size else None

    def _make_autoencoder(self):
        ae = LadderAutoencoder(n_components=len(self.classes_)) if self.autoencoder is None else self.autoencoder
        if not isinstance(ae, BaseAutoencoder) or isinstance(ae, AutoencoderClassifier):
            raise TypeError(
                "autoencoder must be a skae autoencoder instance (Autoencoder, SparseAutoencoder, "
                f"DenoisingAutoencoder, ContractiveAutoencoder, VAE ...), got {ae!r}."
            )
        return Objective.of(ae).autoencoder

    def _validate_fit_data(self, X, y, reset, incremental=False, classes=None):
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        # As BaseAutoencoder._validate_X: float32 overflow is reported by validate_data's check.
        with np.errstate(over="ignore", invalid="ignore"):
            X, y = validate_data(
                self, X, y, reset=reset, accept_sparse=("csr", "csc"), dtype=np.float32, order="C"
            )
        labeled = ~_unlabeled_mask(y, self.unlabeled_label)
        y_labeled = y[labeled]
        if labeled.any():
            check_classification_targets(y_labeled)
        elif not incremental:
            raise ValueError(
                f"y has no labeled rows: every entry is the unlabeled marker "
                f"{self.unlabeled_label!r}. {name} needs labeled rows of at least 2 classes."
            )

        if reset:
            if incremental:
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit.")
                classes = np.asarray(classes)
                classes = unique_labels(classes[~_unlabeled_mask(classes, self.unlabeled_label)])
            else:
                classes = unique_labels(y_labeled)
            if len(classes) < 2:
                raise ValueError(
                    f"{name} needs samples of at least 2 classes among the labeled rows of y, but "
                    f"got only one class: {classes[0]!r}."
                )
            self.classes_ = classes
            self.autoencoder_ = self._make_autoencoder()
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                f"{self.classes_!r}"
            )
        if labeled.any():
            unseen = np.setdiff1d(unique_labels(y_labeled), self.classes_)
            if unseen.size:
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                    f"'y' has {unique_labels(y_labeled)}."
                )

        targets = np.full(y.shape[0], -1, dtype=np.int64)
        targets[labeled] = np.searchsorted(self.classes_, y_labeled)
        return X, torch.from_numpy(targets)

    def _head_sizes(self):
        """The head's hidden sizes, or None for no head (the code holds the class scores)."""
        sizes = self.classifier_hidden_layer_sizes
        if isinstance(sizes, str):  # "auto"
            ae = self.autoencoder_
            return None if isinstance(ae, LadderAutoencoder) and ae.n_components == len(self.classes_) else ()
        return sizes

    @property
    def _merge_small_last_batch(self):
        """As the autoencoder's: the ladder normalises over the step's unlabeled rows."""
        return getattr(self.autoencoder_, "_merge_small_last_batch", False)

    @property
    def _objective(self):
        """The autoencoder's objective: the one way this estimator uses ``autoencoder_``."""
        return Objective(self.autoencoder_)

    def _check_params(self, X):
        self._objective.check(X)
        if self._head_sizes() is None and self.autoencoder_.n_components != len(self.classes_):
            raise ValueError(
                "classifier_hidden_layer_sizes=None uses the autoencoder's code as the class scores, "
                f"so its n_components ({self.autoencoder_.n_components}) must equal the number of "
                f"classes ({len(self.classes_)})."
            )

    def _on_first_fit(self, X):
        ae = self.autoencoder_
        self._objective.initialize(X)
        self._pretrained_module = None
        if self.pretrain_epochs:
            # Sequential pretraining through the autoencoder's own fit (same engine), with this
            # estimator's loop settings; the joint phase then starts from its weights.
            params = {k: getattr(self, k) for k in ENGINE_CONSTRAINTS if k != "alpha"}
            params.update(
                max_iter=self.pretrain_epochs,
                max_time=None,  # the budget is the joint phase's; pretrain_epochs bounds this one
                early_stopping=False,
                warm_start=False,
                random_state=_seed_from(self.random_state),
            )
            pre = clone(ae).set_params(**params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                pre.fit(X)
            self._pretrained_module = pre.module_

    def _reference_loss(self, var):
        # The autoencoder's term is its own unit-free objective (reconstruction relative to the data's
        # variance, plus its penalty), so reconstruction_weight means the same on data in any units.
        # The joint loss itself, a cross-entropy plus that, is unitless.
        self._objective.set_unit(var)
        return 1.0

    def _build_module(self, n_features):
        ae_module = getattr(self, "_pretrained_module", None)
        self._pretrained_module = None
        pretrained = ae_module is not None
        if not pretrained:
            ae_module = self._objective.build_module(n_features)
        sizes = self._head_sizes()
        if sizes is None:
            head = CodeAsScores()
        else:
            sizes = (sizes,) if isinstance(sizes, Integral) else tuple(int(h) for h in sizes)
            head = MLP([self.autoencoder_.n_components, *sizes, len(self.classes_)], "relu", "identity")
        return ClassifierNetwork(ae_module, head, pretrained=pretrained)

    def _new_optimizer(self, module):
        groups = []
        for part, decay in ((module.autoencoder, self.autoencoder_.alpha), (module.head, self.alpha)):
            weights, rest = _decayed_split(part)
            groups.append({"params": weights, "alpha": decay})
            groups.append({"params": rest, "weight_decay": 0.0})
        return _adam([g for g in groups if g["params"]], self.learning_rate_init)

    def _loss(self, module, batch):
        # The n_extra labeled rows appended to the step's batch (LabeledBatches) enter the supervised
        # term; an autoencoder that normalises over the batch (the ladder) takes its statistics, and
        # its cost, from the step's own rows only.
        unsupervised = self._objective.loss(module.autoencoder, batch)
        reconstruction, code, y = unsupervised.value, unsupervised.code, batch.y
        logits = module.head(code)
        # ignore_index drops the unlabeled rows from the sum: they get no supervised gradient at all.
        n_labeled = (y >= 0).sum().clamp(min=1)
        supervised = F.cross_entropy(logits.float(), y, ignore_index=-1, reduction="sum") / n_labeled
        if self.reconstruction_weight == 0:
            return Loss(supervised, code)
        return Loss(supervised + self.reconstruction_weight * reconstruction, code)

    def _validation_score(self, module, rows, index, y):
        labeled = index[y[index] >= 0]
        if labeled.numel() == 0:
            return self._objective.validation_score(module.autoencoder, rows, index)
        correct = 0
        for chunk, xb in held_out_batches(module, rows, labeled):
            correct += int((module.logits(xb).argmax(dim=1).cpu() == y[chunk]).sum())
        return correct / labeled.numel()

    def _score_samples_tensor(self, module, X):
        return self._objective.score_samples(module.autoencoder, X)

    # ------------------------------------------------------------------ prediction

    def _proba(self, X, log):
        """``predict_proba`` (``log_softmax`` with ``log``), normalised in float64 so that rows sum
        to 1 to float32 precision once cast back."""
        normalise = torch.log_softmax if log else torch.softmax
        return self._apply(X, lambda m, xb: normalise(m.logits(xb).double(), dim=1), (len(self.classes_),))

    def predict_proba(self, X):
        """Class probabilities, from the code of the clean input.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float32
            Columns in the order of ``classes_``; each row sums to 1.

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from skae import Autoencoder, AutoencoderClassifier
        >>> X, y = make_blobs(60, centers=3, random_state=0)
        >>> clf = AutoencoderClassifier(Autoencoder(n_components=2), max_iter=3, random_state=0)
        >>> clf.fit(X, y).predict_proba(X[:1]).sum().round(5)
        np.float32(1.0)
        """
        check_is_fitted(self)
        return self._proba(X, log=False)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes), dtype float32

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from skae import Autoencoder, AutoencoderClassifier
        >>> X, y = make_blobs(60, centers=3, random_state=0)
        >>> clf = AutoencoderClassifier(Autoencoder(n_components=2), max_iter=3, random_state=0)
        >>> clf.fit(X, y).predict_log_proba(X[:4]).shape
        (4, 3)
        """
        check_is_fitted(self)
        return self._proba(X, log=True)

    def predict(self, X):
        """Predicted class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.

        Examples
        --------
        >>> from sklearn.datasets import make_blobs
        >>> from skae import Autoencoder, AutoencoderClassifier
        >>> X, y = make_blobs(60, centers=3, random_state=0)
        >>> clf = AutoencoderClassifier(Autoencoder(n_components=2), max_iter=3, random_state=0)
        >>> clf.fit(X, y).predict(X[:3]).shape
        (3,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        ae = self.autoencoder if isinstance(self.autoencoder, BaseAutoencoder) else None
        tags.input_tags.positive_only = ae is not None and getattr(ae, "loss", None) == "bce"
        return tags
