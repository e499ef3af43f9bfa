"""Exact k-nearest-neighbour search in Hamming space, over bit-packed codes with popcount."""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_array

__all__ = ["HammingIndex"]

# Distance and database index share one uint64 sort key: distance in the high bits, index in the low
# _INDEX_BITS. Sorting keys orders by distance, then by index, which is the tie-breaking rule.
_INDEX_BITS = 40
_INDEX_MASK = np.uint64((1 << _INDEX_BITS) - 1)
# Query rows x database rows handled at once, _QUERY_BLOCK queries at a time: bounds the working memory
# (about 11 bytes per pair, ~23 MB) whatever the size of the database.
_BLOCK_PAIRS = 1 << 21
_QUERY_BLOCK = 256
# While merging candidates, the query row (< _QUERY_BLOCK) goes in the top 8 bits of the key: distances
# then have 64 - 8 - _INDEX_BITS = 16 bits, so codes have at most 65,535 bits.
_ROW_SHIFT = 64 - 8
_KEY_MASK = np.uint64((1 << _ROW_SHIFT) - 1)
_MAX_BITS = (1 << (_ROW_SHIFT - _INDEX_BITS)) - 1


def _check_bits(X, input_name, packed):
    """Validated codes as ``(packed bits, n_bits)``: a C-contiguous uint8 array (``np.packbits`` order)."""
    if packed:
        X = check_array(X, dtype=None, input_name=input_name)
        if X.dtype != np.uint8:
            raise ValueError(
                f"{input_name} must hold packed bits as uint8 (the output of np.packbits or "
                f"HashingAutoencoder.transform_packed) when packed=True, got dtype {X.dtype}."
            )
        return np.ascontiguousarray(X), 8 * X.shape[1]
    X = check_array(X, dtype=None, input_name=input_name)
    if X.dtype != np.bool_:
        if X.dtype.kind not in "iuf":
            raise ValueError(f"{input_name} must hold numbers 0 and 1, got dtype {X.dtype}.")
        bad = (X != 0) & (X != 1)
        if bad.any():
            value = X[bad].flat[0].item()
            raise ValueError(
                f"{input_name} must hold binary codes, one 0 or 1 per bit, but it contains {value!r}. "
                "Threshold real-valued codes first (e.g. codes > 0 for sign codes), or pass packed "
                "bytes with packed=True."
            )
    return np.packbits(X.astype(bool, copy=False), axis=1), X.shape[1]


