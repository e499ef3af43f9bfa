"""Persistence of every public estimator: pickle, joblib, skops, other devices, other skae versions."""

import copy
import gzip
import io
import json
import pickle
import pickletools
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from _reliability import (  # noqa: F401
    ENGINE_ESTIMATORS,
    ENGINE_IDS,
    ESTIMATORS,
    IDS,
    Canary,
    assert_identical,
    data,
    fit,
    make,
    one_torch_thread,
    outputs,
    pickled_globals,
    reseal,
    trained,
)

import skae
from skae._integrity import state_digest


def _skops():
    """skops.io, or a skip of the one test that needs it (an optional dependency): the pickle and
    joblib tests run without it."""
    return pytest.importorskip("skops.io")


@pytest.fixture(scope="module")
def fitted():
    """One fitted instance per estimator, with its data (fitted once: several tests read it)."""
    X, y = data()
    return {cls: (fit(make(cls), X, y), X, y) for cls in ESTIMATORS}


def _roundtrip_pickle(est):
    return pickle.loads(pickle.dumps(est))


def _roundtrip_joblib(est, path):
    joblib.dump(est, path)
    return joblib.load(path)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_roundtrip_is_bit_identical(cls, how, fitted, tmp_path):
    est, X, y = fitted[cls]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same version, same device: no warning at all
        loaded = _roundtrip_pickle(est) if how == "pickle" else _roundtrip_joblib(est, tmp_path / "m.joblib")
    assert type(loaded) is cls and loaded.get_params().keys() == est.get_params().keys()
    assert trained(loaded).n_iter_ == trained(est).n_iter_ and trained(loaded).loss_curve_ == trained(est).loss_curve_
    assert_identical(outputs(loaded, X, y), outputs(est, X, y))


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
def test_training_resumes_identically_after_a_roundtrip(cls, fitted):
    # The optimizer's moments and the generator's state travel with the model: partial_fit on the
    # copy and on the original give the same weights.
    est, X, y = fitted[cls]
    a, b = _roundtrip_pickle(est), _roundtrip_pickle(est)
    fit(a, X, y, method="partial_fit")
    fit(_roundtrip_pickle(b), X, y, method="partial_fit")
    fresh = _roundtrip_pickle(est)
    assert_identical(outputs(fresh, X, y), outputs(est, X, y))  # the original is untouched
    b = _roundtrip_pickle(b)
    fit(b, X, y, method="partial_fit")
    assert_identical(outputs(a, X, y), outputs(b, X, y))


@pytest.mark.parametrize("cls", [skae.Autoencoder, skae.AutoencoderClassifier], ids=["Autoencoder", "Classifier"])
@pytest.mark.parametrize("alphas", [(1e-3, 0.0), (0.0, 1e-3), (1e-3, 1e-2)], ids=["to-0", "from-0", "other"])
def test_alpha_changed_after_a_roundtrip_trains_as_in_memory(cls, alphas):
    # alpha=0 and alpha>0 group the optimizer's parameters differently. A model saved with one and
    # set to the other before its next partial_fit must carry its Adam moments over to the new
    # groups as it does in memory, not fail to load them (it raised "different number of groups").
    # (copy.deepcopy goes through the same __getstate__: the in-memory model is the original.)
    X, y = data()
    est = fit(make(cls, alpha=alphas[0]), X, y, method="partial_fit")
    saved = pickle.dumps(est)
    in_memory = fit(est.set_params(alpha=alphas[1]), X, y, method="partial_fit")
    loaded = fit(pickle.loads(saved).set_params(alpha=alphas[1]), X, y, method="partial_fit")
    assert_identical(outputs(loaded, X, y), outputs(in_memory, X, y))  # moments and new alpha alike
    kept = fit(pickle.loads(saved), X, y, method="partial_fit")
    assert not np.array_equal(kept.transform(X), loaded.transform(X))  # the new alpha took effect


def test_a_pickle_without_parameter_names_still_resumes_or_restarts_its_optimizer():
    # Pickles of an older skae hold the optimizer's state without the parameters' names. With the
    # groups it was saved with, training resumes from it bit for bit as before; with other groups
    # (alpha went from non-zero to 0), torch refused to load it ("different number of parameter
    # groups"): training now goes on with a new optimizer, and says so.
    X, y = data()
    est = fit(make(skae.Autoencoder, alpha=1e-3), X, method="partial_fit")

    def older(model):
        state = model.__getstate__()
        del state["_optimizer_names"]
        loaded = skae.Autoencoder.__new__(skae.Autoencoder)
        loaded.__setstate__(reseal(state))
        return loaded

    assert_identical(outputs(fit(older(est), X, method="partial_fit"), X),
                     outputs(fit(_roundtrip_pickle(est), X, method="partial_fit"), X))
    restarted = older(est).set_params(alpha=0.0)
    with pytest.warns(UserWarning, match="training goes on with a new optimizer"):
        restarted.partial_fit(X)
    assert restarted.n_iter_ == est.n_iter_ + 1


