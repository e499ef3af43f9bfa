"""
=============================================
Denoising digits with a denoising autoencoder
=============================================

A :class:`~skae.DenoisingAutoencoder` is trained to reconstruct each digit from a corrupted copy
(a fresh corruption of every mini-batch), so it learns to map noisy digits back to clean ones
(Vincent et al., 2008). A plain :class:`~skae.Autoencoder` of the same architecture, trained for
the same number of epochs on clean digits, has a code large enough to pass much of the noise
through.

Both are shown held-out digits corrupted with the training noise: masking noise that sets 40 %
of the pixels to zero, and additive Gaussian noise.
"""

# %%
# Train on clean digits, test on corrupted held-out ones
# ------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder, DenoisingAutoencoder

X = MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
arch = dict(
    n_components=32,
    hidden_layer_sizes=(64,),
    max_iter=30,
    learning_rate_init=1e-2,
    random_state=0,
)
plain = Autoencoder(**arch).fit(X_train)

rng = np.random.default_rng(0)
corruptions = {
    "masking": (
        DenoisingAutoencoder(noise="masking", noise_level=0.4, **arch),
        lambda X: X * (rng.random(X.shape) >= 0.4),
    ),
    "gaussian": (
        DenoisingAutoencoder(noise="gaussian", noise_level=0.3, **arch),
        lambda X: X + 0.3 * rng.standard_normal(X.shape).astype(np.float32),
    ),
}


def restore(model, X_noisy):
    return model.inverse_transform(model.transform(X_noisy))


# %%
# noisy | DAE | AE | clean
# ------------------------
# Each block of rows shows, top to bottom: the corrupted input, the denoising autoencoder's
# reconstruction, the plain autoencoder's reconstruction and the clean digit. The mean squared
# error against the clean digits is in the row titles.
for noise, (dae, corrupt) in corruptions.items():
    dae.fit(X_train)
    X_noisy = corrupt(X_test).astype(np.float32)
    rows = {
        "noisy": X_noisy,
        "DAE": restore(dae, X_noisy),
        "AE": restore(plain, X_noisy),
        "clean": X_test,
    }
    fig, axes = plt.subplots(4, 10, figsize=(8, 3.6))
    for row_axes, (name, images) in zip(axes, rows.items(), strict=True):
        mse = np.mean((images - X_test) ** 2)
        print(f"{noise:8s} {name:5s} MSE to clean digits: {mse:.4f}")
        for ax, image in zip(row_axes, images[:10], strict=True):
            ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_axis_off()
        row_axes[0].set_title(
            f"{name} (MSE {mse:.3f})", loc="left", fontsize=8
        )
    fig.suptitle(f"{noise} noise")
    fig.tight_layout()
plt.show()
