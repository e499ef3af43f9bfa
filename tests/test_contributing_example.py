"""The worked example of the contributors' guide (doc/contributing.rst includes this file).

A new estimator in skae is a subclass with its own parameters, constraints and hooks; the training
loop, validation, persistence and scikit-learn plumbing come from the engine. Here: an autoencoder
whose code is pulled towards the origin by a squared-norm penalty, ``λ · mean ‖h‖²``.
"""

from numbers import Real

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import Interval
from sklearn.utils.estimator_checks import check_estimator

from skae import Autoencoder


# --- the penalty: a pure torch function (in skae it would go to skae/_penalties.py) -------------
def squared_code_norm(code):
    """Per-sample squared L2 norm of the code, ``‖h(x_n)‖²``: shape (n_samples,)."""
    return code.square().sum(dim=1)


# --- the estimator: parameters, constraints, one hook (in skae: skae/_<name>.py) -----------------
class ShrinkingAutoencoder(Autoencoder):
    """Autoencoder whose code is penalised by ``code_weight · mean ‖h‖²``.

    Parameters
    ----------
    code_weight : float, default=0.1
        Weight of the squared code norm, relative to the (unit-free) reconstruction objective.
    **kwargs
        The parameters of :class:`skae.Autoencoder`.
    """

    # Extend the parent's constraints: validation, error messages and check_estimator follow.
    _parameter_constraints = {
        **Autoencoder._parameter_constraints,
        "code_weight": [Interval(Real, 0, None, closed="left")],
    }

    # scikit-learn reads the parameters from the signature: name them all (no **kwargs). A short
    # example passes a few on to its parent; skae's own estimators name every engine parameter and
    # store them with ``store_params(self, locals())`` (skae/_params.py).
    def __init__(self, n_components=8, *, code_weight=0.1, hidden_layer_sizes=(128,), max_iter=200,
                 random_state=None):
        super().__init__(n_components, hidden_layer_sizes=hidden_layer_sizes, max_iter=max_iter,
                         random_state=random_state)
        self.code_weight = code_weight

    # The one hook this estimator needs: the objective of a batch. ``super()._loss`` is the
    # reconstruction term (already divided by the data's reference loss) and the batch's code;
    # ``plus`` adds the weighted penalty to it.
    def _loss(self, module, batch):
        loss = super()._loss(module, batch)
        return loss.plus(self.code_weight * squared_code_norm(loss.code).mean())


# --- its tests (in skae: tests/test_<name>.py; test_common discovers estimators from skae.__all__) -
def test_penalty_is_the_squared_norm():
    code = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    assert torch.equal(squared_code_norm(code), torch.tensor([25.0, 1.0]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short fits
def test_a_larger_weight_shrinks_the_code():
    X = load_digits().data[:300]
    norms = []
    for weight in (0.0, 1.0):
        ae = ShrinkingAutoencoder(4, code_weight=weight, hidden_layer_sizes=(16,), max_iter=15,
                                  random_state=0).fit(X)
        norms.append(float(np.square(ae.transform(X)).sum(axis=1).mean()))
    assert norms[1] < 0.5 * norms[0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short fits
def test_it_is_a_scikit_learn_estimator():
    check_estimator(ShrinkingAutoencoder(2, hidden_layer_sizes=(4,), max_iter=3, random_state=0))
