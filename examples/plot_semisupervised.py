"""
=============================================================
Semi-supervised digits: sequential and joint, with few labels
=============================================================

Labels are expensive, unlabeled images are cheap. This example keeps 3 or
10 labels per class of the digits training set and marks the rest ``-1``
(unlabeled, the :mod:`sklearn.semi_supervised` convention). It compares,
on a fixed test set and as a mean over three label draws:

- scikit-learn alone: logistic regression on the labeled rows, and
  :class:`~sklearn.semi_supervised.LabelSpreading` on the pixels;
- *sequential* skae: an autoencoder fitted on all rows (labels unused),
  then a scikit-learn model on its codes, in one
  :class:`~sklearn.pipeline.Pipeline` — LabelSpreading on the codes, or a
  frozen autoencoder and logistic regression on the labeled rows' codes;
- *joint* skae: :class:`~skae.AutoencoderClassifier`, one network trained on
  the labeled rows' cross-entropy plus the autoencoder's own loss on all
  rows — with its default :class:`~skae.LadderAutoencoder`, and with a
  plain autoencoder.

Sequential training is simple, and any scikit-learn model can sit on the
codes, but the representation is not informed by the task. Joint training
shapes the code by both terms; ``reconstruction_weight`` and the code size
are its hyperparameters. Epochs are kept small (40 for the joint networks)
so that the example runs in well under a minute.
"""

# %%
# Data: a fixed test set, and label draws
# ---------------------------------------
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.semi_supervised import LabelSpreading

from skae import Autoencoder, AutoencoderClassifier, LadderAutoencoder

warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=500, random_state=0, stratify=y
)
PER_CLASS = [3, 10]
DRAWS = [0, 1, 2]


def semi_labels(per_class, draw):
    """y_train with `per_class` labels kept per class, -1 elsewhere."""
    rng = np.random.RandomState(draw)
    keep = np.concatenate([
        rng.choice(np.flatnonzero(y_train == c), per_class, replace=False)
        for c in range(10)
    ])
    y_semi = np.full_like(y_train, -1)
    y_semi[keep] = y_train[keep]
    return y_semi


# %%
# The routes
# ----------
# Each route is a function of the semi-labeled ``y``; every skae estimator
# ignores the ``-1`` rows' labels (an autoencoder ignores ``y`` altogether),
# and a Pipeline hands ``y`` to its last step. The unsupervised autoencoder of
# the sequential routes is fitted once: it never sees a label.
ae = Autoencoder(n_components=16, hidden_layer_sizes=(64,), max_iter=60,
                 random_state=0).fit(X_train)


def lr_labeled(y_semi, draw):
    rows = y_semi != -1
    model = make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=2000))
    return model.fit(X_train[rows], y_semi[rows])


def spreading_pixels(y_semi, draw):
    model = make_pipeline(MinMaxScaler(),
                          LabelSpreading(kernel="knn", n_neighbors=10))
    return model.fit(X_train, y_semi)


def ae_then_spreading(y_semi, draw):
    # The frozen autoencoder's codes, labeled by LabelSpreading on all rows.
    model = make_pipeline(FrozenEstimator(ae),
                          LabelSpreading(kernel="knn", n_neighbors=10))
    return model.fit(X_train, y_semi)


def ae_then_lr(y_semi, draw):
    rows = y_semi != -1
    model = make_pipeline(FrozenEstimator(ae),
                          LogisticRegression(max_iter=2000))
    return model.fit(X_train[rows], y_semi[rows])


def joint_ladder(y_semi, draw):
    # The default, spelled out: a ladder network whose code is the class
    # layer, one unit per class (40 epochs here; the default 200 do better,
    # see the User Guide). AutoencoderClassifier() builds the same network.
    body = LadderAutoencoder(n_components=10)
    model = AutoencoderClassifier(body, max_iter=40, random_state=draw)
    return model.fit(X_train, y_semi)


