"""
=====================================
Outlier detection with an autoencoder
=====================================

An autoencoder trained on mostly normal data reconstructs normal samples well
and unusual ones badly, so its per-sample reconstruction score,
:meth:`~skae.Autoencoder.score_samples` (the negative reconstruction error,
higher is more normal), is an outlier score. It also codes normal samples
close together, so how far a sample's code lies from the training codes is
another. :class:`~skae.AutoencoderOutlierDetector` adds the two (each relative
to its median on the training rows) and turns the sum into an outlier detector
with scikit-learn's conventions, those of
:class:`~sklearn.ensemble.IsolationForest`: ``predict`` returns +1 for inliers
and -1 for outliers, ``decision_function`` is the score minus a threshold
``offset_`` set from the training data, and ``contamination`` says how many
training rows to flag.

Here the "normal" data are the digits 0 to 6, and 5 % of the training rows
are 7s, 8s and 9s slipped in unlabeled. Both detectors are fitted on this
contaminated set and judged on held-out digits: held-out 0-6 against every 7,
8 and 9 not used in training.
"""

# %%
# Data: digits 0-6 plus 5 % of 7-9 for training; the rest for testing.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import RocCurveDisplay, roc_auc_score
from sklearn.model_selection import train_test_split

from skae import AutoencoderOutlierDetector

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
rng = np.random.RandomState(0)
normal = np.flatnonzero(y <= 6)
unusual = rng.permutation(np.flatnonzero(y > 6))
train_normal, test_normal = train_test_split(normal, test_size=0.3,
                                             random_state=0)
n_slipped_in = int(0.05 / 0.95 * len(train_normal))
train = np.r_[train_normal, unusual[:n_slipped_in]]
test = np.r_[test_normal, unusual[n_slipped_in:]]
is_outlier = y[test] > 6
print(f"training: {len(train_normal)} digits 0-6 and {n_slipped_in} "
      "digits 7-9 (unlabeled)")
print(f"test: {(~is_outlier).sum()} digits 0-6, {is_outlier.sum()} digits 7-9")

# %%
# The detector wraps any skae autoencoder, passed as its first argument
# (e.g. ``AutoencoderOutlierDetector(DenoisingAutoencoder(n_components=16))``).
# With none given, as here, it uses an :class:`~skae.Autoencoder` whose code
# is half as wide as the input (at most 32 units), with dropout.
# ``contamination="auto"`` (the default) sets the threshold by Tukey's rule on
# the training scores: rows scoring much worse than the bulk are
# outliers. IsolationForest, fitted on the same rows, has its own "auto"
# threshold.
detector = AutoencoderOutlierDetector(random_state=0).fit(X[train])
forest = IsolationForest(random_state=0).fit(X[train])
detectors = [("AutoencoderOutlierDetector", detector),
             ("IsolationForest", forest)]

for name, est in detectors:
    flagged = est.predict(X[test]) == -1
    # Outliers have *low* scores: the AUC ranks -score_samples.
    auc = roc_auc_score(is_outlier, -est.score_samples(X[test]))
    print(f"{name:27s} ROC AUC {auc:.3f}; flags "
          f"{flagged[is_outlier].mean():.0%} of the test 7-9 and "
          f"{flagged[~is_outlier].mean():.0%} of the test 0-6")
flagged_train = (detector.predict(X[train]) == -1).mean()
print(f"the detector flags {flagged_train:.1%} of its training rows")

# %%
# ``decision_function`` is ``score_samples - offset_``: negative means
# outlier. Its distribution on the test digits, and the ROC curves of both
# detectors.
fig, (ax_hist, ax_roc) = plt.subplots(1, 2, figsize=(10, 4.2),
                                      layout="constrained")
d = detector.decision_function(X[test])
bins = np.linspace(d.min(), d.max(), 40)
ax_hist.hist(d[~is_outlier], bins=bins, alpha=0.6, label="digits 0-6")
ax_hist.hist(d[is_outlier], bins=bins, alpha=0.6, label="digits 7-9")
ax_hist.axvline(0, color="k", lw=1, ls="--", label="threshold (offset_)")
ax_hist.set_xlabel("AutoencoderOutlierDetector.decision_function")
ax_hist.set_ylabel("number of test digits")
ax_hist.legend()
for name, est in detectors:
    RocCurveDisplay.from_predictions(
        is_outlier, -est.score_samples(X[test]), name=name, ax=ax_roc
    )
ax_roc.plot([0, 1], [0, 1], color="gray", lw=1, ls=":")
ax_roc.set_title("Detecting the digits 7-9")
plt.show()

# %%
# The ten test digits the detector finds most abnormal, with the fitted
# autoencoder's reconstructions (``detector.autoencoder_``).
worst = test[np.argsort(detector.score_samples(X[test]))[:10]]
ae = detector.autoencoder_
recon = ae.inverse_transform(ae.transform(X[worst]))
fig, axes = plt.subplots(2, 10, figsize=(10, 2.6), layout="constrained")
for c, i in enumerate(worst):
    axes[0, c].imshow(X[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axes[0, c].set_title(f"{y[i]}", fontsize=10)
    axes[1, c].imshow(np.clip(recon[c], 0, 1).reshape(8, 8), cmap="gray_r",
                      vmin=0, vmax=1)
    for ax in axes[:, c]:
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("test digit")
axes[1, 0].set_ylabel("reconstruction")
fig.suptitle("Lowest scores: the most abnormal test digits "
             "(true label on top)")
plt.show()
