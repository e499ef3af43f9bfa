"""
=====================================================
Semantic hashing: similar-digit search with 16 bits
=====================================================

Semantic hashing (Salakhutdinov & Hinton, 2009) encodes each item as a short string of bits, learned
so that similar items get codes that differ in few bits. Finding similar items is then a search by
Hamming distance (the number of differing bits), which compares a few machine words per item
whatever the size of the original data.

Here each 8×8 digit becomes a 16-bit code: 2 bytes instead of 64 pixels. We search a database of
digits for the nearest codes to a few query digits, with codes learned by :class:`skae.HashingAutoencoder`
and, for comparison, with the simplest linear codes: the signs of the top 16 principal components
(PCA). The search itself is :class:`skae.HammingIndex`.
"""

# %%
# Learn 16-bit codes
# ------------------
# The database is 1,400 digits; the remaining 397 are queries, unseen during training.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from skae import HammingIndex, HashingAutoencoder

digits = load_digits()
X, y = (digits.data / 16.0).astype(np.float32), digits.target
X_db, y_db, X_q, y_q = X[:1400], y[:1400], X[1400:], y[1400:]
n_bits = 16

hasher = HashingAutoencoder(n_components=n_bits, hidden_layer_sizes=(128,), max_iter=150, random_state=0)
hasher.fit(X_db)
codes = {"HashingAutoencoder": (hasher.transform(X_db), hasher.transform(X_q))}

pca = PCA(n_components=n_bits).fit(X_db)
codes["PCA signs"] = (pca.transform(X_db) > 0, pca.transform(X_q) > 0)

print("bits of the first query digit:", hasher.transform(X_q[:1]).astype(int).ravel())
print("the same, packed into bytes:  ", hasher.transform_packed(X_q[:1]).ravel())

# %%
# How often does a neighbour share the query's label?
# ---------------------------------------------------
# For every query, the 10 database digits with the nearest codes (ties broken by database order),
# and the fraction of them showing the same digit. Codes learned to reconstruct the digits through
# noisy bits put digits of a kind at small Hamming distances far more often than PCA's signs do.
neighbours = {}
for name, (db, q) in codes.items():
    dist, ind = HammingIndex(n_neighbors=10).fit(db).kneighbors(q)
    neighbours[name] = (dist, ind)
    precision = (y_db[ind] == y_q[:, None]).mean()
    print(f"{name:18s}: precision of the 10 nearest codes {precision:.3f}, "
          f"mean distance to the 10th {dist[:, -1].mean():.1f} bits")

# %%
# Query digits and their nearest database digits
# ----------------------------------------------
# Each row: a query (left, framed), then its 8 nearest database digits by Hamming distance (the
# distance in bits above each), with the learned codes on the left half and the PCA signs on the
# right. Neighbours showing another digit than the query are framed in red.

queries = [0, 3, 5, 9, 20, 42]
n_show = 8
fig, axes = plt.subplots(len(queries), 2 * (n_show + 1), figsize=(13, 1.0 * len(queries) + 0.6))


def show(ax, image, title, color=None):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(title, fontsize=7, pad=2)
    ax.set_xticks([])
    ax.set_yticks([])
    if color:
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(2)


for row, qi in enumerate(queries):
    for block, name in enumerate(codes):
        dist, ind = neighbours[name]
        offset = block * (n_show + 1)
        show(axes[row, offset], X_q[qi], "query", color="black")
        for j in range(n_show):
            match = y_db[ind[qi, j]] == y_q[qi]
            show(axes[row, offset + 1 + j], X_db[ind[qi, j]], f"{dist[qi, j]} bits", None if match else "red")
for block, name in enumerate(codes):
    axes[0, block * (n_show + 1) + n_show // 2].annotate(
        name, (0.5, 1.6), xycoords="axes fraction", ha="center", fontsize=11
    )
fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.85, wspace=0.1, hspace=0.5)

# %%
# Precision as the search radius grows
# ------------------------------------
# Semantic hashing can also return everything within a Hamming radius of the query (with short codes,
# by looking up the codes that differ in at most r bits). The curves show, over all queries, the
# fraction of retrieved digits that share the query's label, and how many digits are retrieved on
# average, as the radius grows.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
radii = np.arange(0, 7)
for name, (db, q) in codes.items():
    D = (np.asarray(q, bool)[:, None, :] != np.asarray(db, bool)[None, :, :]).sum(axis=2)
    same = y_q[:, None] == y_db[None, :]
    retrieved = [(D <= r).sum() for r in radii]
    precision = [(same & (D <= r)).sum() / max(n, 1) for r, n in zip(radii, retrieved)]
    ax1.plot(radii, precision, marker="o", label=name)
    ax2.plot(radii, np.array(retrieved) / len(y_q), marker="o", label=name)
ax1.set(xlabel="Hamming radius (bits)", ylabel="precision", ylim=(0, 1.02))
ax2.set(xlabel="Hamming radius (bits)", ylabel="digits retrieved per query", yscale="log")
ax1.legend()
fig.tight_layout()
plt.show()
