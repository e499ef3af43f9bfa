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
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
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
print(f"test accuracy of the refitted pipeline: {search.score(X_test, y_test):.3f}")

# %%
# How sparse is each code? The fraction of code units that are active (non-zero) on the test digits,
# for the autoencoder refitted on the training set at each λ, is the other half of the trade-off.
lambdas = param_grid["sae__sparsity_weight"]
active = []
for lam in lambdas:
    model = search.best_estimator_.set_params(sae__sparsity_weight=lam)
    codes = model[:2].fit(X_train).transform(X_test)
    active.append(float((codes > 0).mean()))
search.best_estimator_.set_params(sae__sparsity_weight=search.best_params_["sae__sparsity_weight"])

# %%
# The validation curve: mean cross-validated accuracy (± one standard deviation over the folds)
# against λ, with the training accuracy for comparison and the fraction of active units on the right
# axis.
res = search.cv_results_
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for kind, style in [("train", "--"), ("test", "-")]:
    mean, std = res[f"mean_{kind}_score"], res[f"std_{kind}_score"]
    label = "training accuracy" if kind == "train" else "cross-validated accuracy"
    ax.plot(lambdas, mean, style, marker="o", label=label)
    ax.fill_between(lambdas, mean - std, mean + std, alpha=0.2)
ax.axvline(search.best_params_["sae__sparsity_weight"], color="gray", lw=1, ls=":")
ax.set_xscale("log")
ax.set_xlabel("sparsity_weight λ")
ax.set_ylabel("accuracy")
ax2 = ax.twinx()
ax2.plot(lambdas, active, color="tab:green", marker="s", label="active code units")
ax2.set_ylabel("fraction of active code units", color="tab:green")
ax2.set_ylim(0, 1)
lines = ax.get_legend_handles_labels()
lines2 = ax2.get_legend_handles_labels()
ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower left")
ax.set_title("Validation curve of the sparsity weight")
plt.show()
