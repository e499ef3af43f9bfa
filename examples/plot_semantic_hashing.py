"""
=====================================================
Semantic hashing: similar-digit search with 16 bits
=====================================================

Semantic hashing (Salakhutdinov & Hinton, 2009) encodes each item as a short string of bits, learned
so that similar items get codes that differ in few bits. Finding similar items is then a search by
Hamming distance (the number of differing bits), which compares a few machine words per item
whatever the size of the original data.

Here each 8×8 digit becomes a 16-bit code: 2 bytes instead of 64 pixels. We search a database of
digits for the nearest codes to a few query digits, with codes learned by
:class:`skae.HashingAutoencoder` and, for comparison, with the simplest linear codes: the signs of the
top 16 principal components (PCA). The search itself is :class:`skae.HammingIndex`.
"""

# %%
# Learn 16-bit codes
# ------------------
# The database is 1,400 digits; the remaining 397 are queries, unseen during training.
# ``noise_level=1.0`` rather than the default 1.5: with this small database, less training noise
# keeps finer distinctions between the digits (see the user guide on tuning it).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from skae import HammingIndex, HashingAutoencoder

digits = load_digits()
X, y = (digits.data / 16.0).astype(np.float32), digits.target
X_db, y_db, X_q, y_q = X[:1400], y[:1400], X[1400:], y[1400:]
n_bits = 16

hasher = HashingAutoencoder(
    n_components=n_bits,
    hidden_layer_sizes=(256, 128),
    noise_level=1.0,
    max_iter=150,
    random_state=0,
).fit(X_db)
codes = {"HashingAutoencoder": (hasher.transform(X_db), hasher.transform(X_q))}

pca = PCA(n_components=n_bits).fit(X_db)
codes["PCA signs"] = (pca.transform(X_db) > 0, pca.transform(X_q) > 0)

first = hasher.transform(X_q[:1])
print("bits of the first query:", first.astype(int).ravel())
print("the same, packed:       ", hasher.transform_packed(X_q[:1]).ravel())

# %%
# How often does a neighbour show the query's digit?
# --------------------------------------------------
# For every query, the 10 database digits with the nearest codes (ties broken by database order),
# and the fraction of them showing the same digit. Codes learned to reconstruct the digits through
# noisy bits put digits of a kind at small Hamming distances far more often than PCA's signs do.
neighbours = {}
for name, (db, q) in codes.items():
    index = HammingIndex(n_neighbors=10).fit(db)
    dist, ind = neighbours[name] = index.kneighbors(q)
    precision = (y_db[ind] == y_q[:, None]).mean()
    print(
        f"{name:18s}: precision of the 10 nearest {precision:.3f}, "
        f"mean distance to the 10th {dist[:, -1].mean():.1f} bits"
    )

# %%
# Query digits and their nearest database digits
# ----------------------------------------------
# Each row: a query (framed in black), then its 8 nearest database digits by Hamming distance (the
# distance in bits above each), with the learned codes on the left and the PCA signs on the right.
# Neighbours showing another digit than the query are framed in red. The queries are the first
# query image of six different digits.

queries = [int(np.flatnonzero(y_q == d)[0]) for d in (0, 2, 3, 5, 8, 9)]
n_show = 8
fig, axes = plt.subplots(
    len(queries), 2 * (n_show + 1), figsize=(10, 0.8 * len(queries) + 0.6)
)


def show(ax, image, title, color=None):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(title, fontsize=6, pad=2)
    ax.set_xticks([])
    ax.set_yticks([])
    if color:
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(2)


for row, qi in enumerate(queries):
    for block, name in enumerate(codes):
        dist, ind = neighbours[name]
        left = block * (n_show + 1)
        show(axes[row, left], X_q[qi], "query", color="black")
        for j in range(n_show):
            other = y_db[ind[qi, j]] != y_q[qi]
            title = f"{dist[qi, j]} bits"
            show(axes[row, left + 1 + j], X_db[ind[qi, j]], title,
                 "red" if other else None)
for block, name in enumerate(codes):
    axes[0, block * (n_show + 1) + n_show // 2].annotate(
        name, (0.5, 1.6), xycoords="axes fraction", ha="center", fontsize=10
    )
fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.85,
                    wspace=0.1, hspace=0.5)

# %%
# Retrieval within a Hamming radius
# ---------------------------------
# Semantic hashing can also return every database item within a Hamming radius r of the query (with
# short codes, by looking up the codes that differ in at most r bits). Growing r from 0 to 8 bits
# traces a precision-recall curve: the fraction of retrieved digits that show the query's digit
# against the fraction of all such digits retrieved. At any recall, the learned codes are the more
# precise.
fig, ax = plt.subplots(figsize=(5, 3.6))
radii = np.arange(0, 9)
same = y_q[:, None] == y_db[None, :]
for name, (db, q) in codes.items():
    db, q = np.asarray(db, bool), np.asarray(q, bool)
    D = (q[:, None, :] != db[None, :, :]).sum(axis=2)
    retrieved = np.array([(D <= r).sum() for r in radii])
    hits = np.array([(same & (D <= r)).sum() for r in radii])
    recall, precision = hits / same.sum(), hits / retrieved
    (line,) = ax.plot(recall, precision, marker="o", label=name)
    for r in (0, 2, 4, 8):
        ax.annotate(f"r={r}", (recall[r], precision[r]), fontsize=7,
                    color=line.get_color(), xytext=(4, 4),
                    textcoords="offset points")
ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
ax.legend()
fig.tight_layout()
plt.show()
