"""ONNX export: skae estimators in scikit-learn pipelines, run by onnxruntime without torch.

Importing this module registers a `skl2onnx <https://onnx.ai/sklearn-onnx/>`_ converter for every
skae estimator, so that ``skl2onnx.to_onnx(pipeline, X[:1])`` converts a fitted pipeline with skae
steps; :func:`to_onnx` does the same in one call. Each converter exports the fitted network's own
inference path with :func:`torch.onnx.export` (the TorchScript exporter, about ten times quicker
than the dynamo exporter on these small graphs; the dynamo exporter where it fails or once torch
has dropped it) and embeds that graph in the pipeline's with
:func:`skl2onnx.helpers.add_onnx_graph`. Built-in networks and networks given through ``module=``
are converted the same way. The exported graph computes in
float32, as skae does: float64 inputs are cast on the way in and the outputs cast back.

What each estimator becomes in a pipeline:

- every autoencoder: ``transform`` (the code, input conditioning, code activation, top-k,
  posterior mean and hashing bits included);
- :class:`~skae.AutoencoderOutlierDetector`: the outputs ``label`` (``predict``) and ``scores``
  (``decision_function``), and ``score_samples`` with the converter option
  ``{"score_samples": True}`` (as for :class:`~sklearn.ensemble.IsolationForest`);
- :class:`~skae.AutoencoderClassifier`: ``label`` (``predict``) and ``probabilities``
  (``predict_proba``), with skl2onnx's classifier options ``zipmap`` and ``nocl``.

:func:`to_onnx_decoder` exports ``inverse_transform`` and :func:`to_onnx_sampler` the
:class:`~skae.VAE`'s ``sample`` as models of their own.

The module needs the optional dependencies ``pip install "skae[onnx]"`` (skl2onnx, onnx,
onnxruntime and onnxscript); it imports without them, and its functions then say what is missing.
"""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._base import BaseAutoencoder
from .._outlier import AutoencoderOutlierDetector
from .._vae import VAE
from ._converters import register_converters
from ._export import _OPSET, _decode_fn, _rename, _standalone, _unwrap

__all__ = ["register_converters", "to_onnx", "to_onnx_decoder", "to_onnx_sampler"]


def to_onnx(model, X, **kwargs):
    """Convert a fitted skae estimator, or a pipeline holding skae steps, to an ONNX model.

    :func:`skl2onnx.to_onnx` with skae's converters registered.

    Parameters
    ----------
    model : estimator
        A fitted skae estimator, or a scikit-learn pipeline (or other composite skl2onnx converts)
        of fitted steps.
    X : ndarray of shape (n_samples, n_features), dtype float32 or float64
        A sample of the input: its dtype and width set the model's input; the batch size stays free.
    **kwargs
        Passed to :func:`skl2onnx.to_onnx`, e.g. ``options={"zipmap": False}``.

    Returns
    -------
    onnx_model : onnx.ModelProto
        Run it with ``onnxruntime.InferenceSession(onnx_model.SerializeToString())``.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skae import Autoencoder
    >>> from skae.onnx import to_onnx
    >>> X = np.random.RandomState(0).rand(50, 6).astype(np.float32)
    >>> ae = Autoencoder(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> session = ort.InferenceSession(to_onnx(ae, X[:1]).SerializeToString())
    >>> codes = session.run(None, {"X": X})[0]
    >>> bool(np.allclose(codes, ae.transform(X), atol=1e-5))
    True
    """
    register_converters()
    import skl2onnx

    kwargs.setdefault("target_opset", {"": _OPSET, "ai.onnx.ml": 3})
    return skl2onnx.to_onnx(model, X, **kwargs)


def to_onnx_decoder(estimator, dtype=np.float32):
    """Export an autoencoder's ``inverse_transform`` (its decoder) as an ONNX model of its own.

    Parameters
    ----------
    estimator : fitted skae autoencoder, AutoencoderClassifier or AutoencoderOutlierDetector
        The detector exports its autoencoder's decoder.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Type of the model's input and output; the decoder computes in float32 either way.

    Returns
    -------
    onnx_model : onnx.ModelProto
        Input ``"Z"`` of shape ``(n_samples, n_components)``, output ``"X"`` of shape
        ``(n_samples, n_features)``.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skae import Autoencoder
    >>> from skae.onnx import to_onnx_decoder
    >>> X = np.random.RandomState(0).rand(50, 6).astype(np.float32)
    >>> ae = Autoencoder(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> session = ort.InferenceSession(to_onnx_decoder(ae).SerializeToString())
    >>> Z = ae.transform(X)
    >>> bool(np.allclose(session.run(None, {"Z": Z})[0], ae.inverse_transform(Z), atol=1e-5))
    True
    """
    if isinstance(estimator, AutoencoderOutlierDetector):
        check_is_fitted(estimator)
        estimator = _unwrap(estimator.autoencoder_)
    if not isinstance(estimator, BaseAutoencoder):
        raise TypeError(f"to_onnx_decoder takes a fitted skae autoencoder, got {type(estimator).__name__}.")
    model = _standalone(estimator, _decode_fn(estimator), estimator.n_components, ["X_out"], "decode", dtype)
    _rename(model, {"X": "Z", "X_out": "X"})
    return model


