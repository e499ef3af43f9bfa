"""The engine's Objective: how one estimator uses another's objective without its private hooks."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import skae
from skae import Autoencoder, DenoisingAutoencoder
from skae._objective import Objective
from skae._training import Batch

SKAE = Path(skae.__file__).resolve().parent

# The engine calls an estimator's hooks; these modules are the engine (and its one public-to-skae view
# of an objective). Class attributes (a parent's _parameter_constraints) are not calls into another
# estimator and are allowed everywhere.
ENGINE = {"_base.py", "_training.py", "_objective.py"}


def _foreign_private_accesses(path):
    """``lineno: expression`` of each private attribute read on anything but self, a class or torch."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and (owner.id in {"self", "cls"} or owner.id.lstrip("_")[:1].isupper()):
            continue
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
            continue
        if ast.unparse(owner).startswith("torch."):
            continue
        found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    "path", sorted(p for p in SKAE.glob("_*.py") if p.name not in ENGINE), ids=lambda p: p.name
)
def test_no_estimator_calls_a_private_hook_of_another(path):
    assert _foreign_private_accesses(path) == []


def test_the_scan_sees_a_private_hook_called_on_another_estimator(tmp_path):
    source = tmp_path / "_bad.py"
    source.write_text("def f(self):\n    return self.autoencoder_._loss(None, None)\n")
    assert _foreign_private_accesses(source) == ["2: self.autoencoder_._loss"]


def test_of_clones_and_validates():
    ae = Autoencoder(n_components=3)
    objective = Objective.of(ae)
    assert objective.autoencoder is not ae
    assert objective.autoencoder.get_params() == ae.get_params()
    with pytest.raises(ValueError, match="n_components"):
        Objective.of(Autoencoder(n_components=0))


def test_loss_is_the_autoencoders_unit_free_objective():
    rng = np.random.RandomState(0)
    X = (10 * rng.rand(50, 6)).astype(np.float32)
    var = X.astype(np.float64).var(axis=0)
    objective = Objective.of(DenoisingAutoencoder(n_components=2, noise_level=0.0))
    objective.check(X)
    objective.initialize(X)
    objective.set_unit(var)
    module = objective.build_module(6)
    module.reset_parameters(torch.Generator().manual_seed(0))
    xb = torch.from_numpy(X)
    loss = objective.loss(module, Batch(xb, torch.Generator().manual_seed(0)))
    _, pre = module(xb)
    expected = ((module.decode_preactivation(module.encode(xb)) - xb) ** 2).mean() / var.mean()
    assert torch.allclose(pre, module.decode_preactivation(module.encode(xb)))
    assert loss.value.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss.code.shape == (50, 2)
    # The per-sample score is minus each row's mean squared error, in the user's units.
    scores = objective.score_samples(module.eval(), xb)
    assert scores.shape == (50,)
    assert scores.mean().item() == pytest.approx(-expected.item() * var.mean(), rel=1e-5)


def test_no_module_of_skae_exceeds_600_lines():
    """A file a newcomer reads in one sitting (the engine issue's bound)."""
    long = {str(p.relative_to(SKAE)): n for p in SKAE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}
