"""
=====================================================================
Greedy layer-wise pretraining versus random initialisation
=====================================================================

Hinton and Salakhutdinov (2006) trained deep autoencoders of logistic (sigmoid) units by first
training each pair of neighbour layers on its own, bottom up, and then fine-tuning the whole network
by back-propagation: from a random start, such deep sigmoid networks learnt slowly or not at all.
``pretraining="autoencoder"`` does this with a shallow autoencoder per layer (Bengio et al., 2007).

This example fits the same deep sigmoid autoencoder on scikit-learn's digits twice, from a random
start and pretrained, with the same fine-tuning budget, and compares their held-out reconstruction
errors. A ReLU network, skae's default, is fitted the same two ways for comparison.
"""

# %%
# Data: pixels scaled to [0, 1], a train/test split.
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder

X = load_digits().data
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
scaler = MinMaxScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)


def test_error(model):
    """Squared error summed over the 64 pixels, mean over test images."""
    X_rec = model.inverse_transform(model.transform(X_test))
    return float(((X_rec - X_test) ** 2).sum(axis=1).mean())


# %%
# A 64-128-64-32-4 encoder and its mirrored decoder, binary cross-entropy, 30
# fine-tuning epochs.
# Pretraining adds 20 epochs per layer pair before them: each pair is a small
# network, so the four
# pairs together cost about as much as a few epochs of the whole network.
params = dict(n_components=4, hidden_layer_sizes=(128, 64, 32), loss="bce",
              max_iter=30, random_state=0)
models = {}
for activation in ("sigmoid", "relu"):
    for pretraining in (None, "autoencoder"):
        ae = Autoencoder(activation=activation, pretraining=pretraining,
                         pretraining_max_iter=20, **params).fit(X_train)
        models[activation, pretraining] = ae
        print(f"{activation:7s}  pretraining={pretraining!s:12s}  "
              f"test error {test_error(ae):.2f}")

# %%
# Each stage lowers its own reconstruction error
# (``pretraining_loss_curves_``: the pair's loss
# before training, then after each epoch). The first pair reconstructs the
# pixels (cross-entropy);
# the higher ones reconstruct the activations of the layer below (squared
# error).
ae = models["sigmoid", "autoencoder"]
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for i, curve in enumerate(ae.pretraining_loss_curves_):
    ax.plot(curve, marker=".", label=f"layer pair {i + 1}")
ax.set(xlabel="pretraining epoch", ylabel="the pair's reconstruction loss",
       yscale="log", title="Greedy layer-wise pretraining, sigmoid network")
ax.legend()

# %%
# Fine-tuning from the two starts, same budget. The deep sigmoid network
# barely leaves its random
# start in 30 epochs; pretrained, it starts far lower and stays ahead. The
# ReLU network trains well
# from a random start, and pretraining gives it no edge here: with ReLU units
# and Adam, random
# initialisation is the sensible default, and pretraining is for deep
# saturating networks.
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for (activation, pretraining), model in models.items():
    style = "-" if pretraining else "--"
    start = "pretrained" if pretraining else "random init"
    label = f"{activation}, {start} ({test_error(model):.2f})"
    ax.plot(model.loss_curve_, style, label=label)
ax.set(xlabel="fine-tuning epoch", ylabel="training loss (cross-entropy)",
       title="Fine-tuning (legend: held-out squared error per image)")
ax.legend()
plt.show()
