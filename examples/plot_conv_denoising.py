"""
===================================================
A convolutional denoising autoencoder on the digits
===================================================

Any autoencoder but the contractive and variational ones takes a network of
its own through ``module=`` (see :ref:`custom_modules`). Here a
:class:`~skae.DenoisingAutoencoder` with
:class:`skae.modules.ConvAutoencoderModule`, a convolutional network that reads
each row of 64 pixels as an 8 x 8 image, is compared with the same estimator
and its default fully connected network: the same code size, noise, optimiser
and number of epochs.

Both learn to fill in digits of which half the pixels were set to zero
(masking noise). The convolution looks at small neighbourhoods and shares its
weights across the image. On these 8 x 8 digits, with about as many
parameters, it restores the masked digits with a somewhat smaller error than
the fully connected network; on 28 x 28 MNIST the gap is larger: 0.6 times
the fully connected network's error after the same 5 epochs, with a twelfth
of its parameters (``benchmarks/RESULTS.md``, ``bench_conv.py``).
"""

# %%
# Two denoising autoencoders, one convolutional
# ---------------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import DenoisingAutoencoder
from skae.modules import ConvAutoencoderModule

X = MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)

common = dict(
    n_components=16,
    noise="masking",
    noise_level=0.5,
    batch_size=64,
    learning_rate_init=3e-3,
    max_iter=60,
    random_state=0,
)
models = {
    "fully connected": DenoisingAutoencoder(
        hidden_layer_sizes=(128,), **common
    ),
    "convolutional": DenoisingAutoencoder(
        module=ConvAutoencoderModule,
        module_params={"image_shape": (8, 8), "channels": (32,)},
        **common,
    ),
}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    n_params = sum(p.numel() for p in model.module_.parameters())
    print(
        f"{name:15s} {n_params:6d} parameters, "
        f"{seconds / model.n_iter_ * 1000:.0f} ms per epoch"
    )

# %%
# Clean digits from masked ones
# -----------------------------
# The held-out digits are masked once, with the training noise. Each
# reconstruction is compared with the clean digit: the squared error summed
# over the 64 pixels, averaged over the test digits, is in the row titles.
rng = np.random.default_rng(0)
X_noisy = (X_test * (rng.random(X_test.shape) >= 0.5)).astype(np.float32)


def error(images):
    return ((images - X_test) ** 2).sum(axis=1).mean()


rows = {"masked": X_noisy}
for name, model in models.items():
    rows[name] = model.inverse_transform(model.transform(X_noisy))
rows["clean"] = X_test

fig, axes = plt.subplots(
    4, 10, figsize=(8, 4.2), gridspec_kw=dict(hspace=0.3, wspace=0.05)
)
for row_axes, (name, images) in zip(axes, rows.items(), strict=True):
    title = name if name == "clean" else f"{name} (error {error(images):.2f})"
    print(title)
    for ax, image in zip(row_axes, images[:10], strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
    row_axes[0].set_title(title, loc="left", fontsize=9)
fig.subplots_adjust(left=0.02, right=0.98, top=0.94, bottom=0.02)
plt.show()
