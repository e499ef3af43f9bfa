"""
==========================================================
Anomaly detection with the reconstruction score
==========================================================

An autoencoder trained on normal data reconstructs normal samples well and unfamiliar ones badly, so
its per-sample reconstruction score, :meth:`~skae.Autoencoder.score_samples` (the negative
reconstruction error, higher is more normal), is an anomaly score.

Here the "normal" data are the digits 0 to 6; the autoencoder never sees a 7, 8 or 9 during
training. On held-out digits we ask how well the score ranks the unseen digits as anomalous (ROC
AUC), beside the same score from PCA with the same number of components.
"""

# %%
# Data: train on digits 0-6 only; the test set mixes held-out 0-6 (normal) with every 7, 8 and 9.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.metrics import RocCurveDisplay, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skae import Autoencoder

X, y = load_digits(return_X_y=True)
X = MinMaxScaler().fit_transform(X)
normal = y <= 6
X_train, X_test_normal, _, y_test_normal = train_test_split(
    X[normal], y[normal], test_size=0.3, random_state=0
)
X_test = np.vstack([X_test_normal, X[~normal]])
y_test = np.r_[y_test_normal, y[~normal]]
is_anomaly = y_test > 6
print(
    f"{len(X_train)} training digits; test: {(~is_anomaly).sum()} normal, "
    f"{is_anomaly.sum()} unseen"
)

# %%
# An autoencoder with an 8-unit code, and PCA with 8 components for comparison. PCA has no
# ``score_samples`` of reconstruction error, so we compute its negative mean squared error by hand —
# the same quantity the autoencoder's ``score_samples`` returns for ``loss="mse"``.
K = 8
ae = Autoencoder(
    n_components=K,
    hidden_layer_sizes=(128,),
    batch_size=64,
    learning_rate_init=3e-3,
    max_iter=80,
    tol=1e-5,
    random_state=0,
).fit(X_train)
pca = PCA(n_components=K).fit(X_train)

scores = {
    "Autoencoder": ae.score_samples(X_test),
    "PCA": -np.mean(
        (pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2, axis=1
    ),
}
for name, s in scores.items():
    # Anomalies have *low* scores: the AUC ranks -score.
    auc = roc_auc_score(is_anomaly, -s)
    print(f"{name:12s} ROC AUC for detecting unseen digits: {auc:.3f}")

# %%
# The distributions of the autoencoder's score, and the ROC curves of both detectors.
fig, (ax_hist, ax_roc) = plt.subplots(
    1, 2, figsize=(9.5, 4), layout="constrained"
)
s = scores["Autoencoder"]
bins = np.linspace(s.min(), s.max(), 40)
ax_hist.hist(s[~is_anomaly], bins=bins, alpha=0.6, label="digits 0-6 (normal)")
ax_hist.hist(s[is_anomaly], bins=bins, alpha=0.6, label="digits 7-9 (unseen)")
ax_hist.set_xlabel("Autoencoder.score_samples (negative reconstruction MSE)")
ax_hist.set_ylabel("number of test digits")
ax_hist.legend()
for name, s in scores.items():
    RocCurveDisplay.from_predictions(is_anomaly, -s, name=name, ax=ax_roc)
ax_roc.plot([0, 1], [0, 1], color="gray", lw=1, ls=":")
ax_roc.set_title("Detecting digits never seen in training")
plt.show()

# %%
# The ten test digits the autoencoder finds most anomalous, with their reconstructions.
worst = np.argsort(scores["Autoencoder"])[:10]
recon = ae.inverse_transform(ae.transform(X_test[worst]))
fig, axes = plt.subplots(2, 10, figsize=(10, 2.6), layout="constrained")
for c, i in enumerate(worst):
    axes[0, c].imshow(X_test[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axes[0, c].set_title(f"{y_test[i]}", fontsize=10)
    axes[1, c].imshow(
        np.clip(recon[c], 0, 1).reshape(8, 8), cmap="gray_r", vmin=0, vmax=1
    )
    for ax in axes[:, c]:
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("test digit")
axes[1, 0].set_ylabel("reconstruction")
fig.suptitle(
    "Lowest score_samples: the most anomalous test digits (true label on top)"
)
plt.show()