@pytest.mark.parametrize("cls", [skae.Autoencoder, skae.AutoencoderClassifier], ids=["Autoencoder", "Classifier"])
def test_a_fit_after_a_roundtrip_starts_a_new_optimizer(cls):
    # An unpickled model holds its optimizer's state for a later partial_fit; a fit (cold, or warm
    # with warm_start) starts a new optimizer, as it does in memory. With another network the old
    # state's moments did not even fit its shapes.
    X, y = data()
    est = fit(make(cls), X, y)
    assert_identical(outputs(fit(_roundtrip_pickle(est), X, y), X), outputs(fit(make(cls), X, y), X))
    wide = {"hidden_layer_sizes": (9,)} if cls is skae.Autoencoder else {"classifier_hidden_layer_sizes": (9,)}
    again = fit(_roundtrip_pickle(est).set_params(**wide), X, y)
    assert_identical(outputs(again, X), outputs(fit(make(cls, **wide), X, y), X))
    in_memory = fit(copy.deepcopy(est).set_params(warm_start=True), X, y)
    assert_identical(outputs(fit(_roundtrip_pickle(est).set_params(warm_start=True), X, y), X), outputs(in_memory, X))


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_unfitted_roundtrip(cls):
    est = make(cls)
    loaded = _roundtrip_pickle(est)
    assert not hasattr(loaded, "module_")
    assert repr(loaded) == repr(est)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_pickle_holds_no_torch_storage(cls, fitted):
    # What makes a model fitted on a GPU load on a CPU-only machine: the payload holds numpy arrays
    # only, no torch storage that would need the device it was saved from.
    est, _, _ = fitted[cls]
    modules = pickled_globals(pickle.dumps(est))
    assert not any(m.split(".")[0] == "torch" for m in modules), modules
    assert not any(m.startswith("skae.nn") for m in modules)  # the network is rebuilt, not unpickled


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
def test_model_fitted_on_cuda_loads_on_cpu(cls, fitted):
    est, X, y = fitted[cls]
    # The state of a model fitted with device="cuda": __getstate__ brings everything to the CPU, and
    # the device is recorded only in the parameter. There is no GPU here, so loading must fall back.
    state = est.__getstate__()
    state["device"] = "cuda"
    reseal(state)
    payload = pickle.dumps(state)
    loaded = cls.__new__(cls)
    if torch.cuda.is_available():
        loaded.__setstate__(pickle.loads(payload))
        assert next(loaded.module_.parameters()).device.type == "cuda"
        return
    with pytest.warns(UserWarning, match=r"device='cuda'.*loaded on the CPU"):
        loaded.__setstate__(pickle.loads(payload))
    assert loaded.device == "cuda"
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    assert_identical(outputs(loaded, X, y), outputs(est, X, y))
    # Refitting on this machine needs a device that exists, and says so.
    with pytest.raises(ValueError, match="CUDA is not available"):
        fit(loaded, X, y)
    fit(loaded.set_params(device="cpu"), X, y)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_skops_roundtrip(cls, fitted, tmp_path):
    skops_io = _skops()
    est, X, y = fitted[cls]
    path = tmp_path / "model.skops"
    skops_io.dump(est, path)
    untrusted = skops_io.get_untrusted_types(file=path)
    # Only skae's own estimator classes need trusting: the network is stored as numpy arrays.
    assert untrusted, "skops trusts skae classes by default?"
    assert all(name.startswith("skae.") for name in untrusted), untrusted
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.load(path)
    loaded = skops_io.load(path, trusted=untrusted)
    assert type(loaded) is cls
    assert_identical(outputs(loaded, X, y), outputs(est, X, y))


def test_skops_untrusted_types_are_just_the_estimator(fitted):
    skops_io = _skops()
    est, _, _ = fitted[skae.Autoencoder]
    assert skops_io.get_untrusted_types(data=skops_io.dumps(est)) == ["skae._autoencoder.Autoencoder"]


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
def test_pickle_from_another_version_loads_with_a_warning(cls, fitted):
    est, X, y = fitted[cls]
    state = est.__getstate__()
    state["_skae_version"] = "0.0.1"
    loaded = cls.__new__(cls)
    with pytest.warns(UserWarning, match=rf"skae 0\.0\.1 into skae {skae.__version__}"):
        loaded.__setstate__(pickle.loads(pickle.dumps(state)))
    assert_identical(outputs(loaded, X, y), outputs(est, X, y))


