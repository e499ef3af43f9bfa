"""
=========================================================
Two-dimensional codes of digits: autoencoder versus PCA
=========================================================

Hinton and Salakhutdinov (2006, fig. 3) showed that a deep autoencoder squeezing images into two
numbers separates the digit classes far better than the first two principal components. This example
redoes their comparison on scikit-learn's 8×8 digits: :class:`~skae.Autoencoder` and
:class:`~sklearn.decomposition.PCA` each map every image to a point in the plane, both fitted on the
same training images; the plots show the held-out images, coloured by their (unused) label.

Two numbers measure what the pictures show: the test reconstruction error (squared error summed over
the 64 pixels, the measure of the paper) and the accuracy of a 5-nearest-neighbour classifier on the
2-D codes.
"""

# %%
# Data: pixels scaled to [0, 1], a stratified train/test split.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = (
    scaler.transform(X_train),
    np.clip(scaler.transform(X_test), 0, 1),
)

# %%
# Two maps to the plane. The autoencoder is 64-128-64-2-64-128-64 with ReLU hidden units and a
# logistic output trained with cross-entropy, like the paper's (much larger) network; PCA is its
# linear counterpart.
pca = PCA(n_components=2).fit(X_train)
ae = Autoencoder(
    n_components=2,
    hidden_layer_sizes=(128, 64),
    loss="bce",
    batch_size=64,
    learning_rate_init=3e-3,
    max_iter=100,
    tol=1e-5,
    random_state=0,
).fit(X_train)


def squared_error(model):
    """Squared reconstruction error summed over pixels, mean over images."""
    X_rec = model.inverse_transform(model.transform(X_test))
    return float(((X_rec - X_test) ** 2).sum(axis=1).mean())


def knn_accuracy(model):
    """Test accuracy of 5-nearest neighbours on the 2-D codes."""
    knn = KNeighborsClassifier(n_neighbors=5).fit(
        model.transform(X_train), y_train
    )
    return knn.score(model.transform(X_test), y_test)


for name, model in [("PCA", pca), ("Autoencoder", ae)]:
    print(
        f"{name:12s} test squared error {squared_error(model):6.2f}   "
        f"5-NN accuracy on the codes {knn_accuracy(model):.3f}"
    )

# %%
# The codes of the test images. PCA's plane mixes most classes in one cloud;
# the autoencoder spreads them into separate arms, the picture of the paper's
# figure 3.
fig, axes = plt.subplots(1, 2, figsize=(9, 5), layout="constrained")
cmap = plt.get_cmap("tab10")
maps = [("PCA", pca, "principal component"), ("Autoencoder", ae, "code")]
for ax, (name, model, axis_name) in zip(axes, maps, strict=True):
    Z = model.transform(X_test)
    for digit in range(10):
        pts = Z[y_test == digit]
        ax.scatter(
            pts[:, 0], pts[:, 1], s=8, color=cmap(digit), label=str(digit)
        )
    ax.set_title(
        f"{name}: error {squared_error(model):.2f}, "
        f"5-NN accuracy {knn_accuracy(model):.2f}"
    )
    ax.set_xlabel(f"{axis_name} 1")
    ax.set_ylabel(f"{axis_name} 2")
handles, labels = axes[0].get_legend_handles_labels()
fig.legend(
    handles,
    labels,
    title="digit",
    loc="outside lower center",
    ncols=10,
    markerscale=2,
)
fig.suptitle("2-D codes of held-out digits")
plt.show()
