"""The ladder network (Rasmus et al., 2015): a denoising autoencoder with lateral connections."""

import math
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import BaseAutoencoder
from ._docstrings import engine_docs
from ._modules import ACTIVATIONS, Conditioning
from ._params import ENGINE_CONSTRAINTS, network_constraints, store_params

__all__ = ["LadderAutoencoder", "LadderModule"]

# Added to batch variances before the square root: batch normalisation of a batch of one row (or of a
# unit that is constant over the batch) gives zeros rather than NaN.
_BN_EPS = 1e-5
# Weight of the newest batch in the running statistics used at inference.
_BN_MOMENTUM = 0.1


class _Combinator(nn.Module):
    """The "vanilla" denoising function ``g(z̃, u)`` of Rasmus et al. (2015), per unit:

    ``ẑ = (z̃ - μ(u)) ⊙ v(u) + μ(u)`` with ``μ(u) = a1 σ(a2 u + a3) + a4 u + a5`` and
    ``v(u) = a6 σ(a7 u + a8) + a9 u + a10``. It starts at ``ẑ = 0`` (a2 = a7 = 1, the rest 0), and
    learns how much of the noisy lateral value ``z̃`` to keep (``v``) given the top-down signal ``u``.
    """

    def __init__(self, width):
        super().__init__()
        self.a = nn.Parameter(torch.empty(10, width))

    def reset_parameters(self):
        with torch.no_grad():
            self.a.zero_()
            self.a[1].fill_(1.0)
            self.a[6].fill_(1.0)

    def forward(self, z_noisy, u):
        # Fused multiply-adds: about half the elementwise ops of the formula written out.
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 = self.a.unbind(0)
        mu = torch.addcmul(torch.addcmul(a4, a3, u), a0, torch.sigmoid(torch.addcmul(a2, a1, u)))
        v = torch.addcmul(torch.addcmul(a9, a8, u), a5, torch.sigmoid(torch.addcmul(a7, a6, u)))
        return torch.addcmul(mu, z_noisy - mu, v)


