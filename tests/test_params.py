"""Every estimator's engine parameters come from one table (skae/_params.py), initialised one way.

The signature (scikit-learn reads the parameters from it), ``_parameter_constraints`` and the
docstring of each estimator are checked against the table, so that a default, a constraint or a
documented text cannot drift in one estimator alone.
"""

import ast
import inspect
import re
import textwrap

import pytest

import skae
from skae._base import BaseAutoencoder
from skae._docstrings import ENGINE_PARAMETER_DOCS
from skae._params import (
    ENGINE_CONSTRAINTS,
    ENGINE_DEFAULT_OVERRIDES,
    ENGINE_DEFAULTS,
    NETWORK_CONSTRAINTS,
    store_params,
)

ENGINE_ESTIMATORS = [
    skae.Autoencoder,
    skae.SparseAutoencoder,
    skae.DenoisingAutoencoder,
    skae.ContractiveAutoencoder,
    skae.VAE,
    skae.LadderAutoencoder,
    skae.HashingAutoencoder,
    skae.NeighborEmbeddingAutoencoder,
    skae.AutoencoderClassifier,
]
ALL_ESTIMATORS = [*ENGINE_ESTIMATORS, skae.AutoencoderOutlierDetector]


def test_the_tables_cover_every_estimator():
    # A new estimator must join the lists above, or the table checks below would pass it by.
    import _reliability

    assert set(ENGINE_ESTIMATORS) == set(_reliability.ENGINE_ESTIMATORS)
    assert set(ALL_ESTIMATORS) == set(_reliability.ESTIMATORS)

# Engine parameters whose docstring entry says something the shared text cannot (what the
# estimator stops on, what else the seed draws, ...). Any other entry must be the shared text.
OWN_DOC_TEXT = {
    "AutoencoderClassifier": {"alpha", "max_iter", "tol", "early_stopping", "random_state"},
    "LadderAutoencoder": {"batch_size", "tol", "learning_rate_init"},
    "HashingAutoencoder": {"batch_size", "tol", "random_state"},
    "VAE": {"tol", "early_stopping", "precision", "random_state", "conditioning"},
    "DenoisingAutoencoder": {"conditioning"},
    "NeighborEmbeddingAutoencoder": {"learning_rate", "learning_rate_init", "n_iter_no_change", "conditioning"},
}


def _signature(cls):
    return {
        name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"
    }


def _doc_entries(cls):
    """``{name: entry}`` of the numpydoc Parameters section, entries dedented as in the table."""
    doc = inspect.cleandoc(cls.__doc__)
    section = re.search(r"^Parameters\n-+\n(.*?)(?=^\w[\w ]*\n-+\n)", doc, re.S | re.M).group(1)
    entry = re.compile(r"^(\w+) : ([^\n]*)\n((?:(?:    [^\n]*)?\n)*?)(?=^\w|\Z)", re.M)
    return {m[1]: f"{m[1]} : {m[2]}\n{m[3]}".rstrip() for m in entry.finditer(section)}


def _documented_default(entry):
    """The value after ``default=`` on an entry's first line, read as a Python literal."""
    return ast.literal_eval(entry.splitlines()[0].rpartition("default=")[2])


