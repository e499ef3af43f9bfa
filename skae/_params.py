"""The parameters skae's estimators share, written once: defaults and constraints.

Two tables:

- :data:`ENGINE_PARAMETERS`: the training engine's parameters (optimiser, schedule, stopping,
  seeding, device, conditioning). Every estimator has all of them, with these defaults and these
  constraints (deliberate exceptions: :data:`ENGINE_DEFAULT_OVERRIDES`). Their documentation is
  :data:`skae._docstrings.ENGINE_PARAMETER_DOCS`.
- :data:`NETWORK_CONSTRAINTS`: the fully connected network's parameters; an estimator takes the
  ones that apply to its network with :func:`network_constraints`.

Every estimator's ``__init__`` names its parameters in its signature (scikit-learn reads them from
there) and stores them with :func:`store_params`, unchanged. ``tests/test_params.py`` checks every
estimator's signature, constraints and docstring against these tables.
"""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._schedule import LEARNING_RATES
from .nn.layers import ACTIVATIONS

__all__ = [
    "ENGINE_CONSTRAINTS",
    "ENGINE_DEFAULTS",
    "ENGINE_DEFAULT_OVERRIDES",
    "ENGINE_PARAMETERS",
    "NETWORK_CONSTRAINTS",
    "network_constraints",
    "store_params",
    "weight_decay",
]

# name: (default, constraints), in the order the estimators' signatures list them.
ENGINE_PARAMETERS = {
    "alpha": (0.0, [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})]),
    "batch_size": ("auto", [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")]),
    "learning_rate": ("constant", [StrOptions(set(LEARNING_RATES))]),
    "learning_rate_init": (1e-3, [Interval(Real, 0, None, closed="neither")]),
    "decay_start": (0.0, [Interval(Real, 0, 1, closed="left")]),
    "max_iter": (200, [Interval(Integral, 1, None, closed="left")]),
    "max_time": (None, [Interval(Real, 0, None, closed="neither"), None]),
    "tol": (1e-5, [Interval(Real, 0, None, closed="left")]),
    "n_iter_no_change": (20, [Interval(Integral, 1, None, closed="left")]),
    "early_stopping": (False, ["boolean"]),
    "validation_fraction": (0.1, [Interval(Real, 0, 1, closed="neither")]),
    "shuffle": (True, ["boolean"]),
    "random_state": (None, ["random_state"]),
    "verbose": (0, ["verbose"]),
    "warm_start": (False, ["boolean"]),
    "device": ("cpu", [str]),
    "precision": ("float32", [StrOptions({"float32", "bfloat16"})]),
    "conditioning": ("standard", [StrOptions({"auto", "standard", "center", "none"})]),
}
ENGINE_DEFAULTS = {name: default for name, (default, _) in ENGINE_PARAMETERS.items()}
ENGINE_CONSTRAINTS = {name: constraints for name, (_, constraints) in ENGINE_PARAMETERS.items()}

# The engine defaults an estimator changes on purpose, with the reason in its docstring.
ENGINE_DEFAULT_OVERRIDES = {
    # Rasmus et al.'s ladder trains with Adam at 2e-3 (measured in its docstring's Notes).
    "LadderAutoencoder": {"learning_rate_init": 2e-3},
    # Noise and a Gaussian likelihood isotropic in the unit that pixels share (bench_features, issue 36).
    "DenoisingAutoencoder": {"conditioning": "auto"},
    "VAE": {"conditioning": "auto"},
    # Weight decay that fades with the data: an encoder of a thousand rows stops fitting their noise
    # (bench_features, issue 36).
    "Autoencoder": {"alpha": "auto"},
    "SparseAutoencoder": {"alpha": "auto"},
    "ContractiveAutoencoder": {"alpha": "auto"},
    # A map's recipe: a noisy sampled objective wants a larger step decaying to zero over the whole
    # budget, and pixels share one unit (bench_visualization, issue 33).
    "NeighborEmbeddingAutoencoder": {
        "learning_rate": "linear_decay",
        "learning_rate_init": 3e-3,
        "n_iter_no_change": 200,
        "conditioning": "auto",
    },
}


def weight_decay(alpha, n_samples):
    """The L2 strength ``alpha`` stands for when training on ``n_samples`` rows.

    "auto" is ``1 / n_samples``: the penalty of a unit Gaussian prior on the weights, per row of a
    mean loss, so that it fades as the data grows (a MAP estimate's, rather than a fixed decay).
    """
    return 1.0 / max(int(n_samples), 1) if alpha == "auto" else float(alpha)


NETWORK_CONSTRAINTS = {
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "code_activation": [StrOptions(set(ACTIVATIONS))],
    "output_activation": [StrOptions({"auto", "identity", "sigmoid"})],
    "loss": [StrOptions({"mse", "bce"})],
    "tied_weights": ["boolean"],
    "dropout": [Interval(Real, 0, 1, closed="left")],
}


def network_constraints(*names):
    """The constraints of the network parameters ``names`` (a subset of :data:`NETWORK_CONSTRAINTS`)."""
    return {name: NETWORK_CONSTRAINTS[name] for name in names}


def store_params(estimator, arguments):
    """Store the constructor's ``arguments`` (its ``locals()``) as attributes of the same names.

    scikit-learn's rule for ``__init__``: keep every parameter as given, validate nothing (that is
    ``fit``'s job, through ``_parameter_constraints``). Every skae estimator's ``__init__`` is its
    signature and this one call.
    """
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)
