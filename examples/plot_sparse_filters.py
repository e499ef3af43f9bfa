"""
=============================================
Filters of a sparse, overcomplete autoencoder
=============================================

A code with more units than the input has pixels (here 100 units for the 64 pixels of the 8×8
digits) lets a plain autoencoder reconstruct its input without learning anything about digits:
each unit's filter is an arbitrary mix of pixels. Constraining the code to be sparse makes each
unit specialise. Here we use the k-sparse autoencoder of Makhzani & Frey (2014), which keeps
the ``k`` largest units of each sample and zeroes the rest, and show each unit's *filter*: the
image it adds to the reconstruction (its column of the decoder's weight matrix).

As Makhzani & Frey do, ``k`` is lowered in steps (50, 25, 12, then 8) with ``warm_start=True``:
starting straight at a small ``k`` leaves many units that never win a top-k slot, and those keep
their random initial weights ("dead" units).
"""

# %%
# Train a k-sparse and a plain autoencoder with 100 code units
# ------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder, SparseAutoencoder

X = MinMaxScaler().fit_transform(load_digits().data)
common = dict(
    n_components=100,
    hidden_layer_sizes=(),
    learning_rate_init=3e-3,
    random_state=0,
)

sparse = SparseAutoencoder(
    sparsity="topk", k=50, max_iter=15, warm_start=True, **common
)
for k in (50, 25, 12, 8):
    sparse.set_params(k=k).fit(X)
plain = Autoencoder(max_iter=60, **common).fit(X)

for name, model in [("k-sparse (k=8)", sparse), ("plain", plain)]:
    H = model.transform(X)
    mse = np.mean((model.inverse_transform(H) - X) ** 2)
    active = (H != 0).sum(axis=1).mean()
    print(
        f"{name:15s} reconstruction MSE {mse:.4f}, "
        f"non-zero code units per digit {active:.1f}"
    )

# %%
# The filters
# -----------
# Units are sorted by how often they are used (the fraction of digits in which they are among
# the top k is in each title). The k-sparse units draw strokes and digit parts; the plain
# overcomplete code's units are arbitrary pixel mixtures, because nothing forces a unit to mean
# anything on its own. The last rows of the sparse model are the units that are (nearly) never
# used: their filters are still their random initialisation.


def show_filters(model, title):
    # The decoder is linear (no hidden layer, identity output): decoding unit
    # k alone adds column k of its weight matrix to the decoded zero code.
    n = model.n_components
    W = model.inverse_transform(np.eye(n)) - model.inverse_transform(
        np.zeros((1, n))
    )  # (n_components, 64): one filter per row
    usage = (model.transform(X) != 0).mean(axis=0)
    fig, axes = plt.subplots(10, 10, figsize=(7, 7.6), layout="constrained")
    for unit, ax in zip(np.argsort(-usage), axes.ravel(), strict=True):
        w = W[unit]
        ax.imshow(
            w.reshape(8, 8),
            cmap="RdBu_r",
            vmin=-np.abs(w).max(),
            vmax=np.abs(w).max(),
        )
        ax.set_title(f"{usage[unit]:.2f}", fontsize=6, pad=1)
        ax.set_axis_off()
    fig.suptitle(title)
    return fig


show_filters(
    sparse, "SparseAutoencoder(sparsity='topk', k=8): decoder filters"
)
show_filters(plain, "Autoencoder, same 100-unit code: decoder filters")

# %%
# How sparse are the codes?
# -------------------------
# Every digit uses exactly ``k = 8`` of the 100 units, and the work is spread over many units.
H = sparse.transform(X)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
ax1.hist((H != 0).sum(axis=1), bins=np.arange(0, 11) - 0.5)
ax1.set(xlabel="non-zero code units per digit", ylabel="digits")
ax2.bar(np.arange(100), np.sort((H != 0).mean(axis=0))[::-1])
ax2.set(xlabel="code unit (sorted)", ylabel="fraction of digits using it")
fig.tight_layout()
plt.show()
