"""
=======================================================
Reconstructions: autoencoder versus PCA at the same K
=======================================================

PCA is the best *linear* map to K numbers and back under squared error, and a linear autoencoder
trained with squared error finds the same subspace (Baldi and Hornik, 1989). A nonlinear encoder and
decoder can do better with the same K. This example fits :class:`~skae.Autoencoder` and
:class:`~sklearn.decomposition.PCA` with the same number of components K on scikit-learn's digits,
both minimizing squared error, and compares their reconstructions of held-out images.
"""

# %%
# Data: pixels scaled to [0, 1], a train/test split.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)


def test_error(model):
    """Squared error summed over the 64 pixels, mean over test images."""
    X_rec = model.inverse_transform(model.transform(X_test))
    return float(((X_rec - X_test) ** 2).sum(axis=1).mean())


# %%
# One PCA and one autoencoder (64-128-K-128-64, ReLU, squared error) for each code size K.
sizes = [2, 4, 8, 16]
models = {}
for K in sizes:
    pca = PCA(n_components=K).fit(X_train)
    ae = Autoencoder(
        n_components=K,
        hidden_layer_sizes=(128,),
        batch_size=64,
        learning_rate_init=3e-3,
        max_iter=80,
        tol=1e-5,
        random_state=0,
    ).fit(X_train)
    models[K] = {"PCA": pca, "Autoencoder": ae}
    pca_error, ae_error = test_error(pca), test_error(ae)
    print(f"K={K:2d}  PCA {pca_error:6.2f}   Autoencoder {ae_error:6.2f}")

# %%
# Test error against K. The gap is widest for small codes, where PCA's linear subspace is most
# restrictive.
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, marker in [("PCA", "o"), ("Autoencoder", "s")]:
    ax.plot(
        sizes,
        [test_error(models[K][name]) for K in sizes],
        marker=marker,
        label=name,
    )
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(K) for K in sizes])
ax.set_xlabel("code size K")
ax.set_ylabel("test squared error per image")
ax.set_title("Reconstruction error on held-out digits")
ax.legend()
plt.show()

# %%
# Held-out digits and their reconstructions at K = 4: PCA's are blurred averages of several digits,
# the autoencoder's keep the strokes.
K = 4
shown = np.array([np.flatnonzero(y_test == d)[0] for d in range(10)])
rows = {
    "original": X_test[shown],
    f"PCA, K={K}": models[K]["PCA"].inverse_transform(
        models[K]["PCA"].transform(X_test[shown])
    ),
    f"Autoencoder, K={K}": models[K]["Autoencoder"].inverse_transform(
        models[K]["Autoencoder"].transform(X_test[shown])
    ),
}
fig, axes = plt.subplots(3, 10, figsize=(10, 3.4), layout="constrained")
for r, (label, images) in enumerate(rows.items()):
    for c in range(10):
        ax = axes[r, c]
        ax.imshow(
            np.clip(images[c], 0, 1).reshape(8, 8),
            cmap="gray_r",
            vmin=0,
            vmax=1,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
fig.suptitle("Test digits (top) and their reconstructions")
plt.show()
