"""The README's Python examples stay in step with the API: they parse, import what exists, and pass
only parameters the estimators have (grid keys included). Running them whole takes minutes, so the
test reads them instead of executing them."""

import ast
import inspect
import re
from pathlib import Path

import pytest

import skae

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def _parse(block):
    # Some blocks are indented fragments (a loop body shown inside a bullet): dedent them first.
    lines = block.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return ast.parse("\n".join(line[indent:] for line in lines))


def _skae_calls(tree):
    """``(class, keyword names)`` for every call of a skae estimator in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            cls = getattr(skae, node.func.id, None)
            if inspect.isclass(cls):
                yield cls, [kw.arg for kw in node.keywords if kw.arg is not None]


def _grid_keys(tree):
    """The string keys of the dicts passed to ``GridSearchCV``."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "GridSearchCV"
                and len(node.args) > 1 and isinstance(node.args[1], ast.Dict)):
            yield from (k.value for k in node.args[1].keys if isinstance(k, ast.Constant))


def test_readme_has_python_examples():
    assert len(_blocks()) >= 5


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_example_parses_and_uses_real_parameters(index):
    tree = _parse(_blocks()[index])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "skae":
            for alias in node.names:
                assert hasattr(skae, alias.name), f"README imports skae.{alias.name}, which does not exist"
    for cls, keywords in _skae_calls(tree):
        params = cls().get_params(deep=False)
        unknown = set(keywords) - set(params)
        assert not unknown, f"README passes {sorted(unknown)} to {cls.__name__}, which has no such parameter"
    for key in _grid_keys(tree):
        step, _, param = key.partition("__")
        # make_pipeline names each step after its class, lower-cased.
        cls = next((getattr(skae, name) for name in skae.__all__ if name.lower() == step), None)
        if cls is not None:
            assert param in cls().get_params(deep=False), f"README's grid key {key!r}: no parameter {param!r}"


def test_the_checks_catch_a_wrong_parameter():
    """The test above can fail: a renamed parameter in an example is found."""
    tree = _parse("from skae import DenoisingAutoencoder\nDenoisingAutoencoder(n_components=2, noise_levl=0.5)\n")
    (cls, keywords), = _skae_calls(tree)
    assert set(keywords) - set(cls().get_params(deep=False)) == {"noise_levl"}
    tree = _parse('GridSearchCV(pipe, {"denoisingautoencoder__noise_levl": [0.1]})')
    assert list(_grid_keys(tree)) == ["denoisingautoencoder__noise_levl"]
