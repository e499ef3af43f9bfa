"""
=====================================================================
Two-dimensional latent space of a VAE, beside PCA and an autoencoder
=====================================================================

A variational autoencoder (:class:`~skae.VAE`) maps each image to a posterior distribution
``q(z|x) = N(mu(x), diag(sigma²(x)))`` over a latent space whose prior is the standard normal.
Its ``transform`` returns the posterior mean ``mu(x)``. Compared with a plain
:class:`~skae.Autoencoder`, whose codes can sit anywhere, the KL term of the ELBO pulls the VAE's
codes towards ``N(0, I)``: they fill a round, centred region of the plane, which is what makes
decoding fresh draws from the prior meaningful (see
:ref:`sphx_glr_auto_examples_plot_vae_manifold.py`).

All three models are fitted on the same training images; the plots show held-out images coloured by
their (unused) label, with the 5-nearest-neighbour accuracy on the 2-D codes in the titles.
"""

# %%
# Data: pixels scaled to [0, 1] (the Bernoulli likelihood needs it), a stratified split.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MinMaxScaler

from skae import VAE, Autoencoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), np.clip(scaler.transform(X_test), 0, 1)

# %%
# Three maps to the plane, the two networks with the same 64-128-64-2 encoder and mirrored decoder.
# The VAE reads its decoder's output as Bernoulli logits, like the autoencoder's cross-entropy loss.
common = dict(
    hidden_layer_sizes=(128, 64),
    batch_size=64,
    learning_rate_init=3e-3,
    max_iter=100,
    tol=1e-5,
    random_state=0,
)
models = {
    "PCA": PCA(n_components=2).fit(X_train),
    "Autoencoder": Autoencoder(n_components=2, loss="bce", **common).fit(X_train),
    "VAE": VAE(n_components=2, likelihood="bernoulli", **common).fit(X_train),
}
vae = models["VAE"]
print(
    f"VAE test ELBO {vae.score(X_test):.2f} nats per image, "
    f"importance-weighted log-likelihood {vae.log_likelihood(X_test).mean():.2f} nats"
)


def knn_accuracy(model):
    """Test accuracy of 5-nearest neighbours on the 2-D codes."""
    knn = KNeighborsClassifier(n_neighbors=5).fit(model.transform(X_train), y_train)
    return knn.score(model.transform(X_test), y_test)


# %%
# The codes of the test images. The VAE's posterior means lie within a few units of the origin, in a
# roughly round cloud (the dashed circles are 1 and 2 standard deviations of the prior), with the
# classes in separate wedges; the autoencoder's codes stretch along arms of arbitrary scale.
fig, axes = plt.subplots(1, 3, figsize=(15, 5), layout="constrained")
cmap = plt.get_cmap("tab10")
for ax, (name, model) in zip(axes, models.items(), strict=True):
    Z = model.transform(X_test)
    for digit in range(10):
        pts = Z[y_test == digit]
        ax.scatter(pts[:, 0], pts[:, 1], s=8, color=cmap(digit), label=str(digit), alpha=0.8)
    ax.set_title(f"{name}: 5-NN accuracy {knn_accuracy(model):.2f}")
    if name == "VAE":
        for r in (1, 2):
            ax.add_patch(plt.Circle((0, 0), r, fill=False, ls="--", color="grey"))
        ax.set_aspect("equal")
axes[2].legend(title="digit", markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
fig.suptitle("2-D codes of held-out digits")
plt.show()

# %%
# The posterior is a distribution, not a point: its standard deviations say how sure the encoder is.
# Here, the average posterior standard deviation per latent dimension, and the KL divergence to the
# prior (nats per image) that the ELBO pays for that information.
import torch  # noqa: E402

from skae._vae import kl_standard_normal  # noqa: E402

with torch.no_grad():
    mu, logvar = vae.module_.posterior(torch.as_tensor(X_test, dtype=torch.float32))
print("mean posterior std per dimension:", np.round(torch.exp(0.5 * logvar).mean(0).numpy(), 3))
print(f"mean KL(q(z|x) || N(0, I)): {kl_standard_normal(mu, logvar).mean():.2f} nats")