def joint_autoencoder(y_semi, draw):
    body = Autoencoder(n_components=16, hidden_layer_sizes=(64,))
    model = AutoencoderClassifier(body, max_iter=40, random_state=draw)
    return model.fit(X_train, y_semi)


ROUTES = {
    "LogisticRegression, labeled rows": lr_labeled,
    "LabelSpreading on pixels": spreading_pixels,
    "Autoencoder → LabelSpreading": ae_then_spreading,
    "Autoencoder (frozen) → LR": ae_then_lr,
    "AutoencoderClassifier(Autoencoder)": joint_autoencoder,
    "AutoencoderClassifier() (ladder)": joint_ladder,
}

# %%
# Accuracy on the test set, mean and spread over the label draws
# --------------------------------------------------------------
scores = {name: {k: [] for k in PER_CLASS} for name in ROUTES}
seconds = dict.fromkeys(ROUTES, 0.0)
for per_class in PER_CLASS:
    for draw in DRAWS:
        y_semi = semi_labels(per_class, draw)
        for name, route in ROUTES.items():
            start = time.perf_counter()
            model = route(y_semi, draw)
            seconds[name] += time.perf_counter() - start
            scores[name][per_class].append(model.score(X_test, y_test))

print(f"{'route':<36}" + "".join(f"{k:>2}/class (sd)  " for k in PER_CLASS))
for name in ROUTES:
    cells = "".join(
        f"{np.mean(scores[name][k]):.3f} ({np.std(scores[name][k]):.3f})  "
        for k in PER_CLASS
    )
    print(f"{name:<36}{cells}")

# %%
# What the numbers say (they are printed above; when this page was built,
# with 3 labels per class: logistic regression 0.78, LabelSpreading on pixels
# 0.91, autoencoder codes + LabelSpreading 0.88, the ladder 0.87 at 40
# epochs. At the ladder's default 200 epochs, over 5 draws, it reaches 0.92
# with 3 labels per class and 0.96 with 10, LabelSpreading 0.92 and 0.96:
# see the User Guide, which also shows a stronger route: the class-balanced
# labels of LabelSpreading on the images and their one-pixel shifts, taught
# to a convolutional AutoencoderClassifier on the same shifted images, ahead
# of LabelSpreading by more than one sd at 3 and at 10 labels per class,
# where an SVC on the same shifted images does as well: the shifts, not the
# network, make the gain):
#
# - the unlabeled rows help most where a route propagates labels through
#   them: label spreading (on pixels or on codes) and the ladder network are
#   9 to 13 points above logistic regression on the 30 labeled rows;
# - on these 64-pixel digits, plain label spreading on the pixels is as good
#   as anything here: a k-nearest-neighbour graph on 8×8 images is already a
#   good graph. On MNIST's 784 pixels it is not, and there the ladder network
#   wins by far (9.6 % error for label spreading on PCA codes, 2.1 % for
#   the ladder with 100 labels: see the User Guide);
# - a frozen autoencoder's codes fed to logistic regression, and joint
#   training of a plain autoencoder, do no better than logistic regression
#   on the pixels: a reconstruction objective alone does not make a code
#   that a linear model separates from 30 examples.
#
# The figure shows each route's mean with its spread over the draws.
fig, ax = plt.subplots(figsize=(8, 4.5))
width = 0.38
names = list(ROUTES)
pos = np.arange(len(names))
for i, per_class in enumerate(PER_CLASS):
    means = [np.mean(scores[n][per_class]) for n in names]
    sds = [np.std(scores[n][per_class]) for n in names]
    ax.barh(pos + (i - 0.5) * width, means, width, xerr=sds,
            label=f"{per_class} labels per class")
ax.set_yticks(pos, names)
ax.invert_yaxis()
ax.set_xlim(0.5, 1.0)
ax.set_xlabel("test accuracy (mean over 3 label draws, ± sd)")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
