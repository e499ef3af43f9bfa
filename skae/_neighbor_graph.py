"""The k-nearest-neighbour graph a neighbour embedding keeps, and the steps that sample its edges.

``fuzzy_neighbor_graph`` is UMAP's fuzzy simplicial set of the training rows (McInnes, Healy and
Melville, 2018): scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors` finds each row's
neighbours, a per-row bandwidth turns their distances into memberships, and the graph is their
fuzzy union. ``NeighborBatches`` is the engine's batch extension (``_batch_extension``): each
training step's rows are the heads of edges, and it appends one neighbour of each, drawn with
probability proportional to the edge's membership. ``umap_curve`` fits the low-dimensional
similarity ``1 / (1 + a d^(2b))`` to ``min_dist``.
"""

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import curve_fit
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

__all__ = ["NeighborBatches", "fuzzy_neighbor_graph", "principal_rows", "umap_curve"]

# Bisection steps of the per-row bandwidth search (each halves the bracket: 64 reach float64's precision).
_BANDWIDTH_STEPS = 64


def fuzzy_neighbor_graph(X, n_neighbors, metric="euclidean", n_jobs=None):
    """The symmetric fuzzy k-nearest-neighbour graph of the rows of ``X``, a CSR matrix.

    Each row's ``n_neighbors`` nearest other rows get memberships ``exp(-(d - ρ) / σ)``, where ``ρ``
    is the distance to its nearest neighbour (so that every row is fully connected to at least one
    other) and ``σ`` is chosen so that its memberships sum to ``log2(n_neighbors + 1)`` (UMAP counts
    the row itself among its neighbours). The directed memberships ``A`` are then joined by the
    fuzzy union ``A + Aᵀ - A ∘ Aᵀ``.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    n_neighbors : int
        Neighbours of each row, itself not counted; less than n_samples.
    metric : str or callable, default="euclidean"
        Passed to :class:`~sklearn.neighbors.NearestNeighbors`.
    n_jobs : int, default=None
        Passed to :class:`~sklearn.neighbors.NearestNeighbors`.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples), dtype float32
        Symmetric, with memberships in (0, 1] and an empty diagonal.
    """
    n = X.shape[0]
    nn = NearestNeighbors(n_neighbors=n_neighbors, metric=metric, n_jobs=n_jobs).fit(X)
    distances, indices = nn.kneighbors()  # X=None: each row's neighbours other than itself
    memberships = _memberships(distances.astype(np.float64), np.log2(n_neighbors + 1))
    rows = np.repeat(np.arange(n), n_neighbors)
    A = sp.csr_matrix((memberships.ravel(), (rows, indices.ravel())), shape=(n, n))
    A.sum_duplicates()
    graph = A + A.T - A.multiply(A.T)
    graph.setdiag(0.0)
    graph.eliminate_zeros()
    return sp.csr_matrix(graph, dtype=np.float32)


def in_ordinary_units(X):
    """``X``, or ``X`` times the power of two that brings its largest magnitude near 1 where that lies
    outside 2**±30: the rows' euclidean neighbours are the same, and their squares and distances no
    longer leave float32's range (pixels in units of 1e-19 gave PCA no variance and a graph of other
    neighbours; in units of 1e19, memberships of NaN). Exact: a power of two only moves the exponent."""
    peak = max(float(X.max()), -float(X.min())) if X.shape[0] and X.shape[1] else 0.0  # no copy of X
    if peak == 0.0 or not np.isfinite(peak) or 2.0**-30 < peak < 2.0**30:
        return X
    factor = 2.0 ** -np.round(np.log2(peak))
    if factor < np.finfo(X.dtype).max:
        return X * X.dtype.type(factor)
    return (X.astype(np.float64) * factor).astype(X.dtype)  # a subnormal peak: 2**130 is beyond float32


