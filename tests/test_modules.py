"""Networks of one's own (``module=``, ``module_params=``) and the built-in ConvAutoencoderModule."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from _reliability import assert_identical, data, one_torch_thread, outputs, pickled_globals  # noqa: F401
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import estimator_checks_generator
from torch import nn

import skae
from skae._base import BaseAutoencoder
from skae.modules import ConvAutoencoderModule

# Every estimator that takes a network of one's own.
WITH_MODULE = [skae.Autoencoder, skae.DenoisingAutoencoder, skae.SparseAutoencoder]
SMALL = {"n_components": 2, "max_iter": 2, "random_state": 0}


class TwoLayerNet(nn.Module):
    """A user's network: torch's own layers (initialised from the global RNG) and dropout."""

    def __init__(self, n_features, n_components, width=8, p=0.0):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, width), nn.ReLU(), nn.Dropout(p), nn.Linear(width, n_components)
        )
        self.decoder = nn.Sequential(nn.Linear(n_components, width), nn.ReLU(), nn.Linear(width, n_features))

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)


class LinearNet(nn.Module):
    """``encode(x) = W x``, ``decode(z) = V z``: records what it is given, for the oracle tests."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.W = nn.Linear(n_features, n_components, bias=False)
        self.V = nn.Linear(n_components, n_features, bias=False)
        self.seen = None

    def reset_parameters(self, generator):
        with torch.no_grad():
            self.W.weight.normal_(0, 0.1, generator=generator)
            self.V.weight.normal_(0, 0.1, generator=generator)

    def encode(self, x):
        self.seen = x.detach().clone()
        return self.W(x)

    def decode(self, z):
        return self.V(z)


class ImageOut(LinearNet):
    """A common mistake: a decoder that returns images rather than rows."""

    def decode(self, z):
        return self.V(z).reshape(z.shape[0], 1, -1)


def row_conv(n_features, n_components, **params):
    """A factory function: any n_features as a 1-pixel-high image (used by check_estimator)."""
    return ConvAutoencoderModule(n_features, n_components, image_shape=(1, -1), **params)


def fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X)


@pytest.fixture(scope="module")
def X():
    return data(n_samples=40, n_features=16)[0]


# -------------------------------------------------------------------------------- ConvAutoencoderModule