def to_onnx_sampler(vae, kind="mean", dtype=np.float32, seed=None):
    """Export a :class:`~skae.VAE`'s :meth:`~skae.VAE.sample` as an ONNX model of its own.

    The model draws ``z ~ N(0, I)`` with ONNX's random operators and decodes it; onnxruntime's
    random streams are not torch's, so the draws differ from ``sample``'s, not their distribution.

    Parameters
    ----------
    vae : fitted VAE
    kind : {"mean", "draw"}, default="mean"
        As in :meth:`~skae.VAE.sample`: the decoder means ``E[x|z]``, or draws ``x ~ p(x|z)``.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Type of the outputs.
    seed : float, default=None
        Seed of the model's random operators; None draws afresh at every run.

    Returns
    -------
    onnx_model : onnx.ModelProto
        Input ``"n_samples"``, an int64 tensor of shape ``(1,)``; outputs ``"Z"`` (the codes drawn,
        shape ``(n_samples, n_components)``) and ``"X"`` (shape ``(n_samples, n_features)``).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skae import VAE
    >>> from skae.onnx import to_onnx_sampler
    >>> X = np.random.RandomState(0).rand(50, 6).astype(np.float32)
    >>> vae = VAE(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> session = ort.InferenceSession(to_onnx_sampler(vae).SerializeToString())
    >>> Z, X_new = session.run(None, {"n_samples": np.array([4])})
    >>> Z.shape, X_new.shape, bool(np.allclose(X_new, vae.inverse_transform(Z), atol=1e-5))
    ((4, 2), (4, 6), True)
    """
    from onnx import TensorProto, helper

    if not isinstance(vae, VAE):
        raise TypeError(f"to_onnx_sampler takes a fitted VAE, got {type(vae).__name__}.")
    if kind not in ("mean", "draw"):
        raise ValueError(f"kind must be 'mean' or 'draw', got {kind!r}.")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}.")

    def fn(module, z):
        out, logvar = module.decode_distribution(z)
        if module.likelihood == "bernoulli":
            return out, torch.sigmoid(out)
        return out, torch.exp(0.5 * logvar).expand_as(out)

    model = _standalone(vae, fn, vae.n_components, ["mean", "spread"], "decode_distribution", np.float32)
    _rename(model, {"X": "skae_Z", "mean": "skae_mean", "spread": "skae_spread"})
    graph = model.graph
    random = {} if seed is None else {"seed": float(seed)}
    nodes = [
        helper.make_node("Constant", [], ["skae_K"], value=helper.make_tensor("K", TensorProto.INT64, [1],
                                                                               [vae.n_components])),
        helper.make_node("Concat", ["n_samples", "skae_K"], ["skae_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["skae_shape"], ["skae_zeros"],
                         value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])),
        helper.make_node("RandomNormalLike", ["skae_zeros"], ["skae_Z"], **random),
    ]
    tail = []
    if kind == "mean":
        mean = "skae_mean" if vae.likelihood == "gaussian" else "skae_spread"  # bernoulli: sigmoid(logits)
        tail.append(helper.make_node("Identity", [mean], ["skae_X"]))
    elif vae.likelihood == "bernoulli":
        # 1 where a uniform draw falls below the probability. (Not the Bernoulli operator: onnxruntime
        # 1.32's gives 1 with probability 1 - p.)
        tail += [
            helper.make_node("RandomUniformLike", ["skae_spread"], ["skae_uniform"], **random),
            helper.make_node("Less", ["skae_uniform", "skae_spread"], ["skae_hit"]),
            helper.make_node("Cast", ["skae_hit"], ["skae_X"], to=TensorProto.FLOAT),
        ]
    else:
        tail += [
            helper.make_node("RandomNormalLike", ["skae_mean"], ["skae_noise"], **random),
            helper.make_node("Mul", ["skae_spread", "skae_noise"], ["skae_shift"]),
            helper.make_node("Add", ["skae_mean", "skae_shift"], ["skae_X"]),
        ]
    to = TensorProto.FLOAT if np.dtype(dtype) == np.float32 else TensorProto.DOUBLE
    tail += [helper.make_node("Cast", ["skae_Z"], ["Z"], to=to), helper.make_node("Cast", ["skae_X"], ["X"], to=to)]
    body = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *body, *tail])
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info("n_samples", TensorProto.INT64, [1]))
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info("Z", to, ["N", vae.n_components]),
        helper.make_tensor_value_info("X", to, ["N", vae.n_features_in_]),
    ])
    return model


try:
    register_converters()
except ImportError:  # the extra is not installed: the functions above say so when called
    pass