def test_the_tables_agree():
    assert set(ENGINE_DEFAULTS) == set(ENGINE_CONSTRAINTS)
    assert set(ENGINE_DEFAULTS) <= set(ENGINE_PARAMETER_DOCS)
    for name, default in ENGINE_DEFAULTS.items():
        assert _documented_default(ENGINE_PARAMETER_DOCS[name]) == default, name


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=lambda c: c.__name__)
def test_engine_parameters_come_from_the_table(cls):
    signature = _signature(cls)
    overrides = ENGINE_DEFAULT_OVERRIDES.get(cls.__name__, {})
    for name, default in ENGINE_DEFAULTS.items():
        assert name in signature, f"{cls.__name__} lacks the engine parameter {name}"
        assert signature[name] == overrides.get(name, default), (cls.__name__, name)
        # The very constraint objects of the table, not copies that could drift.
        assert cls._parameter_constraints[name] is ENGINE_CONSTRAINTS[name], (cls.__name__, name)
    for name in set(signature) & set(NETWORK_CONSTRAINTS):
        assert cls._parameter_constraints[name] is NETWORK_CONSTRAINTS[name], (cls.__name__, name)
    assert set(cls._parameter_constraints) == set(signature)


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=lambda c: c.__name__)
def test_engine_parameters_are_documented_once(cls):
    entries = _doc_entries(cls)
    signature = _signature(cls)
    assert set(entries) == set(signature), "every parameter documented, nothing else"
    own = OWN_DOC_TEXT.get(cls.__name__, set())
    for name in ENGINE_DEFAULTS:
        assert _documented_default(entries[name]) == signature[name], (cls.__name__, name)
        if name in own:
            assert entries[name] != ENGINE_PARAMETER_DOCS[name], f"{cls.__name__}.{name}: use the marker"
        elif name == "alpha" and signature[name] == "auto":  # the shared entry of that default
            assert entries[name] == ENGINE_PARAMETER_DOCS["alpha_auto"], f"{cls.__name__}.{name} drifted"
        else:
            assert entries[name] == ENGINE_PARAMETER_DOCS[name], f"{cls.__name__}.{name} drifted"


@pytest.mark.parametrize("cls", ALL_ESTIMATORS, ids=lambda c: c.__name__)
def test_every_estimator_initialises_the_same_way(cls):
    # The body of __init__ is the one call that stores the arguments ...
    source = textwrap.dedent(inspect.getsource(cls.__init__))
    body = ast.parse(source).body[0].body
    assert [ast.unparse(statement) for statement in body] == ["store_params(self, locals())"]
    # ... which keeps every argument as given (the very objects: no copy, no validation).
    sentinels = {name: object() for name in _signature(cls)}
    estimator = cls(**sentinels)
    params = estimator.get_params(deep=False)
    assert all(params[name] is value for name, value in sentinels.items())


def test_store_params_for_a_subclass_calling_super():
    # A user's subclass may name a few parameters and pass them on (doc/contributing.rst).
    class Shrinking(skae.Autoencoder):
        def __init__(self, n_components=8, *, code_weight=0.1, max_iter=200):
            super().__init__(n_components, max_iter=max_iter)
            self.code_weight = code_weight

    est = Shrinking(3, code_weight=0.5, max_iter=7)
    assert est.get_params() == {"n_components": 3, "code_weight": 0.5, "max_iter": 7}
    assert est.batch_size == ENGINE_DEFAULTS["batch_size"]

    holder = type("Holder", (), {})()
    store_params(holder, {"self": holder, "__class__": type, "a": 1})
    assert vars(holder) == {"a": 1}


def test_every_hook_an_estimator_overrides_is_documented():
    # BaseAutoencoder's docstring is the list of hooks (doc/contributing.rst points to it): an
    # estimator overriding an engine method it does not name there fails here.
    base = BaseAutoencoder
    engine = {n for n, v in vars(base).items() if callable(v) and n.startswith("_") and not n.startswith("__")}
    for cls in ENGINE_ESTIMATORS:
        for klass in cls.__mro__[: cls.__mro__.index(base)]:
            for name in engine & set(vars(klass)):
                assert f"``{name}" in base.__doc__, f"{klass.__name__} overrides {name}, not a documented hook"


def test_every_parameter_has_a_reason_in_the_contributing_guide():
    """doc/contributing.rst's table names every parameter of every estimator (item 6 of issue 37)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "doc" / "contributing.rst").read_text()
    section = text.split("A reason for every parameter\n")[1].split("Considered for removal")[0]
    named = set(re.findall(r"``(\w+)``", section))
    missing = {
        f"{cls.__name__}.{name}"
        for cls in ALL_ESTIMATORS
        for name in inspect.signature(cls.__init__).parameters
        if name != "self" and name not in named
    }
    assert missing == set()
