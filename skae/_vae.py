"""The variational autoencoder (Kingma & Welling, 2014) and its torch module."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from ._base import BaseAutoencoder, _seed_from
from ._denoising import gaussian_noise
from ._docstrings import engine_docs
from ._params import ENGINE_CONSTRAINTS, network_constraints, store_params
from ._training import Loss
from .nn.vae import (
    _LOG_2PI,
    VAEModule,
    importance_weighted_bound,
    kl_standard_normal,
    kl_standard_normal_per_unit,
    log_weights,
    reparameterize,
)

__all__ = ["VAE"]

_AUTO_FREE_BITS = 0.5  # free_bits="auto" with the ELBO: keeps a 32-unit code of the digits alive

# score_samples and log_likelihood draw their posterior noise from this seed by default: one draw of shape
# (n_importance_samples, n_components) shared by every row, so that each row's value depends on it alone.
_SCORING_SEED = 0
_MC_CHUNK = 16384  # rows x samples decoded at once by the Monte-Carlo estimates: bounded memory


@engine_docs
class VAE(BaseAutoencoder):
    r"""Variational autoencoder: a Gaussian latent-variable model fitted by maximising the ELBO.

    The generative model is ``z ~ N(0, I)``, ``x | z ~ p(x|z)`` with a decoder network giving the
    parameters of ``p(x|z)``: independent Bernoulli variables (``likelihood="bernoulli"``, X in
    [0, 1]) or independent Gaussians (``likelihood="gaussian"``) whose variance is learned per
    feature or given by the decoder as a function of the code (``likelihood_variance``). An
    encoder network gives the approximate posterior ``q(z|x) = N(mu(x), Σ(x))``, with ``Σ``
    diagonal or, for ``posterior="full"``, a full covariance ``Σ = A Aᵀ`` from a lower-triangular
    ``A(x)``. Training minimises the negative evidence lower bound, per sample and in nats (summed
    over features),

    .. math::

        -\mathrm{ELBO}(x) = -\mathbb{E}_{q(z \mid x)}\big[\log p(x \mid z)\big]
        + \beta\, \mathrm{KL}\big(q(z \mid x) \,\big\|\, \mathcal{N}(0, I)\big),

    with one reparameterised draw ``z = mu + A eps``, ``eps ~ N(0, I)``, per sample for the
    expectation (``n_train_samples`` draws averaged, if more) and the KL divergence in closed form
    (Kingma & Welling, 2014). By default two changes serve the codes as features: free bits floor
    each unit's KL, and the posterior is inferred from a noisy copy of ``x`` (``free_bits``,
    ``noise_level``; both 0 give the ELBO above). ``objective="iwae"`` trains the importance-weighted
    bound of Burda et al. (2016) instead, which is tighter for ``n_train_samples > 1``:

    .. math::

        -\mathcal{L}_k(x) = -\mathbb{E}\Big[\log \frac{1}{k} \sum_{i=1}^k
        \frac{p(x \mid z_i)\, p(z_i)}{q(z_i \mid x)}\Big], \qquad z_i \sim q(z \mid x).

    Read more in the :ref:`User Guide <vae>`.

    Parameters
    ----------
    n_components : int, default=8
        Dimension of the latent space.
    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        The decoder's distribution ``p(x|z)``. "bernoulli" reads the decoder's output as logits and
        needs X in [0, 1] (grey levels are allowed: their cross-entropy is used, as is common);
        "gaussian" reads it as means, with one learned variance per feature. The
        likelihood replaces the ``loss`` and ``output_activation`` parameters of the other
        autoencoders: the reconstruction term is always its negative log-density.
    likelihood_variance : {"feature", "code"}, default="feature"
        The Gaussian likelihood's variance: "feature" learns one variance per feature, the same for
        every sample; "code" has the decoder output a variance per feature as a function of the
        code, ``sigma²(z)``, from a linear head on its last hidden layer, for data whose noise level
        depends on where they lie (heteroscedastic noise). Either is softly bounded relative to each
        feature's variance, so that the density stays finite even where the decoder fits a training
        point exactly. Needs ``likelihood="gaussian"``.
    posterior : {"diagonal", "full"}, default="diagonal"
        The approximate posterior's covariance. "diagonal" has the encoder give one variance per
        latent dimension. "full" also gives the ``K (K - 1) / 2`` entries below the diagonal of the
        Cholesky factor ``A`` of ``Σ = A Aᵀ`` (from a linear head on the encoder's last hidden layer),
        so that the posterior can be correlated: the ELBO is then closer to the log-likelihood where
        the true posterior is correlated, at the cost of a head with ``K (K - 1) / 2`` outputs (for
        ``n_components=50``, more weights than a 200-unit hidden layer). The diagonal of ``A``,
        ``exp(logvar / 2)``, is bounded as the diagonal posterior's standard deviations are, so
        ``Σ`` is never singular.
    beta : float, default=1.0
        Weight of the KL term (beta-VAE; Higgins et al., 2017). ``beta=0`` gives a noisy
        autoencoder with no pull towards the prior.
    free_bits : float or "auto", default="auto"
        Nats of KL per latent unit left free (Kingma et al., 2016): each unit's KL, averaged over
        the mini-batch, counts as at least ``free_bits``, so no unit is pulled all the way to the
        prior, where :meth:`transform` would give every row the same value. "auto" is 0.5 with
        ``objective="elbo"`` and 0 with "iwae" (no KL term of its own); 0 is the ELBO itself.
    noise_level : float, default=0.3
        Standard deviation of Gaussian noise on the encoder's input in training, in units of each
        feature's scale (as :class:`DenoisingAutoencoder`'s): the posterior is inferred from a
        corrupted row, the likelihood scores the clean one (Im et al.'s denoising VAE, 2017). 0
        draws nothing. Both defaults serve the codes as features (see the :ref:`User Guide
        <vae_features>`); ``free_bits=0, noise_level=0`` fits the ELBO alone, Kingma and
        Welling's model. :meth:`score_samples` and :meth:`log_likelihood` evaluate the model's
        own bounds, with no noise and no floor.
    objective : {"elbo", "iwae"}, default="elbo"
        The training objective. "elbo" is the evidence lower bound above, its expectation term
        averaged over ``n_train_samples`` draws. "iwae" is the importance-weighted bound
        ``log (1/k) Σ_i w_i``, ``w_i = p(x|z_i) p(z_i)^beta / q(z_i|x)^beta`` over ``k =
        n_train_samples`` draws (Burda et al., 2016): a tighter bound on ``log p(x)`` for ``k > 1``,
        so the decoder is fitted closer to maximum likelihood, at ``k`` decoder passes per sample;
        with ``n_train_samples=1`` it is the ELBO and trains exactly as "elbo" does (see Notes for
        the gradient estimator).
    n_train_samples : int, default=1
        Number of posterior draws ``k`` per training sample and step: averaged by the ELBO (less
        gradient noise), importance-weighted by the IWAE objective (a tighter bound). The cost of a
        step grows about linearly with it (the decoder runs on ``k`` codes per sample).
    n_importance_samples : int, default=50
        Number of posterior draws per sample used by :meth:`score_samples` (the ELBO is averaged
        over them) and by :meth:`log_likelihood` (the importance-weighted estimate).
    hidden_layer_sizes : array-like of int, default=(128,)
        Sizes of the encoder's hidden layers; the decoder uses them in reverse.
    activation : {"relu", "tanh", "sigmoid", "elu", "gelu", "identity"}, default="relu"
        Activation of the hidden layers.
    tied_weights : bool, default=False
        If True the decoder's weights are those of the encoder's mean path, transposed.
    dropout : float, default=0.0
        Dropout rate on the hidden activations during training.
    [engine-params: alpha]
    [engine-params: batch_size]
    [engine-params: learning_rate_init, max_iter, learning_rate, decay_start, max_time]
    tol : float, default=1e-5
        Tolerance for the stopping criterion (on the training loss, in nats per sample, or on the
        validation ELBO with early stopping).
    [engine-params: n_iter_no_change]
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its mean ELBO stops improving.
    [engine-params: validation_fraction, shuffle]
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffling and the reparameterisation noise through a local
        ``torch.Generator``; global random states are never touched.
    [engine-params: verbose]
    [engine-params: warm_start]
    [engine-params: device]
    precision : {"float32", "bfloat16"}, default="float32"
        "bfloat16" trains under autocast. The likelihood and KL terms are computed in float32.
    conditioning : {"auto", "standard", "center", "none"}, default="auto"
        How the network sees the data, from statistics learned at the first fit (see the
        :ref:`User Guide <conditioning>`). "auto" is "center" where every training value lies in
        [0, 1] (pixels, binary features, MinMaxScaler's output: features that share one unit) and
        "standard" otherwise. The Gaussian likelihood's variance is relative to each feature's
        scale², so centred only, it is the same on every feature, as in Kingma & Welling (2014);
        standardised, a rarely lit pixel gets a tiny variance and dominates the ELBO. On most pixel
        sets "auto" gives codes that serve a classifier better than "standard" (measured in the
        :ref:`User Guide <conditioning>`). "standard", "center" and "none" are as in
        :class:`Autoencoder`.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network: ``posterior(x) -> (mu, logvar, tril)`` (the posterior's Cholesky
        factor is ``diag(exp(logvar / 2)) + tril``, ``tril`` None for the diagonal posterior),
        ``encode``, ``decode``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.
    loss_curve_ : list of float
        Training loss (the negative training objective: the ELBO, its KL floored by ``free_bits`` and
        its posterior from noisy inputs by default, or the importance-weighted bound for
        ``objective="iwae"``; nats per sample) at the end of each epoch.
    best_loss_ : float
        Lowest training loss reached.
    validation_scores_ : list of float or None
        Mean ELBO on the held-out data after each epoch, when ``early_stopping=True``.
    best_validation_score_ : float or None
        Best validation score, when ``early_stopping=True``.

    See Also
    --------
    Autoencoder : The deterministic autoencoder.
    sklearn.decomposition.PCA : Probabilistic PCA, the linear-Gaussian VAE's maximum-likelihood fit.
    sklearn.decomposition.FactorAnalysis : Linear-Gaussian model with per-feature noise.

    Notes
    -----
    ``transform`` returns the posterior mean ``mu(x)`` (deterministic) and ``inverse_transform``
    the decoder mean ``E[x|z]``. ``score_samples`` and ``log_likelihood`` are Monte-Carlo estimates
    whose noise is drawn from a fixed seed (by default): ``n_importance_samples`` standard-normal
    vectors, the same for every row, so that a row's score depends on that row alone and repeated
    calls agree.

    Both log-variances are bounded by a smooth clamp: the posterior's to ``[-16, 6]`` (for the full
    posterior, the log of the squared diagonal of ``A``), the Gaussian likelihood's to
    ``[c - 10, c + 5]`` with ``c`` the log of each feature's variance in the training data (for a
    constant feature, the other features' mean), whether it is learned per feature or given by the
    decoder, so constant features, and codes decoded exactly onto a training point, give a finite,
    large density rather than infinities.

    With the full posterior, ``KL(q(z|x) || N(0, I)) = (tr Σ + muᵀ mu - K - log det Σ) / 2`` with
    ``log det Σ`` the sum of the log-variances on the diagonal of ``A``, and ``log q(z|x)`` at
    ``z = mu + A eps`` needs no solve: ``A⁻¹ (z - mu) = eps``.

    The IWAE objective's gradient is the plain reparameterised one of Burda et al. (2016): with
    ``z_i = mu + A eps_i``, ``∇ log (1/k) Σ w_i = Σ_i w̃_i ∇ log w_i``, ``w̃_i = w_i / Σ_j w_j`` the
    normalised weights, computed by back-propagating through the log-sum-exp, for the decoder and
    the encoder alike (``log q`` is differentiated through both ``z_i`` and the posterior's
    parameters). It is unbiased for the bound, but the signal-to-noise ratio of the encoder's gradient
    falls as ``k`` grows (Rainforth et al., 2018): a large ``k`` helps the decoder more than the
    encoder. The doubly reparameterised estimator of Tucker et al. (2019), which fixes that, is not
    implemented. The KL term has no closed form inside the weights, so ``w_i`` uses the
    Monte-Carlo ``log p(z_i) - log q(z_i|x)``; for ``n_train_samples=1`` the bound is the ELBO and
    the closed-form KL (same expectation, less noise) is used, as for ``objective="elbo"``.
    ``beta`` scales ``log p(z_i) - log q(z_i|x)`` inside the weights, so that ``k = 1`` is the
    beta-ELBO. ``score_samples`` stays the ELBO whatever the objective; :meth:`log_likelihood` is
    the importance-weighted estimate for any of them.

    With ``hidden_layer_sizes=()``, ``activation="identity"`` and the Gaussian likelihood the model
    is factor analysis with a learned per-feature noise; its maximum-likelihood fit includes
    probabilistic PCA's (Tipping & Bishop, 1999; Lucas et al., 2019).

    References
    ----------
    .. [1] Kingma, D. P. and M. Welling, "Auto-encoding variational Bayes", ICLR 2014.
    .. [2] Rezende, D. J., S. Mohamed and D. Wierstra, "Stochastic backpropagation and approximate
       inference in deep generative models", ICML 2014.
    .. [3] Burda, Y., R. Grosse and R. Salakhutdinov, "Importance weighted autoencoders", ICLR 2016.
    .. [4] Higgins, I. et al., "beta-VAE: Learning basic visual concepts with a constrained
       variational framework", ICLR 2017.
    .. [5] Lucas, J., G. Tucker, R. Grosse and M. Norouzi, "Don't blame the ELBO! A linear VAE
       perspective on posterior collapse", NeurIPS 2019.
    .. [6] Cremer, C., X. Li and D. Duvenaud, "Inference suboptimality in variational
       autoencoders", ICML 2018.
    .. [7] Nix, D. A. and A. S. Weigend, "Estimating the mean and variance of the target probability
       distribution", IEEE International Conference on Neural Networks, 1994.
    .. [8] Rainforth, T. et al., "Tighter variational bounds are not necessarily better", ICML 2018.
    .. [9] Tucker, G., D. Lawson, S. Gu and C. J. Maddison, "Doubly reparameterized gradient
       estimators for Monte Carlo objectives", ICLR 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import VAE
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> vae = VAE(n_components=2, likelihood="bernoulli", hidden_layer_sizes=(64,), max_iter=5,
    ...           random_state=0).fit(X)
    >>> vae.transform(X).shape
    (1797, 2)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    >>> bool(vae.score(X) <= vae.log_likelihood(X).mean())
    True
    """

    _parameter_constraints: dict = {
        **network_constraints("n_components", "hidden_layer_sizes", "activation", "tied_weights", "dropout"),
        **ENGINE_CONSTRAINTS,
        "likelihood": [StrOptions({"gaussian", "bernoulli"})],
        "likelihood_variance": [StrOptions({"feature", "code"})],
        "posterior": [StrOptions({"diagonal", "full"})],
        "beta": [Interval(Real, 0, None, closed="left")],
        "free_bits": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "objective": [StrOptions({"elbo", "iwae"})],
        "n_train_samples": [Interval(Integral, 1, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=8,
        *,
        likelihood="gaussian",
        likelihood_variance="feature",
        posterior="diagonal",
        beta=1.0,
        free_bits="auto",
        noise_level=0.3,
        objective="elbo",
        n_train_samples=1,
        n_importance_samples=50,
        hidden_layer_sizes=(128,),
        activation="relu",
        tied_weights=False,
        dropout=0.0,
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
        conditioning="auto",
    ):
        store_params(self, locals())

    # ------------------------------------------------------------------ hooks

    def _check_params(self, X):
        if self._free_bits() and self.objective != "elbo":
            raise ValueError(
                f"free_bits={self.free_bits!r} leaves part of the ELBO's KL term free; "
                f"objective={self.objective!r} has no separate KL term. Use objective='elbo' or "
                "free_bits=0."
            )
        if self.likelihood_variance == "code" and self.likelihood != "gaussian":
            raise ValueError(
                "likelihood_variance='code' gives the Gaussian likelihood a variance that depends "
                f"on the code; likelihood={self.likelihood!r} has no variance parameter. Use "
                "likelihood='gaussian' or likelihood_variance='feature'."
            )
        if self.likelihood == "bernoulli":
            data = X.data if sp.issparse(X) else X
            if data.size and (data.min() < 0 or data.max() > 1):
                raise ValueError(
                    "likelihood='bernoulli' needs X in [0, 1], but X ranges over "
                    f"[{data.min():.4g}, {data.max():.4g}]. Scale it first, e.g. with "
                    "sklearn.preprocessing.MinMaxScaler, or use likelihood='gaussian'."
                )

    def _output_activation(self):
        return "sigmoid" if self.likelihood == "bernoulli" else "identity"

    def _build_module(self, n_features):
        return VAEModule(
            n_features,
            self.n_components,
            hidden_layer_sizes=self._hidden_sizes(),
            activation=self.activation,
            likelihood=self.likelihood,
            tied_weights=self.tied_weights,
            dropout=self.dropout,
            posterior=self.posterior,
            likelihood_variance=self.likelihood_variance,
        )

    def _free_bits(self):  # the floor on each unit's KL, "auto" resolved
        if self.free_bits == "auto":
            return _AUTO_FREE_BITS if self.objective == "elbo" else 0.0
        return float(self.free_bits)

    def _corrupt(self, X, generator, module):
        # The DAE's Gaussian corruption; noise_level=0 draws nothing (the noiseless estimator's stream).
        return gaussian_noise(X, self.noise_level, generator, module.conditioning.scale)

    def _loss(self, module, batch):
        X, generator = batch.X, batch.generator
        X_in = self._corrupt(X, generator, module)
        mu, logvar, tril = module.posterior(X_in)
        k = self.n_train_samples
        # One draw per row: (n, K). Several: (k, n, K) codes, decoded as k * n rows.
        shape = mu.shape if k == 1 else (k, *mu.shape)
        eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z, log_q = reparameterize(mu, logvar, tril, eps)
        out, out_logvar = module.decode_distribution(z.reshape(-1, z.shape[-1]))
        if k > 1:
            out = out.reshape(k, *mu.shape[:-1], -1)
            if out_logvar is not None and out_logvar.dim() > 1:  # one per row and draw
                out_logvar = out_logvar.reshape(k, *mu.shape[:-1], -1)
        return Loss(self._elbo_loss(module, X, mu, logvar, tril, z, log_q, out, out_logvar), mu)

    def _elbo_loss(self, module, X, mu, logvar, tril, z, log_q, out, out_logvar):
        if z.dim() > 2:  # k draws per row
            X = X.unsqueeze(0).expand_as(out)
        log_px = module.log_likelihood(X, out, out_logvar)
        if self.objective == "iwae" and z.dim() > 2:
            # The weights need log p(z) - log q(z|x) at each draw: the KL has no closed form here.
            log_pz = -0.5 * (z.float().square().sum(-1) + z.shape[-1] * _LOG_2PI)
            log_w = log_px + self.beta * (log_pz - log_q.float())
            return -importance_weighted_bound(log_w).mean()
        nll = -log_px.mean(0) if z.dim() > 2 else -log_px
        if self.beta == 0:
            return nll.mean()
        free_bits = self._free_bits()
        if free_bits:  # each unit's KL, averaged over the batch, floored: no gradient below the floor
            kl_units = kl_standard_normal_per_unit(mu, logvar, tril).mean(0)
            return nll.mean() + self.beta * torch.clamp(kl_units, min=free_bits).sum()
        return (nll + self.beta * kl_standard_normal(mu, logvar, tril)).mean()

    def _score_samples_tensor(self, module, X):
        elbo, _ = self._mc_bounds(module, X, self._scoring_noise(module, None, _SCORING_SEED))
        return elbo

    # ------------------------------------------------------------------ Monte-Carlo estimates

    def _scoring_noise(self, module, n_samples, random_state):
        k = self.n_importance_samples if n_samples is None else n_samples
        gen = torch.Generator().manual_seed(_seed_from(random_state))
        return torch.randn((k, self.n_components), generator=gen, dtype=torch.float32)

    def _mc_bounds(self, module, X, eps):
        """Per-row ``(mean_k log w_k, log mean_k w_k)`` for ``z_k = mu + A eps_k``.

        ``log w = log p(x|z) + log p(z) - log q(z|x)``: the first is the ELBO (with the beta-free,
        true KL), the second the importance-weighted bound of Burda et al. (2016). Rows and draws
        are decoded in chunks of at most ``_MC_CHUNK`` rows x draws.
        """
        mu, logvar, tril = module.posterior(X)
        mu, logvar = mu.float(), logvar.float()
        tril = None if tril is None else tril.float()
        eps = eps.to(mu.device)
        k = eps.shape[0]
        n = X.shape[0]
        per_chunk = max(1, _MC_CHUNK // max(n, 1))
        log_w = torch.empty((k, n), dtype=torch.float64, device=mu.device)
        for start in range(0, k, per_chunk):
            z, log_q = reparameterize(mu, logvar, tril, eps[start : start + per_chunk].unsqueeze(1))
            log_w[start : start + z.shape[0]] = log_weights(module, X, z, log_q).double()  # z: (s, n, K)
        elbo = log_w.mean(0)
        iw = importance_weighted_bound(log_w)
        return elbo.float(), iw.float()

    # ------------------------------------------------------------------ public methods

    def score_samples(self, X):
        """Per-sample evidence lower bound (ELBO), in nats.

        ``ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))`` (``beta`` does not enter), the
        expectation averaged over ``n_importance_samples`` posterior draws from a fixed seed, the KL
        term in closed form. It is a lower bound on ``log p(x)``: see :meth:`log_likelihood` for a
        tighter estimate.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        elbo : ndarray of shape (n_samples,), dtype float32
            Higher is better; low values flag samples the model finds unlikely.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import VAE
        >>> X = np.random.RandomState(0).normal(size=(100, 5))
        >>> vae = VAE(n_components=2, hidden_layer_sizes=(), max_iter=3, random_state=0).fit(X)
        >>> vae.score_samples(X[:3]).shape
        (3,)
        """
        return super().score_samples(X)

    def score(self, X, y=None):
        """Mean ELBO over X, in nats per sample (see :meth:`score_samples`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float

        Examples
        --------
        >>> import numpy as np
        >>> from skae import VAE
        >>> X = np.random.RandomState(0).normal(size=(100, 5))
        >>> vae = VAE(n_components=2, hidden_layer_sizes=(), max_iter=3, random_state=0).fit(X)
        >>> isinstance(vae.score(X), float)
        True
        """
        return super().score(X, y)

    @validate_params(
        {
            "X": ["array-like", "sparse matrix"],
            "n_importance_samples": [Interval(Integral, 1, None, closed="left"), None],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def log_likelihood(self, X, n_importance_samples=None, random_state=_SCORING_SEED):
        """Importance-weighted estimate of ``log p(x)`` per sample, in nats (Burda et al., 2016).

        ``log p(x) ≈ log (1/k) Σ_k p(x, z_k) / q(z_k|x)`` with ``z_k ~ q(z|x)``. Its expectation is
        a lower bound on ``log p(x)`` that tightens as ``k`` grows and is never below the ELBO
        computed from the same draws. Memory stays bounded: rows and draws are decoded in chunks.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples whose log-likelihood is estimated.
        n_importance_samples : int, default=None
            Number of draws ``k`` per sample; None uses the estimator's ``n_importance_samples``.
        random_state : int, RandomState instance or None, default=0
            Seeds the draws. They are shared by all rows, so each row's estimate depends on that row
            alone. The default fixed seed makes repeated calls agree; None draws fresh noise.

        Returns
        -------
        log_px : ndarray of shape (n_samples,), dtype float32

        Examples
        --------
        >>> import numpy as np
        >>> from skae import VAE
        >>> X = np.random.RandomState(0).normal(size=(100, 5))
        >>> vae = VAE(n_components=2, hidden_layer_sizes=(), max_iter=3, random_state=0).fit(X)
        >>> ll = vae.log_likelihood(X)  # the same draws as score_samples: never below it
        >>> ll.shape
        (100,)
        >>> bool(np.all(ll >= vae.score_samples(X) - 1e-4))
        True
        """
        check_is_fitted(self)
        eps = self._scoring_noise(self.module_, n_importance_samples, random_state)
        return self._apply(X, lambda m, xb: self._mc_bounds(m, xb, eps)[1], ())

    @validate_params(
        {
            "n_samples": [Interval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
            "kind": [StrOptions({"mean", "draw"})],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None, *, kind="mean"):
        """Generate new data: ``z ~ N(0, I)`` decoded.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws (a local generator; global random states are untouched). None gives
            fresh draws at every call.
        kind : {"mean", "draw"}, default="mean"
            "mean" returns the decoder means ``E[x|z]`` (smooth images: pixel probabilities for the
            Bernoulli likelihood); "draw" returns draws ``x ~ p(x|z)`` (0/1 values for Bernoulli,
            the means plus Gaussian noise of the learned per-feature variance for Gaussian).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), dtype float32

        Examples
        --------
        >>> import numpy as np
        >>> from skae import VAE
        >>> X = np.random.RandomState(0).normal(size=(100, 5))
        >>> vae = VAE(n_components=2, hidden_layer_sizes=(), max_iter=3, random_state=0).fit(X)
        >>> a = vae.sample(4, random_state=1)
        >>> a.shape
        (4, 5)
        >>> bool(np.array_equal(a, vae.sample(4, random_state=1)))
        True
        """
        self._check_network()
        module = self.module_
        device = self._module_device()
        gen = torch.Generator().manual_seed(_seed_from(random_state))
        z = torch.randn((n_samples, self.n_components), generator=gen, dtype=torch.float32)
        with torch.inference_mode():
            module.eval()
            out, logvar = module.decode_distribution(z.to(device))
            out = out.float().cpu()
            if kind == "mean":
                x = torch.sigmoid(out) if self.likelihood == "bernoulli" else out
            else:
                x = module.sample_likelihood(out, None if logvar is None else logvar.float().cpu(), gen)
        return x.numpy().astype(np.float32, copy=False)

    # ------------------------------------------------------------------ sklearn plumbing

    def __setstate__(self, state):
        # A VAE pickled before these parameters existed had a diagonal posterior, one variance per
        # feature, no free bits and no noise (the last two set after the digest check of the saved state).
        old = {key: 0.0 for key in ("free_bits", "noise_level") if key not in state}
        super().__setstate__({"posterior": "diagonal", "likelihood_variance": "feature", **state})
        self.__dict__.update(old)

    def __sklearn_tags__(self):
        # The base's tags (sparse input, float32 output) hold; only positivity comes from the likelihood.
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.likelihood == "bernoulli"
        return tags