def _words(packed):
    """Packed bytes (n, n_bytes) as 64-bit words, one row per word: shape (n_words, n), contiguous.

    The bytes are zero-padded to a multiple of 8: padding bits are 0 in every code, so they never add
    to a distance.
    """
    n, n_bytes = packed.shape
    n_words = -(-n_bytes // 8)
    padded = np.zeros((n, 8 * n_words), dtype=np.uint8)
    padded[:, :n_bytes] = packed
    return np.ascontiguousarray(padded.view(np.uint64).T)


class HammingIndex:
    """Exact k-nearest-neighbour search by Hamming distance over binary codes.

    The database codes are stored bit-packed, 64 bits to a machine word, and a query's distance to
    every stored code is an XOR and a population count per word (``np.bitwise_count``). Queries are
    handled in blocks against blocks of the database, so the working memory is bounded (about 23 MB)
    whatever the number of stored codes; the stored codes take ``8 * ceil(n_bits / 64)`` bytes each.

    The search is exact. Neighbours are ordered by increasing distance, and items at the same distance
    by increasing index in the database: the order a stable sort of the distances would give, so the
    result is fully determined by the codes.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours returned by :meth:`kneighbors` when it is not given one.
    packed : bool, default=False
        How codes are passed to :meth:`fit` and :meth:`kneighbors`. False: one column per bit, each
        entry 0 or 1 (bool, integer or float; e.g. :meth:`HashingAutoencoder.transform`'s output).
        True: uint8 bytes of packed bits (``np.packbits(codes, axis=1)`` or
        :meth:`HashingAutoencoder.transform_packed`).

    Attributes
    ----------
    n_samples_fit_ : int
        Number of codes in the database.
    n_bits_ : int
        Bits per code: the number of columns of the codes, or 8 per byte when ``packed=True``.

    See Also
    --------
    HashingAutoencoder : Learns binary codes in which similar items are at small Hamming distance.
    sklearn.neighbors.NearestNeighbors : ``metric="hamming"`` on unpacked codes gives the same
        neighbours, with distances divided by the number of bits, at a far higher cost.

    Notes
    -----
    Cost: each query reads every stored code once (``n_samples_fit_ * n_bits / 8`` bytes), plus a
    selection among the few codes closer than its current k-th neighbour. It runs in one thread.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import HammingIndex
    >>> codes = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 1], [1, 1, 0, 0]])
    >>> index = HammingIndex(n_neighbors=2).fit(codes)
    >>> dist, ind = index.kneighbors([[0, 0, 1, 1]])
    >>> dist, ind  # [0, 0, 0, 1] differs in 1 bit; two codes differ in 2 bits: the lower index wins
    (array([[1, 2]]), array([[2, 0]]))
    """

    def __init__(self, n_neighbors=5, *, packed=False):
        self.n_neighbors = n_neighbors
        self.packed = packed

    def __repr__(self):
        return f"HammingIndex(n_neighbors={self.n_neighbors!r}, packed={self.packed!r})"

    def fit(self, X, y=None):
        """Store the database codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_bits), or (n_samples, n_bytes) uint8 if ``packed``
            The database's codes.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : HammingIndex
            The index.
        """
        _check_n_neighbors(self.n_neighbors, "n_neighbors")
        if not isinstance(self.packed, (bool, np.bool_)):
            raise ValueError(f"packed must be True or False, got {self.packed!r}.")
        packed, self.n_bits_ = _check_bits(X, "X", self.packed)
        if self.n_bits_ > _MAX_BITS:
            raise ValueError(f"HammingIndex handles codes of at most {_MAX_BITS} bits, got {self.n_bits_}.")
        self.n_samples_fit_ = packed.shape[0]
        if self.n_samples_fit_ >= 1 << _INDEX_BITS:
            raise ValueError(f"HammingIndex holds at most 2**{_INDEX_BITS} codes, got {self.n_samples_fit_}.")
        self._words = _words(packed)
        return self

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The k nearest database codes of each query code, by Hamming distance.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_bits), or (n_queries, n_bytes) uint8 if ``packed``, default=None
            Query codes. None queries the database itself, each code's own entry excluded from its
            neighbours (as in :meth:`sklearn.neighbors.NearestNeighbors.kneighbors`).
        n_neighbors : int, default=None
            Number of neighbours; None uses the index's ``n_neighbors``.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        dist : ndarray of shape (n_queries, n_neighbors), dtype int64
            Hamming distances (numbers of differing bits), increasing along each row. Only returned
            when ``return_distance=True``.
        ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Database indices of the neighbours; at equal distance, lower indices come first.
        """
        if not hasattr(self, "_words"):
            raise _not_fitted()
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        _check_n_neighbors(k, "n_neighbors")
        query_self = X is None
        if query_self:
            queries = self._words
            k_search = k + 1
        else:
            packed, n_bits = _check_bits(X, "X", self.packed)
            if n_bits != self.n_bits_:
                raise ValueError(
                    f"X has codes of {n_bits} bits, but this HammingIndex was fitted with codes of "
                    f"{self.n_bits_} bits" + (" (8 per byte, packed=True)." if self.packed else ".")
                )
            queries = _words(packed)
            k_search = k
        if k_search > self.n_samples_fit_:
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k_search}, "
                f"n_samples_fit = {self.n_samples_fit_}"
                + (" (a query of the database itself counts the sample as well)" if query_self else "")
            )
        keys = _search(queries, self._words, self.n_bits_, k_search)
        dist = (keys >> np.uint64(_INDEX_BITS)).astype(np.int64)
        ind = (keys & _INDEX_MASK).astype(np.int64)
        if query_self:
            dist, ind = _drop_self(dist, ind)
        return (dist, ind) if return_distance else ind


def _search(queries, words, n_bits, k):
    """Sort keys (distance << _INDEX_BITS | index) of the k nearest codes of each query, sorted."""
    n_words, n_queries = queries.shape
    n = words.shape[1]
    dist_dtype = np.uint8 if n_bits < 256 else np.uint16
    # Many queries against a slice of the database: the slice stays in cache while the queries pass.
    q_block = min(n_queries, _QUERY_BLOCK)
    db_block = max(k, _BLOCK_PAIRS // q_block)
    out = np.empty((n_queries, k), dtype=np.uint64)
    xor = np.empty(q_block * min(db_block, n), dtype=np.uint64)
    count = np.empty(q_block * min(db_block, n), dtype=np.uint8)
    dist = np.empty(q_block * min(db_block, n), dtype=dist_dtype)
    for q0 in range(0, n_queries, q_block):
        q = queries[:, q0 : q0 + q_block]
        b = q.shape[1]
        top = _TopK(b, k)
        for d0 in range(0, n, db_block):
            m = min(db_block, n - d0)
            D = dist[: b * m].reshape(b, m)
            for w in range(n_words):
                x = xor[: b * m].reshape(b, m)
                np.bitwise_xor(q[w][:, None], words[w, d0 : d0 + m][None, :], out=x)
                if w == 0:
                    np.bitwise_count(x, out=D if dist_dtype == np.uint8 else count[: b * m].reshape(b, m))
                    if dist_dtype != np.uint8:
                        D[...] = count[: b * m].reshape(b, m)
                else:
                    c = count[: b * m].reshape(b, m)
                    np.bitwise_count(x, out=c)
                    D += c
            top.add(D, d0)
        out[q0 : q0 + b] = top.result()
    return out


class _TopK:
    """The k smallest keys of each of ``b`` query rows, over blocks of distances in database order.

    The first block fills every row's list. From then on only codes *strictly* closer than a row's
    current k-th neighbour are kept as candidates (later blocks hold higher indices, which lose ties);
    they are buffered and merged into the lists now and then, not after every block, because merging
    costs a sort of all b * k current keys.
    """

    def __init__(self, b, k):
        self.b, self.k = b, k
        self.best = None  # (b, k) keys
        self.kth = None  # (b,) distance of each row's k-th key
        self.rows, self.keys, self.pending = [], [], 0

    def add(self, D, offset):
        m = D.shape[1]
        if self.best is None:
            # The keys are unique (the index is part of them): the partition picks the same set as a
            # full sort would.
            keys = (D.astype(np.uint64) << np.uint64(_INDEX_BITS)) | np.arange(offset, offset + m, dtype=np.uint64)
            self._set(np.partition(keys, self.k - 1, axis=1)[:, : self.k] if m > self.k else keys)
            return
        # flatnonzero of the raveled mask: several times faster than a 2-D nonzero. The bar only drops
        # between merges, so it may let through codes a fresher bar would have stopped: never too few.
        flat = np.flatnonzero(D < self.kth[:, None].astype(D.dtype))
        if flat.size == 0:
            return
        rows, cols = np.divmod(flat, m)
        self.rows.append(rows)
        dist = D.ravel()[flat].astype(np.uint64)
        self.keys.append((dist << np.uint64(_INDEX_BITS)) | (cols.astype(np.uint64) + np.uint64(offset)))
        self.pending += flat.size
        if self.pending >= self.best.size:
            self._merge()

    def result(self):
        self._merge()
        return np.sort(self.best, axis=1)

    def _set(self, best):
        self.best = best
        self.kth = best.max(axis=1) >> np.uint64(_INDEX_BITS)

    def _merge(self):
        if not self.pending:
            return
        b, k = self.b, self.k
        rows = np.concatenate([np.repeat(np.arange(b), k), *self.rows]).astype(np.uint64)
        keys = np.concatenate([self.best.ravel(), *self.keys])
        # One sort of single uint64 keys, the row in the top bits: faster than a lexsort of two arrays.
        merged = np.sort(keys | (rows << np.uint64(_ROW_SHIFT)))
        counts = np.bincount(rows, minlength=b)
        starts = np.cumsum(counts) - counts
        self._set(merged[starts[:, None] + np.arange(k)] & _KEY_MASK)
        self.rows, self.keys, self.pending = [], [], 0


def _drop_self(dist, ind):
    """Remove each query's own entry (row i of the database) from its k + 1 neighbours."""
    n, k1 = ind.shape
    is_self = ind == np.arange(n)[:, None]
    # A row whose own entry is not among its k + 1 (k + 1 duplicates of its code at lower indices)
    # drops its last neighbour instead.
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    return dist[keep].reshape(n, k1 - 1), ind[keep].reshape(n, k1 - 1)


def _check_n_neighbors(k, name):
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}.")


def _not_fitted():
    from sklearn.exceptions import NotFittedError

    return NotFittedError("This HammingIndex is not fitted yet: call fit with the database's codes first.")