@pytest.mark.parametrize(
    "image_shape, n_features, resolved",
    [
        (None, 784, (28, 28, 1)),
        ((28, 28), 784, (28, 28, 1)),
        ((28, -1), 784, (28, 28, 1)),
        ((7, 5), 35, (7, 5, 1)),
        ((6, 5, 3), 90, (6, 5, 3)),
        ((1, -1), 3, (1, 3, 1)),
    ],
)
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
@pytest.mark.parametrize("channels", [(4,), (4, 6, 8)])
def test_conv_module_shapes(image_shape, n_features, resolved, kernel_size, channels):
    net = ConvAutoencoderModule(n_features, 3, image_shape=image_shape, channels=channels, kernel_size=kernel_size)
    net.reset_parameters(torch.Generator().manual_seed(0))
    assert net.image_shape == resolved
    code, out = net(torch.zeros(5, n_features))
    assert code.shape == (5, 3) and out.shape == (5, n_features)
    height, width = resolved[:2]
    for _ in channels:  # every convolution halves the sides, rounding up
        height, width = -(-height // 2), -(-width // 2)
    assert net.feature_shape == (channels[-1], height, width)


def test_conv_module_reads_rows_in_numpy_order():
    # With 1x1 kernels of stride 2 the encoder sees only the pixels at even rows and even columns,
    # and the decoder writes only there: which columns of X those are is NumPy's reshape.
    height, width, n_channels = 6, 5, 3
    n_features = height * width * n_channels
    net = ConvAutoencoderModule(n_features, 2, image_shape=(height, width, n_channels), channels=(4,), kernel_size=1)
    net.reset_parameters(torch.Generator().manual_seed(0))
    used = np.zeros((height, width, n_channels), dtype=bool)
    used[::2, ::2, :] = True
    # A used pixel can have a zero gradient at one input (every ReLU on it off): OR over several inputs.
    inputs = torch.randn(8, n_features, generator=torch.Generator().manual_seed(0))
    jacobian = torch.autograd.functional.jacobian(net.encode, inputs)  # (8, K, 8, n_features)
    seen = torch.stack([jacobian[i, :, i] for i in range(8)]).ne(0).any(dim=(0, 1))
    assert np.array_equal(seen.numpy(), used.ravel())
    # The decoder: the used pixels vary with the code, the others are the output bias alone (OR over
    # several codes, seeded: two draws left a used pixel unchanged for 8 % of seeds, every ReLU off).
    with torch.no_grad():
        out = net.decode(torch.randn(8, 2, generator=torch.Generator().manual_seed(0)))
    assert np.array_equal((out != out[0]).any(dim=0).numpy(), used.ravel())


@pytest.mark.parametrize(
    "params, match",
    [
        ({"image_shape": (7, 7)}, r"image_shape=\(7, 7\) holds 49 values, but the rows have n_features=64"),
        ({"image_shape": (5, -1)}, r"does not divide n_features=64"),
        ({"image_shape": (-1, -1)}, r"-1 at most once"),
        ({"image_shape": (8,)}, r"\(height, width\) or \(height, width, channels\)"),
        ({"image_shape": (8, 0)}, r"positive integers"),
        ({"channels": ()}, r"channels must be a non-empty sequence"),
        ({"kernel_size": 0}, r"kernel_size must be an odd positive integer"),
        ({"kernel_size": 4}, r"kernel_size must be an odd positive integer"),
        ({"activation": "swish"}, r"activation must be one of"),
    ],
)
def test_conv_module_errors_at_fit(params, match):
    X = np.random.RandomState(0).rand(10, 64)
    est = skae.Autoencoder(module=ConvAutoencoderModule, module_params=params, **SMALL)
    with pytest.raises(ValueError, match=match):
        est.fit(X)


def test_conv_module_square_default_needs_a_square():
    with pytest.raises(ValueError, match="n_features=10 is not a square number"):
        fit(skae.Autoencoder(module=ConvAutoencoderModule, **SMALL), np.ones((5, 10)))


def test_conv_module_is_initialised_from_the_generator():
    a, b, c = (ConvAutoencoderModule(64, 4, channels=(4, 8)) for _ in range(3))
    a.reset_parameters(torch.Generator().manual_seed(0))
    b.reset_parameters(torch.Generator().manual_seed(0))
    c.reset_parameters(torch.Generator().manual_seed(1))
    for (name, p), q, r in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(p, q), name
        if name.endswith("weight"):
            assert not torch.equal(p, r), name
        else:
            assert not p.any(), name  # biases start at zero


# -------------------------------------------------------------------------------- estimators with a module


@pytest.mark.parametrize("cls", WITH_MODULE, ids=lambda c: c.__name__)
@pytest.mark.parametrize("module", [TwoLayerNet, ConvAutoencoderModule, row_conv], ids=lambda m: m.__name__)
def test_fit_transform_and_pickle_round_trip(cls, module, X):
    params = {"channels": (3,)} if module is not TwoLayerNet else {"p": 0.2}
    est = fit(cls(module=module, module_params=params, **SMALL), X)
    assert isinstance(est.module_.net, nn.Module)
    out = outputs(est, X)
    assert out["transform"].shape == (40, 2) and out["inverse_transform"].shape == (40, 16)
    assert out["jacobian"].shape == (5, 2, 16)
    assert np.allclose(est.score_samples(X), -((out["inverse_transform"] - X) ** 2).mean(axis=1), atol=1e-5)
    loaded = pickle.loads(pickle.dumps(est))
    assert_identical(outputs(loaded, X), out)
    # The copy keeps training exactly as the original does (dropout's stream included).
    for model in (est, loaded):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(X)
    assert_identical(outputs(loaded, X), outputs(est, X))


def test_pickle_names_the_factory_not_torch(X):
    est = fit(skae.Autoencoder(module=ConvAutoencoderModule, module_params={"channels": (3,)}, **SMALL), X)
    # The network is its state_dict, as numpy arrays, and the factory a reference to its class.
    modules = pickled_globals(pickle.dumps(est))
    assert "skae.modules" in modules
    assert not any(m.split(".")[0] == "torch" for m in modules), modules


def test_skops_round_trip(X, tmp_path):
    sio = pytest.importorskip("skops.io")
    est = fit(skae.DenoisingAutoencoder(module=ConvAutoencoderModule, module_params={"channels": (3,)}, **SMALL), X)
    path = tmp_path / "conv.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert sorted(untrusted) == ["skae._denoising.DenoisingAutoencoder", "skae.modules.ConvAutoencoderModule"]
    assert_identical(outputs(sio.load(path, trusted=untrusted), X), outputs(est, X))


def test_clone_and_set_params(X):
    params = {"width": 4}
    est = skae.Autoencoder(module=TwoLayerNet, module_params=params, **SMALL)
    copy = clone(est)
    assert copy.module is TwoLayerNet and copy.module_params == params and copy.module_params is not params
    # module__<name> sets one keyword argument of the network (skorch's convention)...
    copy.set_params(module__p=0.5, max_iter=3)
    assert copy.module_params == {"width": 4, "p": 0.5} and copy.max_iter == 3
    assert params == {"width": 4}  # ...without touching the dict the user passed
    assert skae.Autoencoder().set_params(module__width=2).module_params == {"width": 2}
    fit(copy, X)
    assert copy.module_.net.encoder[0].out_features == 4


def test_settings_a_users_network_ignores_are_free_to_change(X):
    # A network of one's own takes its own layers: hidden_layer_sizes, tied_weights and activation
    # do not build it, so changing them on the fitted estimator is no error; the code's settings and
    # the network's own keyword arguments are.
    est = fit(skae.Autoencoder(module=TwoLayerNet, module_params={"width": 4}, **SMALL), X)
    codes = est.transform(X)
    est.set_params(activation="tanh", hidden_layer_sizes=(3, 3), tied_weights=True)
    np.testing.assert_array_equal(est.transform(X), codes)
    for change in ({"code_activation": "tanh"}, {"module__width": 5}):
        with pytest.raises(ValueError, match="network was built with"):
            est.set_params(**change).transform(X)
        est.set_params(code_activation="identity", module_params={"width": 4})


@pytest.mark.parametrize(
    "grid",
    [{"module__width": [2, 6]}, {"module_params": [{"width": 2}, {"width": 6}]}],
    ids=["module__width", "module_params"],
)
def test_grid_search_over_the_network(grid, X):
    search = fit(GridSearchCV(skae.Autoencoder(module=TwoLayerNet, **SMALL), grid, cv=2), X)
    assert len(search.cv_results_["params"]) == 2
    best = search.best_params_
    width = best["module__width"] if "module__width" in best else best["module_params"]["width"]
    # The refitted best model has the network the best parameters describe.
    assert search.best_estimator_.module_.net.encoder[0].out_features == width


def test_classifier_uses_the_autoencoders_module(X):
    _, y = data(n_samples=40, n_features=16)
    ae = skae.Autoencoder(module=ConvAutoencoderModule, module_params={"image_shape": (4, 4), "channels": (3,)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = skae.AutoencoderClassifier(ae, max_iter=2, random_state=0).fit(X, y)
    assert isinstance(clf.module_.autoencoder.net, ConvAutoencoderModule)
    assert clf.predict(X).shape == (40,) and clf.transform(X).shape == (40, ae.n_components)


# -------------------------------------------------------------------------------- randomness


@pytest.mark.parametrize("module", [TwoLayerNet, ConvAutoencoderModule], ids=lambda m: m.__name__)
def test_random_state_alone_decides(module, X):
    params = {"p": 0.3} if module is TwoLayerNet else {"channels": (3,)}

    def run(seed, global_seed):
        torch.manual_seed(global_seed)
        np.random.seed(global_seed)
        before_torch, before_numpy = torch.get_rng_state(), np.random.get_state()[1].copy()
        est = fit(skae.DenoisingAutoencoder(module=module, module_params=params, **{**SMALL, "random_state": seed}), X)
        # Building, initialising and training (dropout included) leave the global RNGs alone.
        assert torch.equal(torch.get_rng_state(), before_torch)
        assert np.array_equal(np.random.get_state()[1], before_numpy)
        return est.transform(X)

    a = run(0, global_seed=1)
    assert np.array_equal(a, run(0, global_seed=2))
    assert not np.array_equal(a, run(1, global_seed=1))


def test_network_without_reset_parameters_is_seeded_from_random_state(X):
    # TwoLayerNet has no reset_parameters: torch's layers initialise themselves from the global
    # RNG, which skae seeds from random_state for a fresh build whose weights it takes.
    a = skae.Autoencoder(module=TwoLayerNet, **SMALL)._build_module(16)
    b = skae.Autoencoder(module=TwoLayerNet, **SMALL)._build_module(16)
    a.reset_parameters(torch.Generator().manual_seed(0))
    b.reset_parameters(torch.Generator().manual_seed(0))
    weights = [torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())]
    assert all(weights)
    b.reset_parameters(torch.Generator().manual_seed(1))
    assert not any(torch.equal(p, q) for p, q in zip(a.net.parameters(), b.net.parameters()) if p.ndim == 2)


# -------------------------------------------------------------------------------- conditioning and hooks


def test_network_computes_in_standardised_units(X):
    # The network sees standardised inputs whatever the data's units, and the estimator's outputs are
    # in the user's units: refitting on 100 * X + 7 gives the same codes, and reconstructions and
    # scores in the new units.
    a = fit(skae.Autoencoder(module=LinearNet, max_iter=5, n_components=3, random_state=0), X)
    b = fit(skae.Autoencoder(module=LinearNet, max_iter=5, n_components=3, random_state=0), 100 * X + 7)
    Z = a.transform(X)
    assert np.allclose(Z, b.transform(100 * X + 7), atol=1e-3)
    assert np.allclose(100 * a.inverse_transform(Z) + 7, b.inverse_transform(Z), rtol=1e-4, atol=1e-2)
    assert np.allclose(1e4 * a.score_samples(X), b.score_samples(100 * X + 7), rtol=1e-3)
    b.transform(100 * X[:3] + 7)
    seen = b.module_.net.seen.numpy()
    mean, std = X.mean(axis=0), X.std(axis=0)
    informative = std > 0.1
    assert np.allclose(seen[:, informative], ((X[:3] - mean) / std)[:, informative], atol=1e-4)


def test_sparse_hooks_apply_to_the_code(X):
    topk = fit(skae.SparseAutoencoder(6, sparsity="topk", k=2, module=TwoLayerNet, max_iter=2, random_state=0), X)
    assert ((topk.transform(X) != 0).sum(axis=1) <= 2).all()
    kl = fit(skae.SparseAutoencoder(6, sparsity="kl", module=TwoLayerNet, max_iter=2, random_state=0), X)
    codes = kl.transform(X)
    assert ((codes > 0) & (codes < 1)).all()


def test_bce_gets_a_sigmoid_output(X):
    est = fit(skae.Autoencoder(loss="bce", module=TwoLayerNet, **SMALL), X)
    X_back = est.inverse_transform(est.transform(X))
    assert ((X_back > 0) & (X_back < 1)).all()


# -------------------------------------------------------------------------------- errors


def test_errors(X):
    with pytest.raises(ValueError, match=r"module_params=\{'width': 2\} is given but module=None"):
        skae.Autoencoder(module_params={"width": 2}, **SMALL).fit(X)
    with pytest.raises(TypeError, match=r"not a network: pass module=TwoLayerNet"):
        skae.Autoencoder(module=TwoLayerNet(16, 2), **SMALL).fit(X)
    with pytest.raises(TypeError, match=r"module=TwoLayerNet could not build the network as module\(n_features=16"):
        skae.Autoencoder(module=TwoLayerNet, module_params={"depth": 3}, **SMALL).fit(X)
    with pytest.raises(TypeError, match=r"encode\(x\) and decode\(code\) methods; it built a Linear without encode"):
        skae.Autoencoder(module=nn.Linear, **SMALL).fit(X)
    with pytest.raises(ValueError, match=r"module.decode must return a tensor of shape \(n_samples, n_features=16\)"):
        skae.Autoencoder(module=ImageOut, **SMALL).fit(X)
    with pytest.raises(ValueError, match="module"):  # the parameter's own constraint
        skae.Autoencoder(module="conv", **SMALL).fit(X)


@pytest.mark.parametrize("estimator", ["exact", "stochastic"])
def test_contractive_penalty_works_with_a_user_module(X, estimator):
    """Both penalties need only the network's encode: by K vector-Jacobian products (exact) or by random
    projections, with respect to the standardised input; the exact one matches the public Jacobian."""
    est = skae.ContractiveAutoencoder(
        module=ConvAutoencoderModule, module_params={"image_shape": (4, 4)}, contraction_estimator=estimator,
        contraction_weight=0.1, **SMALL,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
    assert np.isfinite(est.loss_curve_).all()
    module = est.module_.eval()
    xb = torch.from_numpy(np.ascontiguousarray(X[:8], dtype=np.float32))
    _, _, penalty = est._penalised_pass(module, xb, torch.Generator().manual_seed(0))
    if estimator == "exact":
        J = est.jacobian(X[:8]).astype(np.float64) * module.conditioning.scale.numpy()
        np.testing.assert_allclose(penalty.detach().numpy(), (J**2).sum(axis=(1, 2)), rtol=1e-4)


def test_vae_has_no_module_parameter():
    # The VAE's network needs a posterior mean and log-variance and a likelihood (see the user guide).
    assert "module" not in skae.VAE().get_params()


# -------------------------------------------------------------------------------- scikit-learn's checks


def _case_id(obj):
    # parametrize_with_checks names a case by the estimator's repr, which holds the address of the
    # function passed as module= (row_conv) and so differs between processes: pytest-xdist's workers
    # must collect the same ids. Name the estimator by its class and its module's __name__ instead.
    if isinstance(obj, BaseAutoencoder):
        return f"{type(obj).__name__}(module={obj.module.__name__})"
    return getattr(obj, "func", obj).__name__  # a check: functools.partial(check_..., name)


# 5 epochs, as in test_common.py: the checks fit hundreds of times and none is meant to converge.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator, check",
    [
        case
        for estimator in (
            skae.DenoisingAutoencoder(
                module=row_conv, module_params={"channels": (4,)}, max_iter=5, random_state=0, noise="masking"
            ),
            skae.Autoencoder(module=TwoLayerNet, max_iter=5, random_state=0),
        )
        for case in estimator_checks_generator(estimator, mark="xfail")
    ],
    ids=_case_id,
)
def test_sklearn_compatible_with_a_module(estimator, check):
    check(estimator)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_mlp_trace_is_the_forward_pass(dropout):
    # The contractive penalty reads the encoder's pre-activations and dropout masks from trace():
    # its output must be the forward pass itself, mask for mask (the same generator draws).
    from skae.nn.layers import ACTIVATIONS, MLP

    mlp = MLP([6, 5, 4, 3], activation="tanh", last_activation="sigmoid", dropout=dropout)
    mlp.reset_parameters(torch.Generator().manual_seed(0))
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(1))
    mlp.generator = torch.Generator().manual_seed(2)
    expected = mlp(x)
    mlp.generator = torch.Generator().manual_seed(2)
    output, pre, masks = mlp.trace(x)
    torch.testing.assert_close(output, expected, rtol=0, atol=0)
    assert len(pre) == len(masks) == 3 and masks[-1] is None
    assert (masks[0] is None) == (dropout == 0)
    # Each pre-activation is the layer applied to the previous (masked) activation.
    h = ACTIVATIONS["tanh"](pre[0]) * (1 if masks[0] is None else masks[0])
    torch.testing.assert_close(pre[1], mlp.layers[1](h))
    torch.testing.assert_close(output, torch.sigmoid(pre[-1]))


class ListNet(nn.Module):
    """Weights in a parameter list, named "0" and "1" rather than "weight"."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.matrices = nn.ParameterList([nn.Parameter(torch.randn(n_components, n_features) * 0.1),
                                          nn.Parameter(torch.randn(n_features, n_components) * 0.1)])
        self.shift = nn.Parameter(torch.zeros(n_features))

    def encode(self, x):
        return x @ self.matrices[0].T

    def decode(self, z):
        return z @ self.matrices[1].T + self.shift


class DeclaredListNet(ListNet):
    """The same network, listing its weight matrices for ``alpha``."""

    def decayed_parameters(self):
        return list(self.matrices)


@pytest.mark.parametrize("declare", [True, False])
def test_alpha_decays_what_a_users_network_declares(X, declare):
    # alpha reaches weights that are not named "weight" once the network lists them; undeclared, they
    # are left alone (only names ending in "weight" are decayed by default).
    def norms(alpha):
        est = skae.Autoencoder(module=DeclaredListNet if declare else ListNet, alpha=alpha,
                               learning_rate_init=0.05, **{**SMALL, "max_iter": 10})
        net = fit(est, X).module_.net
        return [float(p.detach().norm()) for p in net.matrices], float(net.shift.detach().norm())

    (plain, plain_shift), (decayed, decayed_shift) = norms(0.0), norms(30.0)
    if declare:
        assert all(d < 0.5 * p for d, p in zip(decayed, plain))
    else:
        assert decayed == plain and decayed_shift == plain_shift
