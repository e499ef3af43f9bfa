"""
=====================================================================
Choosing a sparsity weight with GridSearchCV: the validation curve
=====================================================================

skae estimators are ordinary scikit-learn transformers, so their hyperparameters are tuned like any
other step of a :class:`~sklearn.pipeline.Pipeline`. Here an overcomplete
:class:`~skae.SparseAutoencoder` (128 ReLU code units for 64 pixels, L1 penalty) feeds a logistic
regression on the digits, and :class:`~sklearn.model_selection.GridSearchCV` picks the weight λ of
the sparsity penalty (``sparsity_weight``) by cross-validated accuracy.

The validation curve shows the trade-off the penalty controls: as λ grows the code gets sparser at
little cost in accuracy, until the penalty switches off so many units that the classifier starves.
The decoder is tied to the encoder (``tied_weights=True``) so that the penalty cannot be dodged by
shrinking the code and scaling the decoder up.
"""

# %%
# The pipeline and the grid. The parameter is addressed as ``<step name>__<parameter>``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skae import SparseAutoencoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

pipe = Pipeline(
    [
        ("scale", MinMaxScaler()),
        (
            "sae",
            SparseAutoencoder(
                n_components=128,
                sparsity="l1",
                hidden_layer_sizes=(),
                tied_weights=True,
                batch_size=64,
                learning_rate_init=1e-2,
                max_iter=25,
                random_state=0,
            ),
        ),
        ("clf", LogisticRegression(max_iter=500)),
    ]
)
param_grid = {"sae__sparsity_weight": np.logspace(-5, -1, 5)}
search = GridSearchCV(
    pipe,
    param_grid,
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    return_train_score=True,
).fit(X_train, y_train)

print(f"best sparsity_weight: {search.best_params_['sae__sparsity_weight']:g}")
print(f"cross-validated accuracy: {search.best_score_:.3f}")
test_accuracy = search.score(X_test, y_test)
print(f"test accuracy of the refitted pipeline: {test_accuracy:.3f}")

# %%
# How sparse is each code? The fraction of code units that are active
# (non-zero) on the test digits, for a copy of the scaler and autoencoder
# refitted on the training set at each λ, is the other half of the trade-off.
lambdas = param_grid["sae__sparsity_weight"]
encoder = search.best_estimator_[:2]  # the "scale" and "sae" steps
active = []
for lam in lambdas:
    model = clone(encoder).set_params(sae__sparsity_weight=lam)
    codes = model.fit(X_train).transform(X_test)
    active.append(float((codes > 0).mean()))

# %%
# The validation curve: mean cross-validated accuracy (± one standard deviation
# over the folds) against λ, with the training accuracy for comparison and the
# fraction of active code units. All three are fractions, drawn on one axis
# from 0 to 1.
res = search.cv_results_
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for kind, style in [("train", "--"), ("test", "-")]:
    mean, std = res[f"mean_{kind}_score"], res[f"std_{kind}_score"]
    label = {"train": "training", "test": "cross-validated"}[
        kind
    ] + " accuracy"
    ax.plot(lambdas, mean, style, marker="o", label=label)
    ax.fill_between(lambdas, mean - std, mean + std, alpha=0.2)
ax.plot(lambdas, active, marker="s", label="fraction of active code units")
best = search.best_params_["sae__sparsity_weight"]
ax.axvline(best, color="gray", lw=1, ls=":", label="chosen λ")
ax.set_xscale("log")
ax.set_ylim(0, 1.02)
ax.set_xlabel("sparsity_weight λ")
ax.set_ylabel("fraction")
ax.legend(loc="lower left")
ax.set_title("Validation curve of the sparsity weight")
plt.show()
