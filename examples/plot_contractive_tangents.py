"""
===============================================
Tangent directions of a contractive autoencoder
===============================================

A :class:`~skae.ContractiveAutoencoder` penalises the squared Frobenius norm of its encoder's
Jacobian ``J(x) = ∂h/∂x``, so the code stays insensitive to most input directions and varies only
along the few that reconstruction needs: the directions of the data manifold near ``x`` (Rifai et
al., 2011). Those directions are the leading right singular vectors of ``J(x)``, which
:meth:`~skae.ContractiveAutoencoder.tangent_space` returns with their singular values.

Here they are set beside the classical estimate of the same tangent plane, local PCA (the
principal axes of the nearest neighbours of ``x``), as in Goodfellow et al., *Deep Learning*,
figure 14.10, and beside the directions of a plain autoencoder of the same architecture (tied
weights, the contractive default, for both), which is sensitive in many directions.
"""

# %%
# Train a contractive and a plain autoencoder
# -------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from scipy.linalg import subspace_angles
from sklearn.datasets import load_digits
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder, ContractiveAutoencoder

digits = load_digits()
X = MinMaxScaler().fit_transform(digits.data).astype(np.float32)
arch = dict(
    n_components=16,
    hidden_layer_sizes=(128,),
    activation="tanh",
    tied_weights=True,
    max_iter=30,
    learning_rate_init=1e-2,
    random_state=0,
)
cae = ContractiveAutoencoder(contraction_weight=0.1, **arch).fit(X)
# scale_codes=False: the plain code in its network's own units, as the
# contractive one's, so that the two Jacobians' norms compare.
plain = Autoencoder(scale_codes=False, **arch).fit(X)
models = {"ContractiveAutoencoder": cae, "Autoencoder": plain}
for name, model in models.items():
    _, sigma = model.tangent_space(X)
    print(
        f"{name:22s} reconstruction MSE {-model.score(X):.4f}, "
        f"mean ||J||_F^2 {np.mean(np.sum(sigma**2, axis=1)):.2f}"
    )

# %%
# Singular value spectra of the Jacobian
# --------------------------------------
# Averaged over all digits: the contractive encoder's sensitivity falls off
# quickly after its leading directions; the plain one's hardly falls at all.
fig, ax = plt.subplots(figsize=(5, 3.2))
for name, model in models.items():
    _, sigma = model.tangent_space(X)
    k = np.arange(1, sigma.shape[1] + 1)
    ax.plot(k, sigma.mean(axis=0), marker="o", label=name)
ax.set(
    xlabel="singular value index k",
    ylabel=r"mean singular value $\sigma_k$",
    yscale="log",
)
ax.legend()
fig.tight_layout()

# %%
# Agreement with local PCA
# ------------------------
# Local PCA estimates the tangent plane at ``x`` from the principal axes of
# its 40 nearest neighbours. For 300 digits, the mean principal angle between
# that 5-dimensional plane and the span of each encoder's 5 leading
# directions, against that of a random 5-dimensional plane (about 76° in 64
# dimensions): the contractive encoder's directions are the closer to it.
n_directions, n_neighbors, n_points = 5, 40, 300
neighbors = NearestNeighbors(n_neighbors=n_neighbors).fit(X)
_, index = neighbors.kneighbors(X[:n_points])


def local_pca(i):
    """The leading principal axes of the neighbours of X[i]."""
    Y = X[index[i]] - X[index[i]].mean(axis=0)
    return np.linalg.svd(Y, full_matrices=False)[2][:n_directions]


def mean_angle(A, B):
    """Mean principal angle, in degrees, between the spans of rows of A, B."""
    return np.degrees(subspace_angles(A.T, B.T)).mean()


rng = np.random.RandomState(0)
planes = {
    name: model.tangent_space(X[:n_points], n_directions)[0]
    for name, model in models.items()
}
planes["random plane"] = rng.randn(n_points, n_directions, X.shape[1])
for name, directions in planes.items():
    angles = [mean_angle(directions[i], local_pca(i)) for i in range(n_points)]
    print(f"{name:22s} mean angle to local PCA {np.mean(angles):.1f}°")

# %%
# Tangent directions at a few digits
# ----------------------------------
# For each digit (left), the 5 leading local PCA axes (top row) and the 5
# leading tangent directions of the contractive encoder (bottom row), with
# their singular values. The directions are in pixel units (see
# :meth:`~skae.ContractiveAutoencoder.tangent_space`). On 8×8 digits they are
# coarse, but both put their weight on and around the digit's strokes: local
# changes of that digit, rather than arbitrary pixel noise.
examples = [np.flatnonzero(digits.target == d)[0] for d in (0, 4, 7)]
fig, axes = plt.subplots(
    2 * len(examples), n_directions + 1, figsize=(7, 2.4 * len(examples))
)
directions, sigma = cae.tangent_space(X[examples], n_directions)
for row, i in enumerate(examples):  # all among the first n_points digits
    for r, (label, vectors) in enumerate(
        [("local PCA", local_pca(i)), ("contractive", directions[row])]
    ):
        ax_row = axes[2 * row + r]
        ax_row[0].imshow(X[i].reshape(8, 8), cmap="gray_r")
        ax_row[0].set_title(label, fontsize=9)
        for j, v in enumerate(vectors):
            limit = np.abs(v).max()
            ax_row[j + 1].imshow(
                v.reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit
            )
            if r == 1:
                ax_row[j + 1].set_title(f"σ={sigma[row, j]:.2f}", fontsize=9)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("Tangent directions: local PCA and ContractiveAutoencoder")
fig.tight_layout()
plt.show()
