"""Greedy layer-wise pretraining (skae/_pretraining.py and the ``pretraining`` parameter)."""

import copy
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import InvalidParameterError

import skae._autoencoder
from skae import Autoencoder, ContractiveAutoencoder, DenoisingAutoencoder, SparseAutoencoder
from skae._device import _bfloat16_supported
from skae._losses import mean_reconstruction_loss
from skae._pretraining import layer_pairs, pretrain_autoencoder
from skae.modules import ConvAutoencoderModule
from skae.nn.autoencoder import AutoencoderModule

# The fits are a few epochs long on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def X():
    return MinMaxScaler().fit_transform(load_digits().data[:400]).astype(np.float32)


def _module(X, hidden, loss, tied, seed=0, code_activation="identity"):
    out = "sigmoid" if loss == "bce" else "identity"
    module = AutoencoderModule(X.shape[1], 4, hidden, "relu", code_activation, out, tied_weights=tied)
    module.reset_parameters(torch.Generator().manual_seed(seed))
    Xt = torch.from_numpy(X)
    module.condition(Xt.mean(0), Xt.std(0) + 0.1)
    return module


def _stage_errors(module, X, loss):
    """Each pair's reconstruction error, written out by hand from the network's weights (the oracle)."""
    out = "sigmoid" if loss == "bce" else "identity"
    Xt = torch.from_numpy(X)
    enc = module.encoder.layers
    n = len(enc)
    tied = not hasattr(module.decoder, "layers")

    def dec(j):  # decoder layer j: (weight, bias)
        if tied:
            return enc[n - 1 - j].weight.t(), module.decoder.biases[j]
        return module.decoder.layers[j].weight, module.decoder.layers[j].bias

    errors = []
    with torch.no_grad():
        h = (Xt - module.conditioning.loc) / module.conditioning.scale
        for i in range(n):
            W, b = enc[i].weight, enc[i].bias
            code = h @ W.t() + b
            code = code if i == n - 1 else torch.relu(code)
            V, c = dec(n - 1 - i)
            rec = code @ V.t() + c
            if i == 0:
                if out == "identity":
                    rec = module.conditioning.loc + rec * module.conditioning.scale
                errors.append(float(mean_reconstruction_loss(rec, Xt, loss, out)))
            else:
                errors.append(float(F.mse_loss(torch.relu(rec), h)))
            h = code
    return errors


@pytest.mark.parametrize("loss, tied", [("mse", False), ("bce", True)])
def test_each_stage_lowers_its_own_reconstruction_error(X, loss, tied):
    module = _module(X, (32, 16), loss, tied)
    rows = torch.from_numpy(X)
    before = copy.deepcopy(module)
    out = "sigmoid" if loss == "bce" else "identity"
    curves = pretrain_autoencoder(
        module, lambda index: rows.index_select(0, index), len(X), torch.Generator().manual_seed(0),
        loss_fn=lambda pre, x: mean_reconstruction_loss(pre, x, loss, out),
        n_epochs=5, batch_size=32, learning_rate=1e-3,
    )
    after = _stage_errors(module, X, loss)
    assert len(curves) == len(after) == 3
    for i, curve in enumerate(curves):
        # Stage i starts from the pretrained layers below it and its own initial weights.
        start = copy.deepcopy(module)
        for pair_now, pair_then in zip(layer_pairs(start)[i].parameters, layer_pairs(before)[i].parameters):
            with torch.no_grad():
                pair_now.copy_(pair_then)
        initial = _stage_errors(start, X, loss)[i]
        assert curve[0] == pytest.approx(initial, rel=1e-4)
        assert len(curve) == 6
        assert after[i] < 0.9 * initial, (i, initial, after[i])


def test_pretraining_changes_only_the_network_and_is_recorded(X):
    ae = Autoencoder(4, hidden_layer_sizes=(32,), pretraining="autoencoder", pretraining_max_iter=3,
                     max_iter=2, random_state=0).fit(X)
    assert [len(c) for c in ae.pretraining_loss_curves_] == [4, 4]
    assert all(c[-1] < c[0] for c in ae.pretraining_loss_curves_)
    assert ae.n_iter_ == 2  # pretraining epochs are not fine-tuning epochs
    plain = Autoencoder(4, hidden_layer_sizes=(32,), max_iter=2, random_state=0).fit(X)
    assert plain.pretraining_loss_curves_ is None
    assert not np.allclose(plain.transform(X), ae.transform(X))


def test_pretraining_never_sees_the_rows_early_stopping_holds_out(X, monkeypatch):
    """With early_stopping, pretraining takes only the training rows: the validation score stays honest."""
    taken, held_out = [], {}
    real_pretrain = skae._autoencoder.pretrain_autoencoder
    real_train = Autoencoder._train

    def pretrain(module, take, n_samples, *args, **kwargs):
        def recording_take(index):
            rows = take(index)
            taken.append(rows.numpy().copy())
            return rows
        held_out["n_pretrain"] = n_samples
        return real_pretrain(module, recording_take, n_samples, *args, **kwargs)

    def train(self, state):
        held_out["val"], held_out["train"] = state.data.val_index.numpy(), state.data.train_index.numpy()
        return real_train(self, state)

    monkeypatch.setattr(skae._autoencoder, "pretrain_autoencoder", pretrain)
    monkeypatch.setattr(Autoencoder, "_train", train)
    ae = Autoencoder(4, hidden_layer_sizes=(16,), pretraining="autoencoder", pretraining_max_iter=2,
                     max_iter=2, early_stopping=True, validation_fraction=0.25, random_state=0).fit(X)
    assert ae.pretraining_loss_curves_ is not None and len(ae.validation_scores_) == 2
    n_val = round(0.25 * len(X))
    assert len(held_out["val"]) == n_val and held_out["n_pretrain"] == len(X) - n_val
    seen = {row.tobytes() for batch in taken for row in batch}
    assert seen == {X[i].tobytes() for i in held_out["train"]}  # every training row, and only those


