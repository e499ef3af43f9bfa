"""ONNX export (skae/onnx.py): onnxruntime computes what skae computes, alone and inside pipelines."""

import functools
import pathlib
import re
import sys
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from torch import nn

import skae
import skae.onnx
from skae import (
    VAE,
    Autoencoder,
    AutoencoderClassifier,
    AutoencoderOutlierDetector,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    HashingAutoencoder,
    LadderAutoencoder,
    SparseAutoencoder,
)
from skae.modules import ConvAutoencoderModule
from skae.onnx import to_onnx, to_onnx_decoder, to_onnx_sampler

TOL = 1e-5
SMALL = {"n_components": 4, "hidden_layer_sizes": (8,), "max_iter": 2, "random_state": 0}


class TinyNet(nn.Module):
    """A user network with torch's own layers (initialised from the global RNG)."""

    def __init__(self, n_features, n_components, width=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_components))
        self.dec = nn.Sequential(nn.Linear(n_components, width), nn.Tanh(), nn.Linear(width, n_features))

    def encode(self, x):
        return self.enc(x)

    def decode(self, z):
        return self.dec(z)


class BesselNet(TinyNet):
    """A user network with an operation no ONNX exporter knows."""

    def encode(self, x):
        return torch.special.bessel_j0(self.enc(x))


class BranchingNet(TinyNet):
    """A user network whose result depends on the batch size through Python control flow."""

    def encode(self, x):
        code = self.enc(x)
        return code * 2 if x.shape[0] == 3 else code


# Every estimator, and the features that change its inference path (code activations, top-k, the
# posterior mean, bits, batch-normalised ladder, user networks).
ESTIMATORS = {
    "Autoencoder": lambda: Autoencoder(**SMALL),
    "Autoencoder-sigmoid-code": lambda: Autoencoder(code_activation="sigmoid", activation="tanh", **SMALL),
    "Autoencoder-tied-bce": lambda: Autoencoder(tied_weights=True, loss="bce", **SMALL),
    "SparseAutoencoder-topk": lambda: SparseAutoencoder(sparsity="topk", k=2, **SMALL),
    "SparseAutoencoder-topk-transform-k": lambda: SparseAutoencoder(sparsity="topk", k=1, transform_k=3, **SMALL),
    "SparseAutoencoder-kl": lambda: SparseAutoencoder(sparsity="kl", **SMALL),
    "DenoisingAutoencoder": lambda: DenoisingAutoencoder(noise="masking", **SMALL),
    "ContractiveAutoencoder": lambda: ContractiveAutoencoder(**SMALL),
    "VAE": lambda: VAE(**SMALL),
    "VAE-full-bernoulli": lambda: VAE(posterior="full", likelihood="bernoulli", **SMALL),
    "LadderAutoencoder": lambda: LadderAutoencoder(**SMALL),
    "HashingAutoencoder": lambda: HashingAutoencoder(**SMALL),
    "NeighborEmbeddingAutoencoder": lambda: skae.NeighborEmbeddingAutoencoder(n_neighbors=5, **SMALL),
    "user-module": lambda: Autoencoder(
        n_components=4, module=TinyNet, code_activation="tanh", max_iter=2, random_state=0
    ),
    "ConvAutoencoderModule": lambda: DenoisingAutoencoder(
        n_components=4, module=ConvAutoencoderModule, module_params={"image_shape": (8, 8), "channels": (4,)},
        max_iter=2, random_state=0,
    ),
}
# Those that need X in [0, 1].
UNIT = {"Autoencoder-tied-bce", "VAE-full-bernoulli"}


