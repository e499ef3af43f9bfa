"""
=========================================================
The learned manifold of a VAE, and new digits from it
=========================================================

A variational autoencoder is a generative model: ``z ~ N(0, I)`` decoded by ``p(x|z)``. With a
2-D latent space the whole model can be looked at in one picture, as in Kingma and Welling (2014,
fig. 4): take a regular grid of points in the unit square, map it through the inverse normal CDF so
that the grid covers the prior evenly in probability, and decode every point with
:meth:`~skae.VAE.inverse_transform` (the decoder mean ``E[x|z]``).

:meth:`~skae.VAE.sample` draws new digits: ``kind="mean"`` returns the decoder means of prior draws
(smooth images of pixel probabilities), ``kind="draw"`` a draw from ``p(x|z)`` itself (here
black-and-white pixels, as the likelihood is Bernoulli).
"""

# %%
# A 2-D VAE with a Bernoulli likelihood on the digits, pixels scaled to [0, 1].
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

from skae import VAE

X = MinMaxScaler().fit_transform(load_digits().data)
vae = VAE(
    n_components=2,
    likelihood="bernoulli",
    hidden_layer_sizes=(128, 64),
    batch_size=64,
    learning_rate_init=3e-3,
    max_iter=100,
    tol=1e-5,
    # The ELBO alone, as Kingma and Welling fit it (the defaults serve codes
    # as features: free bits and a noisy input).
    free_bits=0.0,
    noise_level=0.0,
    random_state=0,
).fit(X)
print(f"ELBO {vae.score(X):.2f} nats per image")


def tile(images, n_rows, n_cols, size=8, pad=1):
    """Tile ``n_rows * n_cols`` flat ``size x size`` images, zero-padded."""
    canvas = np.zeros(
        (n_rows * (size + pad) + pad, n_cols * (size + pad) + pad)
    )
    for k, img in enumerate(images):
        r, c = divmod(k, n_cols)
        top, left = pad + r * (size + pad), pad + c * (size + pad)
        canvas[top : top + size, left : left + size] = img.reshape(size, size)
    return canvas


# %%
# The decoded latent grid. Neighbouring images change smoothly, and the digit classes occupy regions
# of the plane, with in-between shapes on their borders.
n = 15
u = np.linspace(0.05, 0.95, n)
z1, z2 = np.meshgrid(norm.ppf(u), norm.ppf(u)[::-1])
grid = np.c_[z1.ravel(), z2.ravel()]
fig, ax = plt.subplots(figsize=(7, 7), layout="constrained")
ax.imshow(
    1 - tile(vae.inverse_transform(grid), n, n), cmap="gray", vmin=0, vmax=1
)
ax.set_title("Decoder means over the latent plane (inverse-CDF grid)")
ax.axis("off")
plt.show()

# %%
# New digits: decoder means of 40 prior draws, and one Bernoulli draw ``x ~ p(x|z)`` for each of the
# same ``z`` (same ``random_state``).
means = vae.sample(40, random_state=0)
draws = vae.sample(40, random_state=0, kind="draw")
fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
for ax, images, title in [
    (axes[0], means, 'sample(kind="mean")'),
    (axes[1], draws, 'sample(kind="draw")'),
]:
    ax.imshow(1 - tile(images, 5, 8), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
fig.suptitle("New digits from the VAE")
plt.show()