def test_pretrained_network_starts_fine_tuning_ahead(X):
    # Same fine-tuning budget: the pretrained network reconstructs better after the first epochs.
    params = dict(n_components=4, hidden_layer_sizes=(32, 16), max_iter=3, random_state=0)
    random_init = Autoencoder(**params).fit(X)
    pretrained = Autoencoder(**params, pretraining="autoencoder", pretraining_max_iter=10).fit(X)
    assert pretrained.loss_curve_[0] < 0.8 * random_init.loss_curve_[0]
    assert pretrained.score(X) > random_init.score(X)


def test_determinism(X):
    params = dict(n_components=4, hidden_layer_sizes=(16,), max_iter=2, pretraining="autoencoder",
                  pretraining_max_iter=2)
    a = Autoencoder(**params, random_state=1).fit(X)
    b = Autoencoder(**params, random_state=1).fit(X)
    c = Autoencoder(**params, random_state=2).fit(X)
    assert a.pretraining_loss_curves_ == b.pretraining_loss_curves_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert not np.allclose(a.transform(X), c.transform(X))
    state = torch.random.get_rng_state()
    Autoencoder(**params, random_state=1).fit(X)
    assert torch.equal(state, torch.random.get_rng_state())  # no global RNG draws


def test_only_the_first_fit_pretrains(X, monkeypatch):
    calls = []
    real = skae._autoencoder.pretrain_autoencoder

    def counting(*args, **kwargs):
        calls.append(kwargs["n_epochs"])
        return real(*args, **kwargs)

    monkeypatch.setattr(skae._autoencoder, "pretrain_autoencoder", counting)
    ae = Autoencoder(4, hidden_layer_sizes=(16,), pretraining="autoencoder", pretraining_max_iter=2,
                     random_state=0)
    ae.partial_fit(X)
    curves = ae.pretraining_loss_curves_
    ae.partial_fit(X)
    assert len(calls) == 1 and ae.pretraining_loss_curves_ is curves
    ae.set_params(warm_start=True, max_iter=2).fit(X)
    assert len(calls) == 1 and ae.pretraining_loss_curves_ is curves
    ae.set_params(warm_start=False).fit(X)  # a fresh fit initialises, hence pretrains, again
    assert len(calls) == 2


def test_persistence(X, tmp_path):
    ae = Autoencoder(4, hidden_layer_sizes=(16,), pretraining="autoencoder", pretraining_max_iter=2,
                     max_iter=2, random_state=0).fit(X)
    loaded = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    assert loaded.pretraining_loss_curves_ == ae.pretraining_loss_curves_
    skops_io = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    skops_io.dump(ae, path)
    loaded = skops_io.load(path, trusted=skops_io.get_untrusted_types(file=path))
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    assert loaded.pretraining_loss_curves_ == ae.pretraining_loss_curves_


@pytest.mark.parametrize("cls", [DenoisingAutoencoder, ContractiveAutoencoder])
def test_subclasses_pretrain(X, cls):
    ae = cls(4, hidden_layer_sizes=(16,), pretraining="autoencoder", pretraining_max_iter=2, max_iter=1,
             random_state=0).fit(X)
    assert all(c[-1] < c[0] for c in ae.pretraining_loss_curves_)


@pytest.mark.parametrize("sparsity, extra", [("l1", {}), ("kl", {}), ("topk", {"k": 3})])
def test_sparse_autoencoder_pretrains(X, sparsity, extra):
    # The code pair is pretrained with the code's own activation (and the top-k mask); the penalty
    # comes with the fine-tuning. Each stage learns, the result is reproducible, and fine-tuning
    # starts ahead of a random initialisation.
    params = dict(sparsity=sparsity, hidden_layer_sizes=(16,), max_iter=1, random_state=0, **extra)
    ae = SparseAutoencoder(8, pretraining="autoencoder", pretraining_max_iter=3, **params).fit(X)
    assert len(ae.pretraining_loss_curves_) == 2
    assert all(c[-1] < c[0] for c in ae.pretraining_loss_curves_)
    again = SparseAutoencoder(8, pretraining="autoencoder", pretraining_max_iter=3, **params).fit(X)
    np.testing.assert_array_equal(again.transform(X), ae.transform(X))
    plain = SparseAutoencoder(8, **params).fit(X)
    assert plain.pretraining_loss_curves_ is None
    assert ae.loss_curve_[0] < plain.loss_curve_[0]
    if sparsity == "topk":
        assert int((ae.transform(X) != 0).sum(axis=1).max()) <= 3


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_shallow_network_and_bfloat16(X, precision):
    if precision == "bfloat16" and not _bfloat16_supported():
        pytest.skip("torch finds no bfloat16 support on this CPU (the error is tested in test_scale)")
    ae = Autoencoder(4, hidden_layer_sizes=(), pretraining="autoencoder", pretraining_max_iter=3, max_iter=1,
                     precision=precision, random_state=0).fit(X)
    (curve,) = ae.pretraining_loss_curves_
    assert curve[-1] < 0.9 * curve[0]  # bfloat16 autocast trains too (its weight cache is per step)


def test_refuses_a_user_module(X):
    ae = Autoencoder(4, module=ConvAutoencoderModule, pretraining="autoencoder")
    with pytest.raises(ValueError, match="cannot pretrain a network of your own"):
        ae.fit(X.reshape(-1, 64))


@pytest.mark.parametrize("params", [{"pretraining": "rbm"}, {"pretraining_max_iter": 0}])
def test_invalid_parameters(X, params):
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        Autoencoder(4, **params).fit(X)
