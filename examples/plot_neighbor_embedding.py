"""
======================================================================
A map of the digits that keeps neighbours, maps new images and decodes
======================================================================

:class:`~skae.NeighborEmbeddingAutoencoder` trains an autoencoder whose 2-D code is also a t-SNE-like
embedding of the training images: images that are nearest neighbours in pixel space attract each
other on the map, other images repel, and the decoder learns to draw an image from any point of the
map. This example fits it on three quarters of scikit-learn's 8×8 digits and draws the held-out
quarter, beside the maps of :class:`~sklearn.decomposition.PCA` and of a plain
:class:`~skae.Autoencoder`. It then decodes images along a straight path across the map, from one
class to another.

Two numbers measure each map: the accuracy of a 1-nearest-neighbour classifier on the 2-D codes
(held-out images against the training images' codes) and the trustworthiness of the held-out codes
(:func:`sklearn.manifold.trustworthiness`, k=5: 1 when every image's nearest neighbours on the map
are among its nearest neighbours in pixel space).
"""

# %%
# Data: pixels scaled to [0, 1], a stratified train/test split.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from skae import Autoencoder, NeighborEmbeddingAutoencoder

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Three maps, the autoencoders trained for 80 epochs. The plain autoencoder is a
# 64-256-128-2-128-256-64 network, the one Sainburg et al. compare maps with; the neighbour embedding
# keeps its own, deeper default network (five hidden layers of 128 units: depth places images better
# on a map, see the User Guide) and adds t-SNE's loss (in a contrastive form) on the
# 15-nearest-neighbour graph of the training images, searched among their first 50 principal
# components (``embedding_weight`` is the loss's weight against the reconstruction). On pixels,
# centring without scaling (``conditioning="center"``) suits both; a decaying step size settles
# the map.
common = dict(
    conditioning="center",
    learning_rate="linear_decay",
    learning_rate_init=3e-3,
    max_iter=80,
    n_iter_no_change=80,
    random_state=0,
)
maps = {
    "PCA": PCA(n_components=2).fit(X_train),
    "Autoencoder": Autoencoder(
        n_components=2, hidden_layer_sizes=(256, 128), **common
    ).fit(X_train),
    "NeighborEmbeddingAutoencoder": NeighborEmbeddingAutoencoder(**common).fit(
        X_train
    ),
}

for name, model in maps.items():
    Z_train, Z_test = model.transform(X_train), model.transform(X_test)
    knn = KNeighborsClassifier(1).fit(Z_train, y_train)
    accuracy = knn.score(Z_test, y_test)
    trust = trustworthiness(X_test, Z_test, n_neighbors=5)
    mse = float(np.mean((model.inverse_transform(Z_test) - X_test) ** 2))
    print(
        f"{name:29s} 1-NN {accuracy:.3f}   trustworthiness {trust:.3f}   "
        f"reconstruction MSE {mse:.4f}"
    )

# %%
# The held-out images on each map, coloured by their (unused) label. PCA mixes most classes; the
# plain autoencoder spreads them along arms that touch; the neighbour embedding gathers them into
# islands (a better 1-NN accuracy), keeps more of each image's pixel-space neighbours beside it
# (trustworthiness) and reconstructs a little better than the plain autoencoder. UMAP and t-SNE
# still draw crisper maps of a fixed data set; the figures are in the
# :ref:`User Guide <neighbor_embedding>`.
fig, axes = plt.subplots(1, 3, figsize=(10, 3.8), layout="constrained")
for ax, (name, model) in zip(axes, maps.items()):
    Z = model.transform(X_test)
    points = ax.scatter(Z[:, 0], Z[:, 1], c=y_test, cmap="tab10", s=8)
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
plt.show()

# %%
# Decoding a path across the map: a straight line from the centre of the 0s to the centre of the
# 6s on the neighbour embedding's map, decoded at ten points. A map that only places points
# (t-SNE) cannot do this; here every point of the plane decodes to an image.
mapper = maps["NeighborEmbeddingAutoencoder"]
Z_train = mapper.transform(X_train)
start, end = (np.median(Z_train[y_train == d], axis=0) for d in (0, 6))
path = np.linspace(start, end, 10).astype(np.float32)
images = mapper.inverse_transform(path)

fig = plt.figure(figsize=(9, 5), layout="constrained")
top, bottom = fig.subfigures(2, 1, height_ratios=[3, 1])
ax = top.subplots()
ax.scatter(
    Z_train[:, 0], Z_train[:, 1], c=y_train, cmap="tab10", s=4, alpha=0.5
)
ax.plot(path[:, 0], path[:, 1], "k.-")
for digit in range(10):
    cx, cy = np.median(Z_train[y_train == digit], axis=0)
    ax.annotate(str(digit), (cx, cy), fontsize=14, weight="bold")
ax.set_title("Training images on the map, and a path from 0 to 6")
ax.set_xticks([])
ax.set_yticks([])
for axis, image in zip(bottom.subplots(1, 10), images):
    axis.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axis.axis("off")
plt.show()
