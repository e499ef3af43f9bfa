"""The Python examples of the README and the user guide stay in step with the API: they parse, import
what exists, and pass only parameters the estimators have (grid keys included). Running them whole
takes minutes, so the test reads them instead of executing them."""

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import skae

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _readme_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _rst_blocks(text):
    """The bodies of the ``.. code-block:: python`` directives of an rst page, dedented."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: python\s*$", lines[i])
        i += 1
        if not match:
            continue
        body = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(match[1])):
            body.append(lines[i])
            i += 1
        while body and re.match(r"^\s*:[\w-]+:", body[0]):  # the directive's options come first
            body.pop(0)
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
    return blocks


def _examples():
    examples = [(f"README.md#{i}", block) for i, block in enumerate(_readme_blocks())]
    for page in sorted((ROOT / "doc").rglob("*.rst")):
        if "_build" in page.parts or "auto_examples" in page.parts:
            continue
        name = page.relative_to(ROOT).as_posix()
        examples += [(f"{name}#{i}", block) for i, block in enumerate(_rst_blocks(page.read_text(encoding="utf-8")))]
    return examples


EXAMPLES = _examples()


def _parse(block):
    # Some blocks are indented fragments (a loop body shown inside a bullet): dedent them first.
    return ast.parse(textwrap.dedent(block))


def _parameters(cls):
    """The names a skae class takes as parameters (estimators and helpers such as HammingIndex alike)."""
    return set(inspect.signature(cls).parameters) - {"self"}


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


def test_the_readme_and_the_user_guide_have_python_examples():
    names = [name for name, _ in EXAMPLES]
    assert sum(name.startswith("README") for name in names) >= 5
    assert sum(name.startswith("doc/user_guide/") for name in names) >= 20
    assert _rst_blocks(".. code-block:: python\n   :caption: x\n\n   a = 1\n     b\n\nafter\n") == ["a = 1\n  b"]


@pytest.mark.parametrize("block", [block for _, block in EXAMPLES], ids=[name for name, _ in EXAMPLES])
def test_example_parses_and_uses_real_parameters(block):
    tree = _parse(block)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "skae":
            try:
                module = importlib.import_module(node.module)
            except ImportError as exc:
                if exc.name and exc.name.split(".")[0] != "skae":
                    continue  # an optional extra (e.g. skl2onnx for skae.onnx) that is not installed here
                raise
            for alias in node.names:
                assert hasattr(module, alias.name), f"the example imports {node.module}.{alias.name}: no such name"
    for cls, keywords in _skae_calls(tree):
        unknown = set(keywords) - _parameters(cls)
        assert not unknown, f"the example passes {sorted(unknown)} to {cls.__name__}, which has no such parameter"
    for key in _grid_keys(tree):
        step, _, param = key.partition("__")
        # make_pipeline names each step after its class, lower-cased.
        cls = next((getattr(skae, name) for name in skae.__all__ if name.lower() == step), None)
        if cls is not None:
            # A nested key (an estimator's own estimator): its first part is checked here.
            own = param.split("__")[0]
            assert own in _parameters(cls), f"the example's grid key {key!r}: no parameter {own!r}"


def test_the_checks_catch_a_wrong_parameter():
    """The test above can fail: a renamed parameter in an example is found."""
    tree = _parse("from skae import DenoisingAutoencoder\nDenoisingAutoencoder(n_components=2, noise_levl=0.5)\n")
    (cls, keywords), = _skae_calls(tree)
    assert set(keywords) - _parameters(cls) == {"noise_levl"}
    tree = _parse('GridSearchCV(pipe, {"denoisingautoencoder__noise_levl": [0.1]})')
    assert list(_grid_keys(tree)) == ["denoisingautoencoder__noise_levl"]