def test_every_autoencoder_is_covered():
    """The converters are registered for every public autoencoder, and the tests cover each."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    public = set(skae.onnx._converters._transformers())
    assert public >= {Autoencoder, SparseAutoencoder, DenoisingAutoencoder, ContractiveAutoencoder, VAE,
                      LadderAutoencoder, HashingAutoencoder}
    assert public <= {type(make()) for make in ESTIMATORS.values()}
    assert set(sklearn_operator_name_map) >= public | {AutoencoderOutlierDetector, AutoencoderClassifier}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:120], y[:120]


def scale(name):
    return MinMaxScaler() if name in UNIT else StandardScaler()


def run(model, X, **kwargs):
    """Convert ``model`` with ``X[:1]`` and run onnxruntime on all of X: the list of outputs."""
    session = ort.InferenceSession(to_onnx(model, X[:1], **kwargs).SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: X})


def close(got, expected, tol=TOL):
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def fitted(digits):
    """Each estimator fitted once on scaled digits, with its scaler."""
    X, _ = digits
    out = {}
    for name, make in ESTIMATORS.items():
        scaler = scale(name).fit(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            out[name] = scaler, make().fit(scaler.transform(X))
    return out


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform(fitted, digits, name, dtype):
    scaler, est = fitted[name]
    X = scaler.transform(digits[0]).astype(dtype)
    (codes,) = run(est, X)
    assert codes.dtype == dtype
    close(codes, est.transform(X))
    # Any batch size, one row included.
    (one,) = ort.InferenceSession(to_onnx(est, X[:5]).SerializeToString()).run(None, {"X": X[7:8]})
    close(one, est.transform(X[7:8]))


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pipeline(fitted, digits, name, dtype):
    X, y = digits
    X = X.astype(dtype)
    scaler, est = fitted[name]
    head = LogisticRegression(max_iter=200).fit(est.transform(scaler.transform(X)), y)
    pipe = Pipeline([("scale", scaler), ("autoencoder", est), ("head", head)])  # fitted steps
    label, proba = run(pipe, X, options={"zipmap": False})
    np.testing.assert_array_equal(label, pipe.predict(X))
    close(proba, pipe.predict_proba(X))


@functools.cache
def fitted_detector(name, code_distance):
    """A fitted StandardScaler → detector pipeline, and its outputs on the training rows."""
    # More rows than the VAE scores in one chunk of draws (its chunks depend on the batch size).
    X = load_digits().data[:400]
    if name == "frozen":
        scaler = StandardScaler().fit(X)
        ae = FrozenEstimator(Autoencoder(**SMALL).fit(scaler.transform(X)))
    else:
        scaler, ae = scale(name), ESTIMATORS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(scaler, AutoencoderOutlierDetector(ae, code_distance=code_distance)).fit(X)
    det = pipe[-1]
    # The autoencoder's score is a float32 sum (over features; the VAE's ELBO over 50 draws too, the
    # ladder's over layers), added up in another order by onnxruntime: equal to 1e-5 of the largest
    # score, not of each. With code_distance the detector divides it by the median error, which can
    # be a hundred times smaller.
    error = det.autoencoder_.score_samples(pipe[0].transform(X))
    tol = TOL * max(1.0, float(np.abs(error).max()) / (det.score_scales_[0] if code_distance else 1.0))
    return pipe, (pipe.predict(X), pipe.decision_function(X), pipe.score_samples(X)), tol


# Every combination for the plain autoencoder; one or two each for the others (the full-covariance
# VAE takes the slow dynamo exporter).
DETECTOR_CASES = [
    *[("Autoencoder", cd, dtype) for cd in (True, False) for dtype in (np.float32, np.float64)],
    ("LadderAutoencoder", True, np.float32),
    ("LadderAutoencoder", False, np.float64),
    ("VAE", True, np.float64),
    ("VAE", False, np.float32),
    ("VAE-full-bernoulli", True, np.float32),
    ("user-module", True, np.float64),
    ("frozen", False, np.float32),
]


@pytest.mark.parametrize("name, code_distance, dtype", DETECTOR_CASES)
def test_outlier_detector(name, code_distance, dtype):
    X = load_digits().data[:400].astype(dtype)
    pipe, (predict, decision, score_samples), tol = fitted_detector(name, code_distance)
    label, scores, samples = run(pipe, X, options={id(pipe[-1]): {"score_samples": True}})
    assert scores.dtype == samples.dtype == dtype
    np.testing.assert_array_equal(label, predict)
    close(scores.ravel(), decision, tol)
    close(samples.ravel(), score_samples, tol)
    if name == "Autoencoder":  # without the option: label and decision_function only
        assert len(run(pipe, X[:3])) == 2


@functools.cache
def fitted_classifier(autoencoder):
    X, y = load_digits(return_X_y=True)
    clf = AutoencoderClassifier(ESTIMATORS[autoencoder](), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make_pipeline(StandardScaler(), clf).fit(X[:120], y[:120])


@pytest.mark.parametrize("autoencoder", ["Autoencoder", "LadderAutoencoder", "VAE", "HashingAutoencoder"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_classifier(digits, autoencoder, dtype):
    X = digits[0].astype(dtype)
    pipe = fitted_classifier(autoencoder)
    clf = pipe[-1]
    label, proba = run(pipe, X, options={id(clf): {"zipmap": False}})
    np.testing.assert_array_equal(label, pipe.predict(X))
    assert proba.dtype == np.float32  # as predict_proba's
    close(proba, pipe.predict_proba(X))
    # zipmap (skl2onnx's default for classifiers): one {class: probability} per row.
    label, dicts = run(pipe, X[:4])
    assert sorted(dicts[0]) == list(range(10))
    np.testing.assert_allclose([d[3] for d in dicts], proba[:4, 3], rtol=TOL, atol=TOL)


def test_classifier_string_labels_and_default_ladder(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = AutoencoderClassifier(max_iter=2, random_state=0).fit(X, names[y])
    label, proba = run(clf, X.astype(np.float32), options={"zipmap": False})
    np.testing.assert_array_equal(label, clf.predict(X))
    close(proba, clf.predict_proba(X))
    (index, _) = run(clf, X.astype(np.float32), options={"zipmap": False, "nocl": True})
    np.testing.assert_array_equal(clf.classes_[index], clf.predict(X))


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decoder(fitted, digits, name, dtype):
    scaler, est = fitted[name]
    Z = est.transform(scaler.transform(digits[0])).astype(dtype)
    session = ort.InferenceSession(to_onnx_decoder(est, dtype=dtype).SerializeToString())
    (X_out,) = session.run(None, {"Z": Z})
    assert X_out.dtype == dtype
    close(X_out, est.inverse_transform(Z))


def test_decoder_of_classifier_and_detector():
    """The classifier's decoder is its autoencoder's; the detector's, its fitted autoencoder's."""
    pipe = fitted_classifier("Autoencoder")
    clf = pipe[-1]
    Z = clf.transform(pipe[0].transform(load_digits().data[:50]))
    (X_out,) = ort.InferenceSession(to_onnx_decoder(clf).SerializeToString()).run(None, {"Z": Z})
    close(X_out, clf.inverse_transform(Z))
    pipe, _, _ = fitted_detector("Autoencoder", True)
    ae = pipe[-1].autoencoder_
    Z = ae.transform(pipe[0].transform(load_digits().data[:50])).astype(np.float64)
    (X_out,) = ort.InferenceSession(to_onnx_decoder(pipe[-1], dtype=np.float64).SerializeToString()).run(None, {"Z": Z})
    close(X_out, ae.inverse_transform(Z))


@pytest.mark.parametrize("name", ["VAE", "VAE-full-bernoulli"])
@pytest.mark.parametrize("kind", ["mean", "draw"])
def test_sampler(fitted, name, kind):
    _, vae = fitted[name]
    session = ort.InferenceSession(to_onnx_sampler(vae, kind=kind, seed=3).SerializeToString())
    Z, X_new = session.run(None, {"n_samples": np.array([2000])})
    assert Z.shape == (2000, 4) and X_new.shape == (2000, 64)
    assert abs(Z.mean()) < 0.1 and abs(Z.std() - 1) < 0.1  # z ~ N(0, I)
    mean = vae.inverse_transform(Z)
    if kind == "mean":
        close(X_new, mean)
    elif vae.likelihood == "bernoulli":
        assert set(np.unique(X_new)) <= {0.0, 1.0}
        assert abs(X_new.mean() - mean.mean()) < 0.02
    else:
        # The means plus noise of the learned per-feature standard deviation.
        residual_sd = (X_new - mean).std(axis=0)
        expected_sd = np.sqrt(np.exp(vae.module_.likelihood_logvar().detach().numpy()))
        np.testing.assert_allclose(residual_sd, expected_sd, rtol=0.1)
    # The seed makes a new session's draws reproducible.
    again = ort.InferenceSession(to_onnx_sampler(vae, kind=kind, seed=3).SerializeToString())
    np.testing.assert_array_equal(again.run(None, {"n_samples": np.array([2000])})[1], X_new)


# ------------------------------------------------------------------ what cannot be converted


@pytest.mark.parametrize("net", [BesselNet, BranchingNet])
def test_unexportable_user_module(digits, net):
    ae = Autoencoder(n_components=4, module=net, max_iter=1, random_state=0).fit(digits[0])
    with pytest.raises(RuntimeError, match=f"Cannot convert Autoencoder\\(module=.*{net.__name__}\\) to ONNX"):
        to_onnx(ae, digits[0][:1].astype(np.float32))


def test_unfitted_and_wrong_input():
    with pytest.raises(NotFittedError):
        to_onnx(Autoencoder(), np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(NotFittedError):
        to_onnx_decoder(VAE())
    with pytest.raises(TypeError, match="fitted VAE"):
        to_onnx_sampler(Autoencoder())
    with pytest.raises(TypeError, match="fitted skae autoencoder"):
        to_onnx_decoder(LogisticRegression())


def test_export_follows_the_parameters_as_transform_does(digits):
    # A top-k code's k set on a fitted model is the k of transform (test_sparse), so of its export;
    # a setting the network was built with, changed since, fails as transform fails.
    X = MinMaxScaler().fit_transform(digits[0]).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = SparseAutoencoder(sparsity="topk", k=1, **SMALL).fit(X)
    est.set_params(k=3)
    (codes,) = run(est, X)
    close(codes, est.transform(X))
    assert (codes != 0).sum(axis=1).max() == 3
    est.set_params(activation="tanh")
    with pytest.raises(ValueError, match="built with activation="):
        to_onnx(est, X[:1])


def test_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install "skae\[onnx\]"'):
        skae.onnx.register_converters()


def test_int_input_is_refused(fitted):
    _, ae = fitted["Autoencoder"]
    with pytest.raises(TypeError, match="float or double inputs"):
        to_onnx(ae, np.zeros((1, 64), dtype=np.int64))


def test_skae_imports_without_onnx():
    """Only skae.onnx imports skl2onnx, onnx or onnxruntime, and nothing imports skae.onnx: the rest of
    skae (and of its tests) works without the extra. (Read from the sources: a fresh interpreter to
    check sys.modules would cost the import of torch.)"""
    pattern = re.compile(r"^\s*(from|import)\s+(skl2onnx|onnx|onnxruntime|onnxscript)\b|skae\.onnx|from \. import onnx",
                         re.MULTILINE)
    package = pathlib.Path(skae.__file__).parent
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if p.parent.name != "onnx" and pattern.search(p.read_text())]
    assert not offenders
