"""Validated X as float32 torch tensors a batch at a time, its per-feature statistics, and the
refusal to return non-finite output."""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

# Rows per forward pass in transform / score_samples / jacobian: bounds memory whatever n_samples is.
_INFERENCE_BATCH = 2048


class _Rows:
    """Rows of a validated float32 X as torch tensors, without a full copy.

    Dense writable arrays are wrapped once with ``torch.from_numpy`` (zero copy) and batches are
    gathered with ``index_select``. Read-only arrays (memmaps) are gathered by numpy, a batch at a
    time, so torch never holds a non-writable buffer. Sparse matrices are densified one batch at a time.
    """

    def __init__(self, X):
        self.n = X.shape[0]
        self._X = X
        self._tensor = None
        if not sp.issparse(X) and X.flags.writeable and X.flags.c_contiguous:
            self._tensor = torch.from_numpy(X)

    def take(self, index):
        """Rows at ``index`` (a CPU int64 tensor), as a new float32 tensor."""
        if self._tensor is not None:
            return self._tensor.index_select(0, index)
        rows = self._X[index.numpy()]
        if sp.issparse(rows):
            rows = rows.toarray()
        return torch.from_numpy(np.ascontiguousarray(rows))

    def subset(self, index):
        """The rows at ``index`` (a CPU int64 tensor) as a view with ``take`` and ``n``, nothing copied."""
        return _RowSubset(self, index)

    def slice(self, start, stop):
        """Rows ``start:stop`` as a float32 tensor (a view where possible)."""
        if self._tensor is not None:
            return self._tensor[start:stop]
        rows = self._X[start:stop]
        rows = rows.toarray() if sp.issparse(rows) else np.array(rows, order="C")
        return torch.from_numpy(rows)


class _RowSubset:
    """Some rows of a :class:`_Rows`: ``take(i)`` is the i-th of them (pretraining's training rows)."""

    def __init__(self, rows, index):
        self._rows, self._index = rows, index
        self.n = int(index.numel())

    def take(self, index):
        return self._rows.take(self._index.index_select(0, index))


# Conditioning: the data's per-feature location and scale, learned at the first fit.
# No training value is standardised beyond this many scales from the mean (see _feature_statistics).
_MAX_STANDARDIZED = 10.0
# conditioning="auto" centres only data in [0, 1] that spans at least this much of it (pixels, binary
# features, MinMaxScaler's output). Centred only, data of a smaller spread (values in [0, 0.1]) is in
# units too small for the network's initial outputs, its steps and a noise level set in the data's unit:
# on the digits scaled to [0, 0.1] a centred DenoisingAutoencoder reconstructed nothing (R² 0.00, 0.74
# standardised) and a centred Autoencoder lost from 0.76 to 0.70 at [0, 0.01], 0.34 at [0, 0.001].
_UNIT_BOX_SPAN = 0.5
# Rows per chunk when computing the statistics: memory stays flat in n_samples (memmaps, sparse X).
_STATS_CHUNK_VALUES = 2**20


class FeatureStatistics(NamedTuple):
    """What the first fit learns of the data: per-feature mean, variance and scale (float64), and
    whether the values fill the unit box: every one in [0, 1], spanning at least ``_UNIT_BOX_SPAN``
    of it (the features share one unit of order 1: what ``conditioning="auto"`` reads)."""

    mean: np.ndarray
    var: np.ndarray
    scale: np.ndarray
    fills_unit_box: bool


def _feature_statistics(X):
    """Per-feature mean, variance and scale of validated X, in float64, a chunk of rows at a time.

    ``scale`` is the standard deviation, raised where needed so that no training value lies more than
    ``_MAX_STANDARDIZED`` scales from the mean: a feature that is almost always constant (a border
    pixel that is lit in a handful of images) would otherwise be standardised to values in the
    hundreds. Constant features get the mean of the other features' scales (1 if all are constant),
    so that standardising never divides by zero and stays equivariant to rescaling X as a whole.
    Chunks are merged with Chan et al.'s pairwise update, which is exact and numerically stable.
    """
    n, d = X.shape
    step = max(1, _STATS_CHUNK_VALUES // max(d, 1))
    mean = np.zeros(d)
    m2 = np.zeros(d)
    low = np.full(d, np.inf)
    high = np.full(d, -np.inf)
    count = 0
    for start in range(0, n, step):
        chunk = X[start : start + step]
        chunk = chunk.toarray() if sp.issparse(chunk) else chunk
        chunk = np.asarray(chunk, dtype=np.float64)
        c = chunk.shape[0]
        c_mean = chunk.mean(axis=0)
        c_m2 = np.square(chunk - c_mean).sum(axis=0)
        delta = c_mean - mean
        total = count + c
        mean += delta * (c / total)
        m2 += c_m2 + np.square(delta) * (count * c / total)
        count = total
        low = np.minimum(low, chunk.min(axis=0))
        high = np.maximum(high, chunk.max(axis=0))
    var = m2 / max(count, 1)
    spread = np.maximum(high - mean, mean - low) / _MAX_STANDARDIZED
    scale = np.maximum(np.sqrt(var), spread)
    # Variation below float32's resolution of the values themselves is rounding, not signal.
    constant = scale <= 10 * np.finfo(np.float32).eps * np.abs(mean)
    if constant.all():
        scale[:] = 1.0
    elif constant.any():
        scale[constant] = scale[~constant].mean()
    fills = bool(count and low.min() >= 0 and high.max() <= 1 and high.max() - low.min() >= _UNIT_BOX_SPAN)
    return FeatureStatistics(mean, var, scale, fills_unit_box=fills)


def _check_finite_output(estimator, out, X):
    """Refuse to return inf/NaN: finite inputs so large that float32 arithmetic overflows on them."""
    if np.isfinite(out).all():
        return out
    data = X.data if sp.issparse(X) else X
    peak = float(np.abs(data).max()) if data.size else 0.0
    raise ValueError(
        f"{type(estimator).__name__} produced non-finite values (inf or NaN) on this input: its values "
        f"(largest magnitude {peak:.3g}) overflow the float32 arithmetic of the network. Rescale X, "
        "e.g. with sklearn.preprocessing.StandardScaler or MinMaxScaler."
    )


def stratified_split(targets, n_val, generator):
    """``(train_index, val_index)``: ``n_val`` rows held out, each stratum of ``targets`` (a class,
    or -1 for the unlabeled rows) in proportion to its count, the largest remainders rounded up (ties
    in a random order, as scikit-learn breaks them), as scikit-learn's stratified split does. Each
    class keeps a row to train on where ``n_val`` allows. Both index sets in the rows' order."""
    strata, counts = (t.tolist() for t in torch.unique(targets, return_counts=True))
    share = [count * n_val / len(targets) for count in counts]
    room = [count - (label >= 0) for count, label in zip(counts, strata)]
    take = [min(int(s), r) for s, r in zip(share, room)]
    left = n_val - sum(take)
    tie_break = torch.randperm(len(strata), generator=generator).tolist()
    by_remainder = sorted(range(len(strata)), key=lambda i: (take[i] - share[i], tie_break[i]))
    for cap in ([min(t + 1, r) for t, r in zip(take, room)], room, counts):
        for i in by_remainder:
            step = min(left, cap[i] - take[i])
            take[i], left = take[i] + step, left - step
    # The rows of each stratum in turn (one sort, whatever the number of classes).
    grouped = torch.split(torch.argsort(targets, stable=True), counts)
    train, val = [], []
    for rows, k in zip(grouped, take):
        rows = rows[torch.randperm(len(rows), generator=generator)]
        val.append(rows[:k])
        train.append(rows[k:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values
