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
X_train, X_test = (
    scaler.transform(X_train),
    np.clip(scaler.transform(X_test), 0, 1),
)

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
    "Autoencoder": Autoencoder(n_components=2, loss="bce", **common).fit(
        X_train
    ),
    "VAE": VAE(n_components=2, likelihood="bernoulli", **common).fit(X_train),
}
vae = models["VAE"]


def knn_accuracy(model):
    """Test accuracy of 5-nearest neighbours on the 2-D codes."""
    knn = KNeighborsClassifier(n_neighbors=5).fit(
        model.transform(X_train), y_train
    )
    return knn.score(model.transform(X_test), y_test)


# %%
# The codes of the test images. The VAE's posterior means lie within a few units
# of the origin, in a roughly round cloud (the dashed circles are 1 and 2
# standard deviations of the prior), with the classes in separate wedges; the
# autoencoder's codes stretch along arms of arbitrary scale.
fig, axes = plt.subplots(1, 3, figsize=(10, 4.2), layout="constrained")
cmap = plt.get_cmap("tab10")
axis_labels = {
    "PCA": ("principal component 1", "principal component 2"),
    "Autoencoder": ("code 1", "code 2"),
    "VAE": (r"posterior mean $\mu_1$", r"posterior mean $\mu_2$"),
}
for ax, (name, model) in zip(axes, models.items(), strict=True):
    Z = model.transform(X_test)
    for digit in range(10):
        pts = Z[y_test == digit]
        ax.scatter(
            pts[:, 0], pts[:, 1], s=6, color=cmap(digit), label=str(digit)
        )
    ax.set_title(f"{name}\n5-NN accuracy {knn_accuracy(model):.2f}")
    ax.set(xlabel=axis_labels[name][0], ylabel=axis_labels[name][1])
    if name == "VAE":
        for r in (1, 2):
            ax.add_patch(
                plt.Circle((0, 0), r, fill=False, ls="--", color="grey")
            )
        ax.set_aspect("equal")
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

# %%
# How good is the VAE as a model of the digits? :meth:`~skae.VAE.score_samples`
# is each held-out digit's evidence lower bound (ELBO) and
# :meth:`~skae.VAE.log_likelihood` the tighter importance-weighted estimate of
# Burda et al. (2016), from ``n_importance_samples=50`` posterior draws. Both are
# in nats per image; their gap is what approximating the true posterior by a
# Gaussian costs.
elbo = vae.score_samples(X_test)
log_px = vae.log_likelihood(X_test)
print(f"held-out ELBO:                      {elbo.mean():7.2f} nats per image")
print(
    f"importance-weighted log-likelihood: {log_px.mean():7.2f} nats per image"
)
print(
    f"gap:                                {(log_px - elbo).mean():7.2f} nats"
)
