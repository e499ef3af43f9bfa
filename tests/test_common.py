"""scikit-learn's estimator checks over every public skae estimator, discovered from the package.

Zero expected failures: every check must pass. The set_output and feature-name checks that
``check_estimator`` does not run are called here directly.
"""

import inspect

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils.estimator_checks import (
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

import skae

# The checks fit hundreds of times with deliberately few epochs: no fit is meant to converge.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Small, quick settings that every estimator accepts: the checks fit hundreds of times.
_FAST = {"max_iter": 5, "hidden_layer_sizes": (8,), "random_state": 0}


def _public_estimators():
    """Every concrete estimator class exported by skae (so a new estimator is tested automatically).

    Not HammingIndex: a search structure over binary codes, not a scikit-learn estimator.
    """
    classes = []
    for name in sorted(skae.__all__):
        obj = getattr(skae, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator) and not inspect.isabstract(obj):
            classes.append(obj)
    return classes


def _instances():
    out = []
    for cls in _public_estimators():
        params = cls().get_params()
        if "contamination" in params:  # the outlier detector wraps an autoencoder: make that one small
            est = cls(skae.Autoencoder(**_FAST))
        elif "autoencoder" in params:  # the semi-supervised classifier wraps an autoencoder
            # Fully labeled y: check_classifiers_classes uses -1 as a class label, which the default
            # unlabeled_label=-1 reads as "unlabeled" (scikit-learn exempts its own semi-supervised
            # estimators from that by name); unlabeled_label=None makes every row labeled.
            # The default autoencoder (a 256-128 ladder) stays, so its code-as-class-scores path is
            # checked; 5 epochs keep the checks quick and check_classifiers_train still far above its
            # 0.83 floor (0.92-0.93 training accuracy on its 3 blobs, over random_state 0-2).
            est = cls(random_state=0, max_iter=5, unlabeled_label=None)
        elif "n_neighbors" in params:  # the neighbour embedding: some checks fit on 10 rows
            est = cls(n_neighbors=5, **_FAST)
        else:
            est = cls(**{k: v for k, v in _FAST.items() if k in params})
        out.append(est)
    return out


# Parameters that switch to another training path get an instance of their own.
_VARIANTS = [skae.ContractiveAutoencoder(contraction_estimator="stochastic", n_projections=2, **_FAST)]

ESTIMATORS = _instances() + _VARIANTS
TRANSFORMERS = [e for e in ESTIMATORS if hasattr(e, "transform") and not is_classifier(e)]


def test_discovery_finds_every_estimator():
    # Everything skae exports is checked here but the search structure and the version string: an
    # export that is not a concrete scikit-learn estimator would drop out of the checks silently.
    exported = set(skae.__all__) - {"HammingIndex", "__version__"}
    assert {cls.__name__ for cls in _public_estimators()} == exported
    assert {type(e).__name__ for e in ESTIMATORS} == exported


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


_OUTPUT_CHECKS = [
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_global_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_get_feature_names_out_error,
]


# The pandas checks transform arrays with an estimator fitted on a DataFrame and the reverse, on
# purpose; the feature-name warnings that scikit-learn's validation gives then are expected.
@pytest.mark.filterwarnings("ignore:X (does not have valid|has) feature names:UserWarning")
@pytest.mark.parametrize("estimator", TRANSFORMERS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", _OUTPUT_CHECKS, ids=lambda c: c.__name__)
def test_set_output_and_feature_names(estimator, check):
    pytest.importorskip("pandas")
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator", [e for e in ESTIMATORS if "alpha" in e.get_params()], ids=lambda e: type(e).__name__
)
def test_alpha_decays_every_weight_matrix(estimator):
    # alpha is each estimator's L2 strength: every weight matrix of its network (layers, kernels, the
    # ladder's W and V, kept in parameter lists) must shrink under it, and no vector (bias, shift,
    # scale) may be decayed. The ladder's weights, not named "weight", once left alpha silently doing
    # nothing.
    from skae._base import _decayed_split

    rng = np.random.RandomState(0)
    X = rng.rand(64, 6).astype(np.float32)
    y = np.arange(64) % 2

    def fitted(alpha):
        est = clone(estimator).set_params(alpha=alpha, max_iter=10, learning_rate_init=0.05)
        if is_classifier(est):  # its alpha is its head's; the (default) ladder's is the ladder's own
            est.set_params(autoencoder=skae.LadderAutoencoder(n_components=2, hidden_layer_sizes=(8,), alpha=alpha))
            return est.fit(X, y)
        return est.fit(X)

    plain, decayed = fitted(0.0), fitted(30.0)
    weights, _ = _decayed_split(decayed.module_)
    named = dict(decayed.module_.named_parameters())
    chosen = {id(p) for p in weights}
    assert chosen, "alpha decays nothing"
    assert all(p.dim() >= 2 for p in weights)  # matrices and kernels, never a bias or a scale
    assert all(id(p) in chosen for n, p in named.items() if n.endswith("weight") and p.dim() >= 2)
    before = dict(plain.module_.named_parameters())
    for name, p in named.items():
        if id(p) in chosen:
            assert p.norm() < 0.9 * before[name].norm(), name
