"""
===================================================
Semi-supervised digits: how many labels do we need?
===================================================

Labels are expensive, unlabeled images are cheap. This example keeps 10, 50, 100, 500 or all labels
of the digits training set and marks the rest ``-1`` (unlabeled, as in
:mod:`sklearn.semi_supervised`). It compares

- logistic regression on the raw pixels of the labeled rows;
- PCA, BernoulliRBM and each skae autoencoder fitted on *all* training rows (labeled and
  unlabeled), frozen with :class:`~sklearn.frozen.FrozenEstimator`, then logistic regression on the
  codes of the labeled rows: the sequential pattern, built from plain scikit-learn tools;
- :class:`~skae.AutoencoderClassifier`, which trains one network on the cross-entropy of the labeled
  rows plus the reconstruction loss of all rows (joint training).

Epochs are kept small so that the example runs in well under a minute on two cores.
"""

# %%
# Data: a fixed test set, and training sets with few labels
# ---------------------------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import skae
from skae import Autoencoder, AutoencoderClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X = MinMaxScaler().fit_transform(X).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=500, random_state=0, stratify=y)
rng = np.random.RandomState(0)
order = rng.permutation(len(y_train))
N_LABELS = [10, 50, 100, 500, len(y_train)]


def labeled_rows(n):
    """The first n rows of a fixed random order, with every class present."""
    rows = order[:n]
    if len(np.unique(y_train[rows])) < 10:  # 10 labels: one per class
        rows = np.array([order[y_train[order] == c][0] for c in range(10)])
    return rows


# %%
# The feature extractors, fitted once on all training rows (labels unused)
# -------------------------------------------------------------------------
# Every skae autoencoder present in the package, with the same small architecture. The contractive
# penalty sums over all 32 × 64 Jacobian entries while the reconstruction error is a mean over 64
# pixels, so its default weight (0.1) flattens the code here (a quick check with 100 labels: 0.1 →
# chance, 0.01 → 0.65, 1e-3 → 0.89 accuracy).
EXTRA = {"ContractiveAutoencoder": {"contraction_weight": 1e-3}}


def small(cls):
    return cls(n_components=32, hidden_layer_sizes=(64,), max_iter=10, batch_size=64,
               learning_rate_init=3e-3, random_state=0, **EXTRA.get(cls.__name__, {}))


autoencoders = [
    getattr(skae, name)
    for name in ("Autoencoder", "SparseAutoencoder", "DenoisingAutoencoder", "ContractiveAutoencoder", "VAE")
    if hasattr(skae, name)
]
extractors = {
    "PCA(32) + LR": PCA(32, random_state=0),
    "BernoulliRBM(128) + LR": BernoulliRBM(128, learning_rate=0.05, n_iter=10, random_state=0),
    **{f"{cls.__name__} + LR": small(cls) for cls in autoencoders},
}
for extractor in extractors.values():
    extractor.fit(X_train)  # all rows: the unlabeled ones too

# %%
# Accuracy against the number of labels
# -------------------------------------
results = {name: [] for name in ["raw pixels + LR", *extractors, "AutoencoderClassifier (joint)"]}
for n in N_LABELS:
    rows = labeled_rows(n)
    results["raw pixels + LR"].append(
        LogisticRegression(max_iter=2000).fit(X_train[rows], y_train[rows]).score(X_test, y_test)
    )
    for name, extractor in extractors.items():
        model = make_pipeline(FrozenEstimator(extractor), LogisticRegression(max_iter=2000))
        results[name].append(model.fit(X_train[rows], y_train[rows]).score(X_test, y_test))
    y_semi = np.full_like(y_train, -1)
    y_semi[rows] = y_train[rows]
    joint = AutoencoderClassifier(
        Autoencoder(n_components=32, hidden_layer_sizes=(256,), tied_weights=True),
        reconstruction_weight=30.0, alpha=1e-2, batch_size=64, learning_rate_init=3e-3,
        max_iter=20, random_state=0,
    )
    results["AutoencoderClassifier (joint)"].append(joint.fit(X_train, y_semi).score(X_test, y_test))

for name, accuracies in results.items():
    print(f"{name:32s}", " ".join(f"{a:.3f}" for a in accuracies))

# %%
# Plot
# ----
fig, ax = plt.subplots(figsize=(7, 4.5))
for name, accuracies in results.items():
    style = dict(lw=2.5, color="k") if "joint" in name else dict(lw=1.2)
    ax.plot(N_LABELS, accuracies, marker="o", label=name, **style)
ax.set_xscale("log")
ax.set_xticks(N_LABELS, [str(n) for n in N_LABELS])
ax.set_xlabel("number of labeled training rows (the rest unlabeled)")
ax.set_ylabel("test accuracy")
ax.set_title("Digits: semi-supervised accuracy against the number of labels")
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()

# %%
# With all labels every method lands near the top. With few labels the autoencoder's codes are no
# better than the raw pixels on these tiny 8×8 images (logistic regression on 64 pixels is a
# strong baseline); joint training, where the labels shape the code and the unlabeled rows
# regularise it, is where the unlabeled data help most.