def principal_rows(X, n_components):
    """The rows of ``X`` on their first ``n_components`` principal components, to search neighbours in.

    t-SNE's usual first step (van der Maaten and Hinton reduced MNIST to 30 components): the
    discarded directions of least variance hold mostly noise, so the neighbours found among the
    projected rows agree more often with the data's own classes, and the search is faster. ``X`` is
    returned as it is where ``n_components`` is None or not less than its rank bound
    ``min(n_samples, n_features)``: the projection would then keep every distance. The solver is
    scikit-learn's choice for the data (sparse rows included), seeded, so the graph is deterministic.
    """
    if n_components is None or n_components >= min(X.shape):
        return X
    return PCA(n_components, random_state=0).fit_transform(X)


def _memberships(distances, target):
    """``exp(-(d - ρ) / σ)`` per row, ``σ`` found by bisection so that each row sums to ``target``.

    ``distances`` is (n_samples, k), sorted along rows; all rows are searched at once.
    """
    rho = distances[:, :1]
    excess = np.maximum(distances - rho, 0.0)
    low = np.zeros(len(distances))
    high = np.full(len(distances), np.inf)
    sigma = np.ones(len(distances))
    for _ in range(_BANDWIDTH_STEPS):
        total = np.exp(-excess / sigma[:, None]).sum(axis=1)
        too_big = total > target  # a narrower bandwidth lowers the sum
        high = np.where(too_big, sigma, high)
        low = np.where(too_big, low, sigma)
        sigma = np.where(np.isinf(high), sigma * 2.0, 0.5 * (low + high))
    # Rows whose neighbours all lie at the same distance reach no target: all memberships 1 then.
    sigma = np.maximum(sigma, 1e-3 * max(float(np.mean(distances)), 1e-12))
    return np.exp(-excess / sigma[:, None])


def umap_curve(min_dist, spread=1.0):
    """``(a, b)`` of ``1 / (1 + a d^(2b))``, closest to 1 below ``min_dist`` and to ``exp(-(d - min_dist))`` above.

    UMAP's least-squares fit of its low-dimensional similarity (``min_dist=0.1`` gives
    ``a ≈ 1.58, b ≈ 0.90``).
    """
    d = np.linspace(0, 3 * spread, 300)
    target = np.where(d < min_dist, 1.0, np.exp(-(d - min_dist) / spread))
    (a, b), _ = curve_fit(lambda d, a, b: 1.0 / (1.0 + a * d ** (2 * b)), d, target, p0=(1.0, 1.0))
    return float(a), float(b)


class NeighborBatches:
    """The engine's batch extension of a neighbour embedding: sampled neighbours of each step's rows.

    ``extend(index, generator)`` returns the step's rows ``index`` (the heads) followed by
    ``n_tails`` blocks of one neighbour of each (the tails), drawn independently from the graph's
    row with probabilities proportional to the memberships. ``size`` is the number of rows the last
    call appended (the engine reads it right after ``extend``: the last step of an epoch is
    smaller). A row without neighbours is its own tail.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        Non-negative memberships.
    n_tails : int, default=1
        Neighbours drawn per head and step.
    """

    def __init__(self, graph, n_tails=1):
        graph = sp.csr_matrix(graph)
        self.n_tails = n_tails
        self.indptr = torch.from_numpy(graph.indptr.astype(np.int64))
        self.indices = torch.from_numpy(graph.indices.astype(np.int64))
        weights = graph.data.astype(np.float64)
        self.cumulative = torch.from_numpy(np.cumsum(weights))
        self.before = torch.from_numpy(np.concatenate([[0.0], np.cumsum(weights)]))  # sum before entry p
        self.size = 0

    def extend(self, index, generator):
        heads = index.repeat(self.n_tails)
        start, stop = self.indptr[heads], self.indptr[heads + 1]
        low, high = self.before[start], self.before[stop]
        u = torch.rand(heads.numel(), generator=generator, dtype=torch.float64)
        self.size = heads.numel()
        if self.indices.numel() == 0:
            return torch.cat([index, heads])
        pos = torch.searchsorted(self.cumulative, low + u * (high - low), right=True)
        # Rounding may land a draw one entry outside its row; an empty row's draw is unused.
        pos = torch.minimum(torch.maximum(pos, start), stop - 1).clamp(0, self.indices.numel() - 1)
        tails = torch.where(stop > start, self.indices[pos], heads)
        return torch.cat([index, tails])
