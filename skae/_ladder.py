"""The ladder network (Rasmus et al., 2015): a denoising autoencoder with lateral connections."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseAutoencoder
from ._docstrings import engine_docs
from ._params import ENGINE_CONSTRAINTS, network_constraints, store_params
from ._training import Loss
from .nn.ladder import LadderModule

__all__ = ["LadderAutoencoder"]

@engine_docs
class LadderAutoencoder(BaseAutoencoder):
    r"""Ladder network: a deep denoising autoencoder with lateral connections (Rasmus et al., 2015).

    The encoder normalises every layer over the mini-batch (batch normalisation) and, in a second,
    noisy pass, adds Gaussian noise to every layer. The decoder runs from the code down to the input
    and, at every layer, denoises the noisy encoder value it receives through a lateral connection,
    guided by the layer above. The training objective is the sum over layers of
    ``denoising_weights[l]`` times the mean squared difference between the decoder's estimate and the
    clean encoder's value (both normalised):

    .. math::

        C = \sum_{l=0}^{L} \frac{\lambda_l}{m_l} \,
            \mathbb{E}_x \big\| z_l(x) - \hat z_l(\tilde x) \big\|^2 .

    Because the lateral connections carry the details, the higher layers are free to represent
    invariant, abstract features: combined with a classifier on the code
    (:class:`AutoencoderClassifier`), the ladder is a strong semi-supervised learner — the noisy code
    is what the classifier is trained on, the clean code what it predicts from.

    Read more in the :ref:`User Guide <ladder>`.

    Parameters
    ----------
    n_components : int, default=10
        Size of the code (the top layer). For semi-supervised classification, the number of classes
        is a natural choice (the ladder's top layer is the class layer in Rasmus et al.).
    hidden_layer_sizes : array-like of int, default=(256, 128)
        Sizes of the encoder's hidden layers; the decoder mirrors them.
    noise_level : float, default=0.3
        Standard deviation of the Gaussian noise added to every batch-normalised layer (each of unit
        variance) in the noisy pass, Rasmus et al.'s value.
    input_noise_level : float, default=0.75
        Standard deviation of the noise added to the input, in the units ``input_noise_units`` says:
        by default in units of each feature's scale (the network standardises each feature, see
        :class:`Autoencoder`). Rasmus et al. add 0.3 to pixel values in [0, 1], whose standard
        deviation is about 0.4 where digits are drawn: about 0.75 in these units, which measured better
        than 0.3 on the digits with few labels.
    input_noise_units : {"feature", "data"}, default="feature"
        "feature": ``input_noise_level`` is in units of each feature's scale, so every feature gets
        the same share of noise. "data": it is in the data's own units, the same standard deviation
        for every feature, as Rasmus et al. add 0.3 to every pixel in [0, 1] (nearly constant
        features, an image's border pixels, then get far more noise than their own spread).
    denoising_weights : "auto" or array-like of float, default="auto"
        Weight λ_l of each layer's denoising cost, from the input (l = 0) to the code (l = L):
        ``len(hidden_layer_sizes) + 2`` non-negative values. "auto" is Rasmus et al.'s pattern for
        MNIST, 1000 for the input, 10 for the first hidden layer and 0.1 above, scaled by 0.1 for
        the input since the input is standardised here (its per-unit variance is about ten times that
        of [0, 1] pixels). The hidden layers' costs are on Rasmus et al.'s scale (batch-normalised
        units); the input's is the squared error in the data's units divided by the mean squared
        feature scale (about the mean variance, 0.074 on MNIST pixels in [0, 1]): Rasmus et al.'s
        input weight λ corresponds to ``λ × mean scale²`` here (see the Notes).
    activation : {"relu", "tanh", "sigmoid", "elu", "gelu", "identity"}, default="relu"
        Activation of the hidden layers.
    code_activation : {"identity", "sigmoid", "tanh", "relu", "elu", "gelu"}, default="identity"
        Activation of the code layer (after its batch normalisation, shift and scale).
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``n_samples // 32`` clipped to [16, 256] (and to n_samples).
        Batch normalisation needs batches of more than a few rows: where the rows of an epoch
        leave a last batch of fewer than ``batch_size / 2``, those rows join the batch before it
        (1,347 rows in batches of 42 make 31 steps of 42 and one of 45, not a last step of 3).
    learning_rate_init : float, default=2e-3
        Adam's step size (Rasmus et al. use 0.002).
    [engine-params: max_iter, learning_rate, decay_start, max_time]
    tol : float, default=1e-5
        Tolerance for the stopping criterion on the training cost.
    [engine-params: n_iter_no_change]
    [engine-params: early_stopping]
    [engine-params: validation_fraction]
    [engine-params: alpha]
    [engine-params: shuffle]
    [engine-params: random_state]
    [engine-params: verbose]
    [engine-params: warm_start]
    [engine-params: device]
    [engine-params: precision, conditioning]

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.
    loss_curve_ : list of float
        Training cost at the end of each epoch.
    best_loss_ : float
        Lowest training cost reached.
    validation_scores_ : list of float or None
        Score on the held-out data after each epoch, when ``early_stopping=True``.
    best_validation_score_ : float or None
        Best validation score, when ``early_stopping=True``.

    See Also
    --------
    AutoencoderClassifier : Semi-supervised classifier; with a ladder, the Γ-model and full ladder of
        Rasmus et al.
    DenoisingAutoencoder : Denoising of the input layer only, without lateral connections.

    Notes
    -----
    :meth:`transform` is the clean encoder's code, with the batch statistics' running averages.
    :meth:`score_samples` is minus the weighted denoising cost of each sample's noise-free pass
    (every layer's estimate from its clean lateral value and the layer above, at inference
    statistics): a per-sample score that does not depend on the other rows. :meth:`inverse_transform`
    decodes from the code alone, every lateral value at its mean: the ladder leaves the details to
    its lateral connections, so this is a coarse, prototype-like reconstruction.

    With ``denoising_weights`` zero everywhere but the code layer, the ladder is the Γ-model.

    Rasmus et al.'s MNIST configuration (784-1000-500-250-250-250-10, denoising costs 1000, 10, 0.1,
    0.1, 0.1, 0.1, 0.1, noise 0.3 on the [0, 1] pixels and on every layer) is
    ``LadderAutoencoder(n_components=10, hidden_layer_sizes=(1000, 500, 250, 250, 250),
    denoising_weights=(1000 * s2, 10, 0.1, 0.1, 0.1, 0.1, 0.1), noise_level=0.3,
    input_noise_level=0.3, input_noise_units="data")`` with ``s2`` the mean squared feature scale
    (0.074 on MNIST: 74 for the input), inside ``AutoencoderClassifier(..., batch_size=100,
    labeled_batch_size=100, learning_rate_init=0.002)``. The defaults differ on purpose: the input
    noise in each feature's units (0.75), which measured better on small data, and an input weight of
    100 (1350 on Rasmus et al.'s scale).

    References
    ----------
    .. [1] Rasmus, A., Valpola, H., Honkala, M., Berglund, M. and Raiko, T., "Semi-supervised learning
       with ladder networks", NeurIPS 2015.
    .. [2] Valpola, H., "From neural PCA to deep unsupervised learning", in Advances in Independent
       Component Analysis and Learning Machines, Academic Press, 2015.
    .. [3] Pezeshki, M., Fan, L., Brakel, P., Courville, A. and Bengio, Y., "Deconstructing the ladder
       network architecture", ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import LadderAutoencoder
    >>> X = load_digits().data
    >>> ladder = LadderAutoencoder(n_components=10, hidden_layer_sizes=(64,), max_iter=3,
    ...                            random_state=0).fit(X)
    >>> ladder.transform(X[:2]).shape
    (2, 10)
    """

    _parameter_constraints: dict = {
        **network_constraints("n_components", "hidden_layer_sizes", "activation", "code_activation"),
        **ENGINE_CONSTRAINTS,
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "input_noise_level": [Interval(Real, 0, None, closed="left")],
        "input_noise_units": [StrOptions({"feature", "data"})],
        "denoising_weights": [StrOptions({"auto"}), "array-like"],
    }

    def __init__(
        self,
        n_components=10,
        *,
        hidden_layer_sizes=(256, 128),
        noise_level=0.3,
        input_noise_level=0.75,
        input_noise_units="feature",
        denoising_weights="auto",
        activation="relu",
        code_activation="identity",
        alpha=0.0,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=2e-3,
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

    # Every layer is normalised over the batch: an epoch's last batch of a few rows joins the one before.
    _merge_small_last_batch = True

    # ------------------------------------------------------------------ hooks

    def _weights(self):
        n_layers = len(self._hidden_sizes()) + 2
        if isinstance(self.denoising_weights, str):
            return [100.0, 10.0, *[0.1] * (n_layers - 2)][:n_layers]
        weights = np.asarray(self.denoising_weights, dtype=np.float64).ravel()
        if weights.shape != (n_layers,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(
                f"denoising_weights must hold {n_layers} non-negative numbers (the input, "
                f"{n_layers - 2} hidden layer(s) and the code), got {self.denoising_weights!r}."
            )
        return [float(w) for w in weights]

    def _check_params(self, X):
        self._weights()

    def _output_activation(self):
        return "identity"

    def _reference_loss(self, var):
        # The cost compares standardised (batch-normalised) values: already unit-free.
        return 1.0

    def _build_module(self, n_features):
        return LadderModule(
            n_features,
            self.n_components,
            hidden_layer_sizes=self._hidden_sizes(),
            activation=self.activation,
            code_activation=self.code_activation,
        )

    def _weighted_cost(self, costs):
        total = torch.zeros_like(costs[0])
        for weight, cost in zip(self._weights(), costs):
            if weight:
                total = total + weight * cost
        return total

    def _loss(self, module, batch):
        # One pass computes the code and every layer's denoising cost. The classifier's n_extra labeled
        # rows at the end of the batch are left out of the batch statistics and of the cost (see Batch).
        X, generator, n_extra = batch.X, batch.generator, batch.n_extra
        rows = X.shape[0] - n_extra if n_extra else None
        X_in = self._corrupt(X, generator, module)
        module.stats_rows = rows
        try:
            input_noise = self.input_noise_level
            if self.input_noise_units == "data" and input_noise:
                input_noise = input_noise / module.conditioning.scale  # per feature, in standardised units
            costs, code = module.denoising_costs(X_in, float(self.noise_level), generator, input_noise)
        finally:
            module.stats_rows = None
        return Loss(self._weighted_cost(costs)[:rows].mean(), code)

    def score_samples(self, X):
        """Per-sample score: minus the weighted denoising cost of the sample's noise-free pass.

        Every layer's estimate is computed from its clean lateral value and the layer above, at the
        inference statistics, and compared with the clean value as in training (the input in the data's
        units relative to its variance). It depends on the sample alone. Higher is better.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float32

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from skae import LadderAutoencoder
        >>> X = load_digits().data
        >>> ladder = LadderAutoencoder(hidden_layer_sizes=(32,), max_iter=3, random_state=0).fit(X)
        >>> scores = ladder.score_samples(X[:5])
        >>> scores.shape, bool((scores <= 0).all())
        ((5,), True)
        """
        return super().score_samples(X)

    def _score_samples_tensor(self, module, X):
        costs, _ = module.denoising_costs(X, 0.0, None)
        return -self._weighted_cost(costs)
