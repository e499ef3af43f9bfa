"""The neighbour-embedding autoencoder: reconstruction plus a t-SNE- or UMAP-like term on a kNN graph of the rows."""

import time
from numbers import Integral, Real

import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._autoencoder import Autoencoder
from ._denoising import gaussian_noise
from ._docstrings import engine_docs
from ._neighbor_graph import NeighborBatches, fuzzy_neighbor_graph, in_ordinary_units, principal_rows, umap_curve
from ._params import store_params
from ._penalties import cauchy_infonce, umap_cross_entropy
from ._training import Loss

__all__ = ["NeighborEmbeddingAutoencoder"]

# NearestNeighbors' names of the euclidean distance ("minkowski" at its default p=2, which the estimator
# cannot change).
_EUCLIDEAN = ("euclidean", "l2", "minkowski")


@engine_docs
class NeighborEmbeddingAutoencoder(Autoencoder):
    """Autoencoder whose code keeps each row's nearest neighbours: a parametric t-SNE or UMAP that decodes.

    The objective is the reconstruction loss plus ``embedding_weight`` times a neighbour-embedding
    term between the k-nearest-neighbour graph of the training rows and the codes: neighbours in
    the data attract each other in the code space, and the other rows repel. By default the term
    is t-SNE's loss with its heavy-tailed kernel, in its contrastive form (Damrich et al., 2023);
    ``embedding_loss="umap"`` takes UMAP's fuzzy cross-entropy (McInnes, Healy and Melville, 2018)
    instead. The result is a map of t-SNE's and UMAP's kind that, unlike them, maps new rows with
    one encoder pass (:meth:`transform`) and decodes any point of the map back to the input space
    (:meth:`inverse_transform`), as a plain autoencoder does (Sainburg, McInnes and Gentner, 2021).

    The graph is built at every ``fit`` (and every ``partial_fit`` call, on its rows) with
    scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors`. Each training step's rows are the
    heads of edges: every row is a head once per epoch, and four of its neighbours, each drawn with
    probability proportional to their membership, are appended to the step as its tails; the rows
    that repel are other rows of the same step.

    Read more in the :ref:`User Guide <neighbor_embedding>`.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code; 2 (or 3) for a map.
    n_neighbors : int, default=15
        Neighbours of each training row in the graph, the row itself not counted (UMAP's
        ``n_neighbors=15`` counts it, so this default keeps one more). Smaller values keep finer,
        local structure; larger ones more of the global arrangement. Must be less than the number
        of training rows.
    embedding_weight : float, default=10.0
        Weight of the neighbour-embedding term relative to the reconstruction loss (which is
        divided by the data's reference loss, so the weight is unit-free). 0 with
        ``noise_level=0`` gives the plain :class:`Autoencoder`, trained identically (0 with noise,
        the Gaussian :class:`DenoisingAutoencoder`). The reconstruction suffers little whatever
        the weight, since the decoder learns from the reconstruction alone. The best weight
        depends on the term and the data (measured in the :ref:`User Guide
        <neighbor_embedding>`): grid-search it, e.g. over ``[3, 10, 100]``.
    embedding_loss : {"tsne", "umap"}, default="tsne"
        The neighbour-embedding term. "tsne" is t-SNE's normalised loss with its heavy-tailed
        kernel ``1 / (1 + d²)``, in its contrastive form (InfoNCE; Damrich et al., 2023): each
        edge is scored against all the other codes of the training step at once, so a head is
        pushed from them only as much as it is pulled to its neighbour. "umap" is UMAP's fuzzy
        cross-entropy: each edge attracts its two ends and ``negative_sample_rate`` sampled rows
        repel the head, each on its own. ``min_dist`` and ``negative_sample_rate`` apply to
        "umap" only. With the default input noise "tsne" placed held-out rows among their class
        at least as well as "umap" and kept the training rows' neighbours better (see the
        :ref:`User Guide <neighbor_embedding>`).
    min_dist : float, default=0.1
        UMAP's ``min_dist``: how tightly neighbours may pack in the map. It sets the code-space
        similarity ``1 / (1 + a d^(2b))``, fitted to 1 below ``min_dist`` and
        ``exp(-(d - min_dist))`` above.
    negative_sample_rate : int, default=5
        Negative samples per edge and step, drawn among the step's codes.
    metric : str or callable, default="euclidean"
        Distance of the neighbour graph, any metric of
        :class:`~sklearn.neighbors.NearestNeighbors`.
    graph_pca_components : int or None, default=50
        With the euclidean ``metric`` ("euclidean", "l2" or "minkowski"), the neighbours are
        searched among the rows projected on their first ``graph_pca_components`` principal
        components, t-SNE's usual first step: the directions of least variance hold mostly noise,
        so the graph's neighbours agree more often with the data's own structure (see the
        :ref:`User Guide <neighbor_embedding>`), and the search is faster. The network still
        learns from the rows themselves. None searches the rows as given; so does data with no
        more than this many features or rows, and any other ``metric``, which is measured on the
        features as given.
    noise_level : float, default=0.1
        Standard deviation of Gaussian noise added to the encoder's input during training, in
        units of each feature's scale (as :class:`DenoisingAutoencoder`'s ``noise="gaussian"``):
        every row of a step, heads and neighbours, is mapped from a fresh noisy copy, and the
        reconstruction target stays the clean row. The map then learns to place a row the same
        whatever small perturbation it carries, which is what placing and decoding new rows
        needs. The default's light noise places held-out rows among their class and decodes them
        better than no noise, for a slightly lower trustworthiness of the training rows' map;
        heavier noise trades more of it (see the :ref:`User Guide <neighbor_embedding>`). Each
        step draws one Gaussian value per input value, which lengthens an epoch. 0 adds no noise
        and draws nothing. :meth:`transform` never adds noise.
    hidden_layer_sizes : array-like of int, default=(128, 128, 128, 128, 128)
        Sizes of the encoder's hidden layers; the decoder uses them in reverse. Five hidden layers
        of 128 units by default: a map needs a deeper encoder than the plain autoencoder's default,
        and depth, more than width, places new rows among their neighbours and keeps the training
        rows' neighbours (see the :ref:`User Guide <neighbor_embedding>`).
    activation : {"relu", "tanh", "sigmoid", "elu", "gelu", "identity"}, default="relu"
        Activation of the hidden layers.
    code_activation : {"identity", "sigmoid", "tanh", "relu", "elu", "gelu"}, default="identity"
        Activation of the code units; a map wants the default, a linear code.
    output_activation : {"auto", "identity", "sigmoid"}, default="auto"
        Activation of the reconstruction. "auto" is "sigmoid" for ``loss="bce"`` and "identity"
        otherwise; ``loss="bce"`` needs "sigmoid" (its reconstructions are probabilities).
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. "bce" (binary cross-entropy) needs X in [0, 1].
    tied_weights : bool, default=False
        If True the decoder's weights are the encoder's, transposed.
    dropout : float, default=0.0
        Dropout rate on the hidden activations during training.
    [engine-params: alpha]
    [engine-params: batch_size]
    learning_rate_init : float, default=3e-3
        Adam's step size at the start of the schedule: three times the other estimators', since
        the step decays to zero over the budget (``learning_rate``).
    [engine-params: max_iter]
    learning_rate : {"linear_decay", "constant", "cosine", "plateau"}, default="linear_decay"
        Schedule of the step size over one ``fit``, as in :class:`Autoencoder`, whose default is
        "constant". A map's objective is a sample of edges, so its loss is noisy: a step size that
        falls to 0 at the end of the budget (``max_iter`` epochs or ``max_time`` seconds) settles
        the map's local structure. "linear_decay" and "cosine" keep ``learning_rate_init`` until
        the fraction ``decay_start`` of the budget is spent, then take it down to 0; "plateau"
        divides it by 5 each time the loss stalls for ``n_iter_no_change`` epochs and stops at the
        fifth. ``partial_fit`` always uses ``learning_rate_init``; a ``warm_start`` fit starts the
        schedule again.
    [engine-params: decay_start, max_time, tol]
    n_iter_no_change : int, default=200
        Number of epochs with no improvement to wait before stopping. As large as the default
        ``max_iter``, so that the noise of the sampled loss does not end the fit before the
        decaying step size reaches zero.
    [engine-params: early_stopping, validation_fraction, shuffle, random_state, verbose, warm_start, device,
    precision]
    conditioning : {"auto", "standard", "center", "none"}, default="auto"
        How the network sees the data, from statistics learned at the first fit (see the
        :ref:`User Guide <conditioning>`). "auto" is "center" where every training value lies in
        [0, 1] (pixels, MinMaxScaler's output: features that share one unit) and "standard"
        otherwise; the neighbour graph is built on the data as given either way. Centred only,
        the input noise has the same standard deviation on every pixel. "standard", "center" and
        "none" are as in :class:`Autoencoder`.
    module : callable, default=None
        A network of your own (see :class:`Autoencoder`), such as
        :class:`skae.modules.ConvAutoencoderModule` for images; the neighbour graph is still built on
        the rows of X.
    module_params : dict, default=None
        Keyword arguments of ``module``.
    [engine-params: pretraining, pretraining_max_iter]

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, with ``encode`` and ``decode`` methods.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training samples seen.
    loss_curve_ : list of float
        Training objective (reconstruction plus the weighted embedding term) at the end of each
        epoch, in the units of the reconstruction loss.
    best_loss_ : float
        Lowest training loss reached.
    validation_scores_ : list of float or None
        Score (mean of :meth:`score_samples`, the reconstruction alone) on the held-out data after
        each epoch, when ``early_stopping=True``; None otherwise.
    best_validation_score_ : float or None
        Best validation score, when ``early_stopping=True``; None otherwise.
    pretraining_loss_curves_ : list of list of float or None
        With ``pretraining``: per pair of layers, bottom up, its reconstruction loss before
        pretraining and then after each epoch. None without pretraining.

    See Also
    --------
    Autoencoder : The same network with no neighbour term and no noise (``embedding_weight=0``,
        ``noise_level=0``).
    sklearn.manifold.TSNE : A map of the training rows only; it cannot map new rows or decode.
    sklearn.decomposition.PCA : The linear map, fast, but it mixes the classes of most data.

    Notes
    -----
    With encoder ``f``, decoder ``g``, the graph's edges ``(i, j)`` and negative samples ``k``, a
    step's objective with ``embedding_loss="umap"`` is

    .. math::

        \\frac{1}{m}\\sum_{i} \\frac{L(x_i, g(f(x_i)))}{L_0}
        + \\lambda \\frac{1}{m}\\sum_{i} \\Big[ -\\log q(\\lVert f(x_i) - f(x_j) \\rVert)
        - \\sum_{k} \\log\\big(1 - q(\\lVert f(x_i) - f(x_k) \\rVert)\\big) \\Big]

    over its ``m`` head rows, with ``q(d) = 1 / (1 + a d^{2b})``, ``L_0`` the reconstruction loss's
    reference (the data's mean variance for the squared error) and ``λ = embedding_weight``. The
    graph's memberships decide which neighbour is drawn (UMAP's fuzzy simplicial set: the distance
    to the nearest neighbour subtracted, a per-row bandwidth, the fuzzy union of both directions).
    With ``embedding_loss="tsne"``, the default, the bracket is
    ``-log(q_ij / (q_ij + Σ_k q_ik))`` with ``q(d) = 1 / (1 + d²)`` and ``k`` running over every
    code of the step (heads and tails) but those of row ``i``, averaged over the step's edges.
    With ``noise_level=σ > 0`` every ``f(x)`` above is ``f(x + σ s ⊙ ε)``, ``ε ~ N(0, I)`` drawn
    afresh for each row of each step and ``s`` the features' scales, while ``L`` still compares the
    reconstruction with the clean ``x_i``.

    The graph needs all training rows at once: building it costs a k-nearest-neighbour search
    (scikit-learn's, exact; for dense data brute force, quadratic in the rows), done once per
    ``fit`` and counted in ``max_time``. ``partial_fit`` builds it on each call's rows only. The graph is
    not kept after training: the fitted model holds only the network.

    Mapping new rows costs one encoder pass; as any parametric map it places rows unlike every
    training row where the encoder extrapolates, which the reconstruction error
    (:meth:`score_samples`) flags.

    References
    ----------
    .. [1] McInnes, L., J. Healy and J. Melville, "UMAP: Uniform manifold approximation and projection
       for dimension reduction", arXiv:1802.03426, 2018.
    .. [2] Sainburg, T., L. McInnes and T. Q. Gentner, "Parametric UMAP embeddings for representation
       and semisupervised learning", Neural Computation 33(11), 2021.
    .. [3] Damrich, S., J. N. Böhm, F. A. Hamprecht and D. Kobak, "From t-SNE to UMAP with
       contrastive learning", International Conference on Learning Representations, 2023.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skae import NeighborEmbeddingAutoencoder
    >>> X = MinMaxScaler().fit_transform(load_digits().data)
    >>> mapper = NeighborEmbeddingAutoencoder(max_iter=5, random_state=0)
    >>> codes = mapper.fit_transform(X)
    >>> codes.shape
    (1797, 2)
    >>> mapper.inverse_transform(codes[:3]).shape
    (3, 64)
    """

    _parameter_constraints: dict = {
        **Autoencoder._family_constraints,
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "embedding_weight": [Interval(Real, 0, None, closed="left")],
        "embedding_loss": [StrOptions({"tsne", "umap"})],
        "min_dist": [Interval(Real, 0, None, closed="left")],
        "negative_sample_rate": [Interval(Integral, 1, None, closed="left")],
        "metric": [str, callable],
        "graph_pca_components": [Interval(Integral, 1, None, closed="left"), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
    }

    # Neighbours drawn per head and step. On the digits at a fixed 200 epochs, 1, 4 and 16 tails gave
    # maps alike, within the seeds' spread; an epoch of 4 costs about 1.5 times one of 1. Under a
    # time budget on MNIST, 4 give the better map: on 50,000 images in 10 minutes on 2 cores, 276
    # epochs of 4 tails mapped the test images to a held-out 1-NN accuracy of 0.916 against 0.887
    # for 449 epochs of 1 (trustworthiness 0.956 against 0.952; RESULTS.md, bench_visualization).
    _n_tails = 4

    def __init__(
        self,
        n_components=2,
        *,
        n_neighbors=15,
        embedding_weight=10.0,
        embedding_loss="tsne",
        min_dist=0.1,
        negative_sample_rate=5,
        metric="euclidean",
        graph_pca_components=50,
        noise_level=0.1,
        hidden_layer_sizes=(128, 128, 128, 128, 128),
        activation="relu",
        code_activation="identity",
        output_activation="auto",
        loss="mse",
        tied_weights=False,
        dropout=0.0,
        alpha=0.0,
        batch_size="auto",
        learning_rate="linear_decay",
        learning_rate_init=3e-3,
        decay_start=0.0,
        max_iter=200,
        max_time=None,
        tol=1e-5,
        n_iter_no_change=200,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        device="cpu",
        precision="float32",
        conditioning="auto",
        module=None,
        module_params=None,
        pretraining=None,
        pretraining_max_iter=10,
    ):
        store_params(self, locals())

    # The rows of the call being fitted, from _validate_fit_data to _batch_extension (which builds the
    # graph on those it trains on, once early stopping has held its rows out): never kept after that.
    def _validate_fit_data(self, X, y, reset, incremental=False, classes=None):
        X, targets = super()._validate_fit_data(X, y, reset, incremental=incremental, classes=classes)
        self._graph_rows = X
        return X, targets

    def _check_params(self, X):
        try:
            if "_graph_rows" not in vars(self):
                # Only this estimator's own fit goes through _validate_fit_data; the semi-supervised
                # classifier calls the hooks of the autoencoder it holds, with batches of its own.
                raise ValueError(
                    f"{type(self).__name__} trains on the neighbour graph of its own training rows and "
                    "cannot be the autoencoder of another estimator's training loop (e.g. "
                    "AutoencoderClassifier); fit it on its own."
                )
            super()._check_params(X)
            _check_n_neighbors(self.n_neighbors, X.shape[0])
            self._curve = umap_curve(self.min_dist)
        except Exception:
            vars(self).pop("_graph_rows", None)
            raise

    def _batch_extension(self, targets, train_index, n_train):
        X = vars(self).pop("_graph_rows")
        if not self.embedding_weight:
            return None  # the plain autoencoder's steps, the same random draws included
        n = X.shape[0]
        if train_index is not None:
            _check_n_neighbors(self.n_neighbors, n_train, what="rows early_stopping trains on")
            X = X[train_index.numpy()]
        start = time.perf_counter()
        euclidean = self.metric in _EUCLIDEAN  # principal components keep euclidean distances, not others
        searched = principal_rows(in_ordinary_units(X), self.graph_pca_components) if euclidean else X
        graph = fuzzy_neighbor_graph(searched, self.n_neighbors, metric=self.metric)
        if train_index is not None:
            # Back to the rows' own indices; the held-out rows have no edges and are never heads.
            index = train_index.numpy()
            graph = graph.tocoo()
            graph = sp.csr_matrix((graph.data, (index[graph.row], index[graph.col])), shape=(n, n))
        if self.verbose:
            print(
                f"Neighbour graph: {X.shape[0]} rows, {self.n_neighbors} neighbours"
                + ("" if searched is X else f" among {searched.shape[1]} principal components")
                + f", {graph.nnz} edges ({time.perf_counter() - start:.2f}s)"
            )
        return NeighborBatches(graph, self._n_tails)

    def _corrupt(self, X, generator, module):
        # The DAE's Gaussian corruption; noise_level=0 draws nothing (the noiseless estimator's stream).
        return gaussian_noise(X, self.noise_level, generator, module.conditioning.scale)

    def _loss(self, module, batch):
        X = batch.X
        m = X.shape[0] - batch.n_extra  # the heads; with the neighbour term, blocks of their tails follow
        code = module.encode(self._corrupt(X, batch.generator, module))
        value = self._reconstruction(module.decode_preactivation(code[:m]), X[:m])
        if batch.n_extra and self.embedding_loss == "tsne":
            value = value + self.embedding_weight * cauchy_infonce(code, m).mean()
        elif batch.n_extra:
            a, b = self._curve
            heads = code[:m].repeat(batch.n_extra // m, 1)
            # Negatives among the heads, a uniform sample of the rows (the tails favour well-connected rows).
            negatives = torch.randint(
                m, (heads.shape[0], self.negative_sample_rate), generator=batch.generator, device=code.device
            )
            embedding = umap_cross_entropy(heads, code[m:], code[negatives], a, b).mean()
            value = value + self.embedding_weight * embedding
        return Loss(value, code[:m])


def _check_n_neighbors(n_neighbors, n_samples, what="n_samples"):
    """scikit-learn's wording (``KNeighborsMixin.kneighbors``), with what to change."""
    if n_neighbors >= n_samples:
        raise ValueError(
            f"Expected n_neighbors < n_samples, but n_neighbors = {n_neighbors}, n_samples = {n_samples}"
            + ("" if what == "n_samples" else f" ({what})")
            + ": the neighbour graph needs more training rows than n_neighbors. Lower n_neighbors or "
            "fit on more rows."
        )
