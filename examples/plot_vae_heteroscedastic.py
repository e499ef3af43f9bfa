"""
=====================================================
A VAE whose noise level depends on the code
=====================================================

A Gaussian :class:`~skae.VAE` decodes each code ``z`` to a mean and a
variance per feature. By default the variance is one learned number per
feature, the same everywhere (``likelihood_variance="feature"``). Where the
data are noisier in some places than in others, that one number must cover
the noisiest place, and the model spreads noise where there is none. With
``likelihood_variance="code"`` the decoder gives the variance too, as a
function of the code.

The data here lie along a curve in the plane, with noise that grows tenfold
from one end to the other. Both models learn the curve; only the second
learns how the noise changes along it, and its held-out log-likelihood says
so.
"""

# %%
# Points along a wave, ``t`` uniform on [-1, 1], with a noise level that grows
# from 0.02 to 0.2 along it.
import matplotlib.pyplot as plt
import numpy as np

from skae import VAE


def curve(n, seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, size=(n, 1))
    noise = 0.02 + 0.18 * (t + 1) / 2
    X = np.c_[t, 0.5 * np.sin(3 * t)] + noise * rng.normal(size=(n, 2))
    return X.astype(np.float32)


X_train, X_test = curve(2000, 0), curve(1000, 1)

# %%
# Two VAEs with a one-dimensional code, the same but for the decoder's
# variance, each trained for 150 epochs (``n_iter_no_change=150``: no early
# stop on a plateau).
# :meth:`~skae.VAE.log_likelihood` estimates each test point's log-density; the
# exact value for this curve, by numerical integration over ``t``, is -0.11.
models = {}
for variance in ("feature", "code"):
    vae = VAE(
        n_components=1,
        likelihood_variance=variance,
        hidden_layer_sizes=(32,),
        activation="tanh",
        learning_rate_init=1e-2,
        max_iter=150,
        n_iter_no_change=150,
        batch_size=200,
        # The ELBO alone: its likelihoods are what this example compares.
        free_bits=0.0,
        noise_level=0.0,
        random_state=0,
    ).fit(X_train)
    models[variance] = vae
    ll = vae.log_likelihood(X_test).mean()
    print(f"{variance!r}: {ll:.3f} nats per point, {vae.n_iter_} epochs")

# %%
# New points from each model (:meth:`~skae.VAE.sample` with ``kind="draw"``: a
# code from the prior, decoded, plus the decoder's noise) beside the test data.
# One variance per feature gives a band of even width; the code-dependent
# variance reproduces the narrow end and the wide one.
fig, axes = plt.subplots(
    1, 3, figsize=(10, 3.6), sharex=True, sharey=True, layout="constrained"
)
panels = {"test data": X_test}
for variance, vae in models.items():
    ll = vae.log_likelihood(X_test).mean()
    name = f'"{variance}": draws\nheld-out {ll:.2f} nats/point'
    panels[name] = vae.sample(1000, random_state=0, kind="draw")
for ax, (title, points) in zip(axes, panels.items()):
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5)
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
plt.show()
