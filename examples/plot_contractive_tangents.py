"""
===============================================
Tangent directions of a contractive autoencoder
===============================================

A :class:`~skae.ContractiveAutoencoder` penalises the squared Frobenius norm of its encoder's
Jacobian ``J(x) = ∂h/∂x``, so the code stays insensitive to most input directions and varies only
along the few that reconstruction needs: the directions of the data manifold near ``x`` (Rifai et
al., 2011). Those directions are the leading right singular vectors of ``J(x)``, obtained here
from :meth:`~skae.ContractiveAutoencoder.jacobian`, and shown as images as in Goodfellow et al.,
*Deep Learning*, figure 14.10.

The singular value spectrum shows the contraction: the contractive encoder's singular values are
smaller overall and fall off much faster than those of a plain autoencoder of the same
architecture (tied weights, the contractive default, for both), which is sensitive in many
directions.
"""

# %%
# Train a contractive and a plain autoencoder
# -------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder, ContractiveAutoencoder

X = MinMaxScaler().fit_transform(load_digits().data).astype(np.float32)
arch = dict(
    n_components=16,
    hidden_layer_sizes=(128,),
    activation="tanh",
    tied_weights=True,
    max_iter=30,
    learning_rate_init=1e-2,
    random_state=0,
)
cae = ContractiveAutoencoder(contraction_weight=0.01, **arch).fit(X)
plain = Autoencoder(**arch).fit(X)
for name, model in [("contractive", cae), ("plain", plain)]:
    J = model.jacobian(X)
    print(
        f"{name:11s} reconstruction MSE {-model.score(X):.4f}, "
        f"mean ||J||_F^2 {np.mean(np.sum(J**2, axis=(1, 2))):.3f}"
    )

# %%
# Singular value spectra of the Jacobian
# --------------------------------------
# Averaged over all digits: the contractive encoder's sensitivity falls off quickly after its
# leading directions.
fig, ax = plt.subplots(figsize=(5, 3.2))
for name, model in [("ContractiveAutoencoder", cae), ("Autoencoder", plain)]:
    s = np.linalg.svd(model.jacobian(X), compute_uv=False)
    ax.plot(np.arange(1, s.shape[1] + 1), s.mean(axis=0), marker="o", label=name)
ax.set(xlabel="singular value index", ylabel="mean singular value of J(x)", yscale="log")
ax.legend()
fig.tight_layout()

# %%
# Tangent directions at a few digits
# ----------------------------------
# For each digit (left), the 5 leading right singular vectors of ``J(x)``: the input directions
# that change the code the most, those the contractive encoder has kept. On 8×8 digits they are
# coarse, but their weight sits on and around the digit's strokes: local changes of that digit
# rather than arbitrary pixel noise. The singular value is in each title.
n_directions = 5
examples = [np.flatnonzero(load_digits().target == d)[0] for d in (0, 2, 4, 7)]
fig, axes = plt.subplots(len(examples), n_directions + 1, figsize=(7.5, 6))
J = cae.jacobian(X[examples])
for row, (i, J_i) in enumerate(zip(examples, J, strict=True)):
    _, s, vt = np.linalg.svd(J_i)
    axes[row, 0].imshow(X[i].reshape(8, 8), cmap="gray_r")
    axes[row, 0].set_title("digit", fontsize=8)
    for j in range(n_directions):
        v = vt[j]
        limit = np.abs(v).max()
        axes[row, j + 1].imshow(v.reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[row, j + 1].set_title(f"σ={s[j]:.2f}", fontsize=8)
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("ContractiveAutoencoder: leading tangent directions")
fig.tight_layout()
plt.show()