@pytest.mark.parametrize("cls", ENGINE_ESTIMATORS, ids=ENGINE_IDS)
def test_incompatible_pickle_names_both_versions(cls, fitted):
    est, _, _ = fitted[cls]
    state = est.__getstate__()
    state["_skae_version"] = "9.9.9"
    # A network whose layout changed between versions: one tensor more than this version builds.
    state["_module_state"] = {**state["_module_state"], "extra.weight": np.zeros(3, np.float32)}
    reseal(state)
    loaded = cls.__new__(cls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the version-mismatch warning comes first
        with pytest.raises(ValueError, match=rf"skae 9\.9\.9.*skae {skae.__version__}"):
            loaded.__setstate__(state)


def test_pickle_of_the_older_format_still_loads(fitted):
    # States written before the network was stored as arrays held the nn.Module itself.
    est, X, y = fitted[skae.Autoencoder]
    state = dict(est.__dict__)
    state["_skae_version"] = skae.__version__
    loaded = skae.Autoencoder.__new__(skae.Autoencoder)
    loaded.__setstate__(pickle.loads(pickle.dumps(state)))
    assert_identical(outputs(loaded, X, y), outputs(est, X, y))


def _saved_before_the_engine_refactor():
    with gzip.open(Path(__file__).parent / "data" / "saved_278fbaa.pkl.gz") as f:
        return pickle.load(f)


_SAVED = _saved_before_the_engine_refactor()


@pytest.mark.parametrize("name", sorted(_SAVED["models"]))
def test_models_saved_before_the_engine_refactor_load_unchanged(name):
    # Pickled by skae at 278fbaa (tests/data/make_saved_278fbaa.py), before the networks moved to
    # skae/nn/: the state_dict keys, and so every saved model, must survive such moves. Same bits out.
    saved = _SAVED["models"][name]
    X, y = _SAVED["X"], _SAVED["y"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no version warning: the same skae version wrote it
        est = pickle.loads(saved["pickle"])
    module = est.module_ if hasattr(est, "module_") else est.autoencoder_.module_
    assert list(module.state_dict()) == saved["keys"]
    for method in ("transform", "score_samples", "predict_proba"):
        if method in saved:
            np.testing.assert_array_equal(getattr(est, method)(X), saved[method], err_msg=method)
    # Still a model: training goes on from there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(est, skae.AutoencoderClassifier):
            est.partial_fit(X, y)
        elif isinstance(est, skae.AutoencoderOutlierDetector):
            est.fit(X)
        else:
            est.partial_fit(X)


# The VAE's options change its network (a head for the posterior's correlations, one for the
# decoder's variance): each layout must round-trip too.
_VAE_OPTIONS = [
    {"posterior": "full"},
    {"likelihood_variance": "code"},
    {"posterior": "full", "likelihood_variance": "code", "tied_weights": True},
]


@pytest.mark.parametrize("options", _VAE_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_vae_options_roundtrip(options, tmp_path):
    skops_io = _skops()
    X, _ = data()
    est = fit(make(skae.VAE, **options), X)
    path = tmp_path / "model.skops"
    skops_io.dump(est, path)
    from_skops = skops_io.load(path, trusted=skops_io.get_untrusted_types(file=path))
    for loaded in (_roundtrip_pickle(est), from_skops):
        assert loaded.get_params() == est.get_params()
        assert_identical(outputs(loaded, X), outputs(est, X))
    # Training resumes where it stopped: the copy and the original take the same step.
    copy = _roundtrip_pickle(est)
    fit(copy, X, method="partial_fit")
    fit(est, X, method="partial_fit")
    assert_identical(outputs(copy, X), outputs(est, X))


def test_vae_pickled_before_its_posterior_and_variance_options_loads(fitted):
    est, X, y = fitted[skae.VAE]
    state = est.__getstate__()
    del state["posterior"], state["likelihood_variance"]
    loaded = skae.VAE.__new__(skae.VAE)
    loaded.__setstate__(pickle.loads(pickle.dumps(state)))
    assert loaded.posterior == "diagonal" and loaded.likelihood_variance == "feature"
    assert_identical(outputs(loaded, X, y), outputs(est, X, y))


# ------------------------------------------------------------------ damaged and tampered files

# Pickle opcodes whose operand is data (a number, a string, bytes): a flipped bit there still parses,
# so only the digest of the saved state can tell. (A flip in an opcode breaks the parse itself.)
_DATA_OPCODES = {
    "BINBYTES": 4, "SHORT_BINBYTES": 1, "BINBYTES8": 8, "BINUNICODE": 4, "SHORT_BINUNICODE": 1,
    "BINUNICODE8": 8, "BINFLOAT": 0, "BININT": 0, "BININT1": 0, "BININT2": 0, "LONG1": 1,
}


def _operands(payload):
    """``(start, stop)`` byte ranges of every data operand in a pickle (its length prefix excluded)."""
    ops = list(pickletools.genops(io.BytesIO(payload)))
    for (op, _, pos), (_, _, next_pos) in zip(ops, ops[1:]):
        if op.name in _DATA_OPCODES and next_pos > pos + 1 + _DATA_OPCODES[op.name]:
            yield pos + 1 + _DATA_OPCODES[op.name], next_pos


def _same_state(a, b):
    return type(a) is type(b) and state_digest(a.__getstate__()) == state_digest(b.__getstate__())


def _load_quietly(load, payload):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a flipped version string warns, and is otherwise harmless
        return load(payload)


# numpy complains, while freeing them, about arrays whose pickled dtype a flip damaged: not our error.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_a_flipped_bit_in_a_pickle_fails_to_load_or_changes_nothing(cls, fitted):
    est, _, _ = fitted[cls]
    payload = pickle.dumps(est)
    rng = np.random.default_rng(0)
    corrupted = 0
    for start, stop in _operands(payload):  # one flip in every weight, number, name and string
        damaged = bytearray(payload)
        damaged[int(rng.integers(start, stop))] ^= 1 << int(rng.integers(8))
        try:
            loaded = _load_quietly(pickle.loads, bytes(damaged))
        except ValueError as exc:
            corrupted += "corrupted" in str(exc)
            continue
        except (pickle.UnpicklingError, AttributeError, ImportError, TypeError, EOFError):
            continue  # a flipped class or module name, a broken structure: pickle's own errors
        # Never a half-loaded or silently different estimator.
        assert _same_state(loaded, est)
    assert corrupted > 50  # the digest caught the flips pickle cannot see (~140 of ~190 here)


@pytest.mark.parametrize("how", ["pickle", "skops"])
def test_a_truncated_file_fails_to_load(how, fitted):
    est, _, _ = fitted[skae.VAE]
    if how == "pickle":
        payload, load = pickle.dumps(est), pickle.loads
    else:
        skops_io = _skops()
        payload = skops_io.dumps(est)
        trusted = skops_io.get_untrusted_types(data=payload)

        def load(data):
            return skops_io.loads(data, trusted=trusted)

    for length in range(0, len(payload), max(1, len(payload) // 150)):
        with pytest.raises(Exception) as info:  # noqa: PT011 (pickle, zipfile and skops raise their own)
            _load_quietly(load, payload[:length])
        assert str(info.value) or info.type is not Exception


@pytest.mark.parametrize("cls", [skae.Autoencoder, skae.VAE], ids=["Autoencoder", "VAE"])
def test_a_flipped_bit_in_a_skops_file_fails_to_load_or_changes_nothing(cls, fitted):
    skops_io = _skops()
    est, _, _ = fitted[cls]
    payload = skops_io.dumps(est)
    trusted = skops_io.get_untrusted_types(data=payload)
    rng = np.random.default_rng(0)
    failed = 0
    for _ in range(150):
        damaged = bytearray(payload)
        damaged[int(rng.integers(len(payload)))] ^= 1 << int(rng.integers(8))
        try:
            loaded = _load_quietly(lambda data: skops_io.loads(data, trusted=trusted), bytes(damaged))
        except Exception:  # noqa: BLE001 (zipfile's CRC check, skops' schema errors)
            failed += 1
            continue
        assert _same_state(loaded, est)  # a flip in a zip header's date or padding
    assert failed > 100


def _tamper(payload, edit):
    """The skops archive ``payload`` with its schema rewritten by ``edit(schema)``."""
    with zipfile.ZipFile(io.BytesIO(payload)) as src:
        members = {name: src.read(name) for name in src.namelist()}
    members["schema.json"] = json.dumps(edit(json.loads(members["schema.json"]))).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, content in members.items():
            dst.writestr(name, content)
    return out.getvalue()


def _name_canary(node):
    return {**node, "__module__": "_reliability", "__class__": "Canary"}


@pytest.mark.parametrize("where", ["estimator", "nested"])
def test_a_skops_file_altered_to_name_an_untrusted_type_is_refused(where, fitted):
    skops_io = _skops()
    est, _, _ = fitted[skae.Autoencoder]
    payload = skops_io.dumps(est)
    checked = skops_io.get_untrusted_types(data=payload)  # what the user reviewed and trusts

    def edit(schema):
        if where == "estimator":
            return _name_canary(schema)
        state = schema["content"]["content"]  # the estimator's attribute dict
        state["activation"] = _name_canary(state["loss_curve_"])  # an object smuggled into a value
        return schema

    tampered = _tamper(payload, edit)
    before = Canary.built
    assert "_reliability.Canary" in skops_io.get_untrusted_types(data=tampered)
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException, match="Canary"):
        skops_io.loads(tampered, trusted=checked)
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException, match="Canary"):
        skops_io.loads(tampered)
    assert Canary.built == before  # refused before anything of it was built