class LadderModule(nn.Module):
    """Encoder ``n_features → hidden… → n_components`` with batch normalisation, and a decoder that
    denoises every layer from the layer above and the noisy lateral value.

    Layer ``l`` of the encoder is ``z_l = BN(W_l h_{l-1})``, ``h_l = a(γ_l ⊙ (z_l + β_l))`` (γ on the
    code layer only); the input layer is ``h_0 = z_0 = (x - loc) / scale``. The noisy pass adds
    Gaussian noise of standard deviation ``noise_level`` to every ``z_l``. The decoder computes, from
    the top down, ``u_L = BN(h̃_L)``, ``u_l = BN(V_{l+1} ẑ_{l+1})`` and ``ẑ_l = g_l(z̃_l, u_l)``.
    Batch statistics are used in training (their running averages at inference), so that the
    normalised ``z_l`` cannot shrink to make the denoising cost vanish.
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes=(), activation="relu",
                 code_activation="identity"):
        super().__init__()
        sizes = [int(n_features), *[int(h) for h in hidden_layer_sizes], int(n_components)]
        self.sizes = sizes
        self.activation = activation
        self.code_activation = code_activation
        self.conditioning = Conditioning(n_features)
        n = len(sizes) - 1
        # Encoder weights W_1..W_L (no biases: batch normalisation removes them; β shifts instead).
        self.weights = nn.ParameterList(nn.Parameter(torch.empty(b, a)) for a, b in zip(sizes[:-1], sizes[1:]))
        self.betas = nn.ParameterList(nn.Parameter(torch.empty(b)) for b in sizes[1:])
        self.code_gamma = nn.Parameter(torch.empty(sizes[-1]))
        # Decoder: V_l maps layer l down to layer l-1; one combinator per layer, input included.
        self.vertical = nn.ParameterList(nn.Parameter(torch.empty(a, b)) for a, b in zip(sizes[:-1], sizes[1:]))
        self.combinators = nn.ModuleList(_Combinator(m) for m in sizes)
        for i, m in enumerate(sizes[1:], start=1):
            self.register_buffer(f"running_mean_{i}", torch.zeros(m))
            self.register_buffer(f"running_var_{i}", torch.ones(m))
        # The decoder normalises its top-down signal u_l too (running averages at inference).
        for i, m in enumerate(sizes):
            self.register_buffer(f"running_mean_u{i}", torch.zeros(m))
            self.register_buffer(f"running_var_u{i}", torch.ones(m))
        self.n_layers = n
        # When set, batch statistics come from the first ``stats_rows`` rows only (the rest of the
        # batch is normalised with them): the semi-supervised classifier appends labeled rows that
        # must not shift the statistics of the data's distribution.
        self.stats_rows = None

    def reset_parameters(self, generator):
        with torch.no_grad():
            for w in [*self.weights, *self.vertical]:
                fan_out, fan_in = w.shape
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                w.uniform_(-bound, bound, generator=generator)
            for b in self.betas:
                b.zero_()
            self.code_gamma.fill_(1.0)
            for c in self.combinators:
                c.reset_parameters()
            for name, buf in self.named_buffers():
                if name.startswith("running_"):
                    buf.fill_(0.0 if name.startswith("running_mean") else 1.0)

    def condition(self, loc, scale):
        self.conditioning.set(loc, scale)

    def _activate(self, i, z):
        if i == self.n_layers:
            return ACTIVATIONS[self.code_activation](self.code_gamma * (z + self.betas[i - 1]))
        return ACTIVATIONS[self.activation](z + self.betas[i - 1])

    def _passes(self, x, noise_level=0.0, generator=None, batch_stats=False, update_running=False,
                input_noise_level=None):
        """The encoder's passes, stacked along a first axis: ``(zs, moments, top)``.

        With noise, two passes: the noisy one (index 0) and the clean one (index 1), computed together
        so that each layer is one matrix product of twice the rows and every elementwise operation
        runs once over both (on CPU, the ladder's step is bound by its many small elementwise
        operations as much as by its products). Without noise, the clean pass alone. Each pass is
        normalised with its own batch statistics; the clean pass's (the last) update the running
        averages when asked. ``zs[l]`` has shape ``(passes, n, m_l)``, ``moments[l]`` is
        ``(mean, 1/sqrt(var + eps))`` of every pass (None for the input), ``top`` the activated code.
        """
        z = self.conditioning.standardize(x)
        input_noise = noise_level if input_noise_level is None else input_noise_level
        # A tensor: a standard deviation per feature (in standardised units).
        per_feature = torch.is_tensor(input_noise)
        if noise_level or per_feature or input_noise:
            # One operation builds both passes' inputs: noise in the first half of a zero buffer.
            if per_feature:
                z = torch.addcmul(z, self._noise_buffer(z, generator), input_noise)
            elif input_noise:
                z = torch.add(z, self._noise_buffer(z, generator), alpha=input_noise)
            else:
                z = z.repeat(2, 1, 1)
        else:
            z = z.unsqueeze(0)
        zs, moments = [z], [None]
        h = z
        for i, w in enumerate(self.weights, start=1):
            z, mean, inv_std = self._batch_norm(F.linear(h, w), str(i), batch_stats, update_running)
            if noise_level and z.shape[0] == 2:
                z = torch.add(z, self._noise_buffer(z[0], generator), alpha=noise_level)
            zs.append(z)
            moments.append((mean, inv_std))
            h = self._activate(i, z)
        return zs, moments, h

    @staticmethod
    def _noise_buffer(like, generator):
        """``(2, *like.shape)``: standard normal draws in the first half (the same draws as
        ``torch.randn(like.shape)``), zeros in the second."""
        buf = like.new_empty((2, *like.shape))
        buf[0].normal_(generator=generator)
        buf[1].zero_()
        return buf

    def _batch_norm(self, z, name, batch_stats, update_running):
        """Normalise ``z`` (rows on the second-to-last axis, every leading index its own batch) with
        its batch moments, or with the running averages ``running_*_{name}``; the last batch's
        moments update the running averages if asked. Returns ``(normalised, mean, 1/sqrt(var + eps))``.
        """
        if not batch_stats:
            # Shaped as batch moments would be, so that callers index the passes the same way.
            shape = (1,) * (z.dim() - 1) + (-1,)
            mean = getattr(self, f"running_mean_{name}").view(shape)
            inv_std = torch.rsqrt(getattr(self, f"running_var_{name}") + _BN_EPS).view(shape)
            return (z - mean) * inv_std, mean, inv_std
        rows = self.stats_rows
        stats = z if rows is None else z[..., :rows, :]
        # Written out rather than torch.var_mean, whose backward costs twice as much on CPU; biased,
        # as batch normalisation uses.
        mean = stats.mean(dim=-2, keepdim=True)
        centred = stats - mean
        var = (centred * centred).mean(dim=-2, keepdim=True)
        if update_running:
            with torch.no_grad():
                m = z.shape[-1]
                getattr(self, f"running_mean_{name}").lerp_(mean.detach().reshape(-1, m)[-1].float(), _BN_MOMENTUM)
                getattr(self, f"running_var_{name}").lerp_(var.detach().reshape(-1, m)[-1].float(), _BN_MOMENTUM)
        inv_std = torch.rsqrt(var + _BN_EPS)
        # Without a separate statistics block the centred values are already at hand.
        return (centred if rows is None else z - mean) * inv_std, mean, inv_std

    def _decode(self, laterals, top):
        """The decoder's estimates ``ẑ_l`` (input first) from the noisy laterals and the top code."""
        estimates = [None] * (self.n_layers + 1)
        u = top
        for l in range(self.n_layers, -1, -1):
            if l < self.n_layers:
                u = F.linear(estimates[l + 1], self.vertical[l])
            u = self._batch_norm(u, f"u{l}", self.training, self.training)[0]
            lateral = laterals[l] if laterals is not None else torch.zeros_like(u)
            estimates[l] = self.combinators[l](lateral, u)
        return estimates

    def denoising_costs(self, x, noise_level, generator, input_noise_level=None):
        """Per-sample squared errors ``‖z_l - ẑ_l‖² / m_l`` for every layer (a list, input first).

        In training: a noisy pass (batch statistics), a clean pass (batch statistics, which also
        update the running averages) and the decoder; each ``ẑ_l`` is normalised with the clean pass's
        batch statistics before it is compared with the clean ``z_l``. In eval mode both passes use
        the running statistics (one pass when there is no noise). Also returns the noisy code, which
        the semi-supervised classifier feeds to its head.
        """
        train = self.training
        zs, moments, top = self._passes(x, noise_level, generator, batch_stats=train, update_running=train,
                                        input_noise_level=input_noise_level)
        estimates = self._decode([z[0] for z in zs], top[0])
        costs = []
        for l, (z, z_hat) in enumerate(zip(zs, estimates)):
            clean = z[-1]
            if l == 0:
                sq = (z_hat - clean).float().square()
                # The input's error in the user's units, relative to the mean variance (as every skae
                # reconstruction loss): a feature counts by its variance, so rare, nearly constant
                # features (an image's border pixels) do not dominate the cost as they would in
                # standardised units.
                weight = self.conditioning.scale.square()
                sq = sq * (weight / weight.mean())
            else:
                mean, inv_std = moments[l]
                sq = ((z_hat - mean[-1]) * inv_std[-1] - clean).float().square()
            costs.append(sq.mean(dim=1))
        return costs, top[0]

    def encode(self, x):
        return self._passes(x, batch_stats=self.training)[2][0]

    def decode(self, z):
        """The input layer's estimate from the code alone (every lateral at its mean, 0)."""
        estimates = self._decode(None, z)
        return self.conditioning.unstandardize(estimates[0])

    def decode_preactivation(self, z):
        return self.decode(z)

    def forward(self, x):
        code = self.encode(x)
        return code, self.decode(code)


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
        deviation is about 0.4 where digits are drawn: about 0.75 in these units. Measured on digits
        with 3 labels per class, 0.75 gives 0.917 accuracy against 0.864 for 0.3.
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
        Batch normalisation needs batches of more than a few rows.
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

    def _forward(self, module, X_in, generator):
        # _stats_rows: set by AutoencoderClassifier around a step whose batch ends with extra labeled rows.
        rows = getattr(self, "_stats_rows", None)
        module.stats_rows = rows
        try:
            input_noise = self.input_noise_level
            if self.input_noise_units == "data" and input_noise:
                input_noise = input_noise / module.conditioning.scale  # per feature, in standardised units
            costs, code = module.denoising_costs(X_in, float(self.noise_level), generator, input_noise)
        finally:
            module.stats_rows = None
        return code, (costs, rows)

    def _loss(self, X, X_in, code, output, module):
        costs, rows = output
        return self._weighted_cost(costs)[:rows].mean()

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
