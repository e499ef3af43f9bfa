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

import copy
import inspect
import io
import types
import warnings

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from ._base import BaseAutoencoder
from ._classifier import AutoencoderClassifier
from ._objective import Objective
from ._outlier import AutoencoderOutlierDetector
from ._vae import VAE
from .nn.vae import _LOG_2PI, log_weights

__all__ = ["register_converters", "to_onnx", "to_onnx_decoder", "to_onnx_sampler"]



def _transformers():
    """The public autoencoders, converted to their ``transform``: every concrete
    :class:`~skae.BaseAutoencoder` in ``skae.__all__`` but the classifier (discovered, so that a new
    estimator is registered with the others)."""
    import skae

    classes = (getattr(skae, name) for name in skae.__all__)
    return tuple(
        cls for cls in classes
        if isinstance(cls, type) and issubclass(cls, BaseAutoencoder) and not inspect.isabstract(cls)
        and cls is not BaseAutoencoder and not issubclass(cls, AutoencoderClassifier)
    )


# The ONNX opset of the exported graphs (onnxruntime has run it since 1.14).
_OPSET = 18
# Rows of the example batch the network is traced with: not 1, which an exporter may specialise on.
_TRACE_ROWS = 3


def _require_onnx():
    try:
        import onnx  # noqa: F401
        import skl2onnx  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"skae.onnx needs the optional dependencies skl2onnx and onnx ({exc}); install them with "
            'pip install "skae[onnx]".'
        ) from exc


class _Graph(torch.nn.Module):
    """``forward(x) = fn(module, x)``: the fitted network registered as a submodule, so that its
    weights become the exported graph's initializers."""

    def __init__(self, module, fn):
        super().__init__()
        self.module = module
        self._fn = fn

    def forward(self, x):
        return self._fn(self.module, x)


def _describe(estimator):
    module = getattr(estimator, "module", None)
    if module is None:
        return type(estimator).__name__
    return f"{type(estimator).__name__}(module={getattr(module, '__qualname__', repr(module))})"


def _cpu_module(estimator):
    """The fitted network, on the CPU, in float32 (a copy when it lives elsewhere)."""
    module = estimator.module_
    params = [*module.parameters(), *module.buffers()]
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in params if p.is_floating_point()):
        module = copy.deepcopy(module).cpu().float()
    return module


def _export(estimator, fn, n_in, output_names, what, dtype=torch.float32):
    """The ONNX model of ``fn(module_, x)`` for ``x`` of shape ``(n, n_in)``, n dynamic."""
    module = _cpu_module(estimator)
    graph = _Graph(module, fn).eval()
    example = torch.zeros((_TRACE_ROWS, n_in), dtype=dtype)
    was_training = module.training
    module.eval()
    errors = []
    try:
        # The TorchScript exporter first: about ten times quicker on these small graphs. The
        # dynamo exporter (needs onnxscript) when it fails, e.g. on an operator it has no
        # translation for (the full-covariance VAE's tril_indices), or once torch has dropped it.
        for exporter in (_export_torchscript, _export_dynamo):
            try:
                with torch.no_grad(), warnings.catch_warnings():
                    # Deprecation notices, and the tracer's notes on the Python values it records
                    # as constants (the shapes of the weights).
                    warnings.simplefilter("ignore")
                    model = exporter(graph, example, output_names)
                break
            except Exception as exc:  # the exporters raise many types: keep each one's message
                errors.append(exc)
        else:
            raise RuntimeError(
                f"Cannot convert {_describe(estimator)} to ONNX: torch.onnx.export failed on the fitted "
                f"network's {what} ("
                + "; ".join(f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
                            for e in errors)
                + "). A network given through module= must be exportable by torch.onnx.export."
            ) from errors[0]
    finally:
        module.train(was_training)
    _check_export(estimator, graph, model, n_in, output_names, what, dtype)
    return model


def _export_torchscript(graph, example, output_names):
    import onnx

    buffer = io.BytesIO()
    axes = {name: {0: "N"} for name in ["X", *output_names]}
    torch.onnx.export(
        graph, (example,), buffer, input_names=["X"], output_names=list(output_names), dynamic_axes=axes,
        opset_version=_OPSET, dynamo=False,
    )
    return onnx.load_from_string(buffer.getvalue())


def _export_dynamo(graph, example, output_names):
    program = torch.onnx.export(
        graph, (example,), input_names=["X"], output_names=list(output_names),
        dynamic_shapes=({0: torch.export.Dim("N")},), opset_version=_OPSET, dynamo=True, verbose=False,
    )
    return program.model_proto


def _check_export(estimator, graph, model, n_in, output_names, what, dtype):
    """Run the exported model on a batch of another size than the traced one and compare it with
    the network: tracing records Python control flow and shapes as constants, and a network whose
    result depends on them would otherwise export silently wrong."""
    try:
        import onnxruntime
    except ImportError:  # nothing to check with
        return
    conditioning = getattr(graph.module, "conditioning", None)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((_TRACE_ROWS + 2, n_in), generator=gen, dtype=dtype)
    if conditioning is not None and n_in == conditioning.loc.numel():
        x = conditioning.loc + conditioning.scale * x
    was_training = graph.module.training
    graph.module.eval()
    try:
        with torch.no_grad():
            expected = graph(x)
    finally:
        graph.module.train(was_training)
    expected = expected if isinstance(expected, tuple) else (expected,)
    try:
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    except Exception as exc:  # onnxruntime's errors are its own types
        raise RuntimeError(
            f"Cannot convert {_describe(estimator)} to ONNX: onnxruntime cannot run the exported "
            f"{what} ({type(exc).__name__}: {str(exc).strip()[:300]})."
        ) from exc
    for name, a, b in zip(output_names, got, expected):
        b = b.numpy()
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-4):
            raise RuntimeError(
                f"Cannot convert {_describe(estimator)} to ONNX: the exported {what} does not compute "
                f"what the network does on a batch of {x.shape[0]} rows (output {name!r}). torch.onnx.export "
                "traces the network once, recording Python control flow and shapes as constants: a "
                "network given through module= must not branch on its input's values or batch size."
            )


def _unwrap(autoencoder):
    return autoencoder.estimator if isinstance(autoencoder, FrozenEstimator) else autoencoder


# ------------------------------------------------------------------ the inference paths


def _encode(module, x):
    return module.encode(x)


def _decode(module, z):
    return module.decode(z)


def _classify(module, x):
    logits = module.logits(x).float()
    return torch.argmax(logits, dim=1), torch.softmax(logits, dim=1)


def _detector_fn(detector):
    """``x -> (label, decision_function, score_samples)``, computed as the detector does: the
    network in float32, the combination of its outputs in float64."""
    ae = _unwrap(detector.autoencoder_)
    score = Objective(ae).score_samples
    if isinstance(ae, VAE):
        score = _vae_elbo(ae)
    as64 = {"dtype": torch.float64}
    offset = float(detector.offset_)
    if detector.code_distance:
        mean = torch.as_tensor(detector.mean_, **as64)
        code_mean = torch.as_tensor(detector.code_mean_, **as64)
        precision = torch.as_tensor(detector.code_precision_, **as64)
        error_offset = float(detector.error_offset_)
        scales = [float(s) for s in detector.score_scales_]

    def fn(module, x):
        error = -score(module, x).double()
        if detector.code_distance:
            code = module.encode(x)
            centred = code.double() - code_mean
            distance = ((centred @ precision) * centred).sum(dim=1)
            spread = (module.decode(code).double() - mean).square().sum(dim=1)
            scores = -((error - error_offset) / scales[0] + distance / scales[1] + spread / scales[2])
        else:
            scores = -error
        decision = scores - offset
        label = torch.where(decision < 0, -1, 1).to(torch.int64)
        return label, decision, scores

    return fn


def _vae_elbo(vae):
    """``(module, x) -> ELBO`` per row, as ``vae.score_samples`` computes it.

    The ELBO is a Monte-Carlo estimate over ``n_importance_samples`` draws from a fixed seed: the
    draws become a constant of the graph (the tracer cannot record torch's generator). The VAE
    decodes them in chunks whose size depends on the number of rows, a Python loop the tracer
    would freeze at the traced batch's; this decodes them all at once, to the same values.
    """
    from ._vae import _SCORING_SEED

    eps = vae._scoring_noise(vae.module_, None, _SCORING_SEED).unsqueeze(1)  # (draws, 1, K)

    def elbo(module, x):
        mu, logvar, tril = module.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * eps  # (draws, n, K)
        if tril is not None:
            # A broadcast product, not the VAE's einsum: ONNX's Einsum does not broadcast "..." of
            # different ranks.
            z = z + (tril @ eps.unsqueeze(-1)).squeeze(-1)
        log_q = -0.5 * (eps.square().sum(-1) + logvar.sum(-1) + mu.shape[-1] * _LOG_2PI)
        return log_weights(module, x, z, log_q).double().mean(0).float()

    return elbo


# ------------------------------------------------------------------ embedding in skl2onnx graphs


def _onnx_type(var):
    """The element type of a skl2onnx variable: float or double, else an error."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    if isinstance(var.type, DoubleTensorType):
        return TensorProto.DOUBLE
    if isinstance(var.type, FloatTensorType):
        return TensorProto.FLOAT
    raise TypeError(f"skae's ONNX converters take float or double inputs, got {type(var.type).__name__}.")


def _embed(scope, operator, container, model):
    """Add ``model`` (float32 input ``X``) to the container, fed with the operator's input (cast to
    float32 if needed). Returns the names of the model's outputs in the container."""
    from onnx import TensorProto
    from skl2onnx.helpers import add_onnx_graph

    source = operator.inputs[0]
    x32 = source.onnx_name
    if _onnx_type(source) != TensorProto.FLOAT:
        x32 = scope.get_unique_variable_name("skae_input32")
        _cast(scope, container, source.onnx_name, x32, TensorProto.FLOAT)
    outputs = [scope.get_unique_variable_name(f"skae_{o.name}") for o in model.graph.output]
    # add_onnx_graph reads only the onnx_name of the operator's inputs and outputs.
    ports = types.SimpleNamespace(
        inputs=[types.SimpleNamespace(onnx_name=x32)], outputs=[types.SimpleNamespace(onnx_name=o) for o in outputs]
    )
    add_onnx_graph(scope, ports, container, model)
    return outputs


def _cast(scope, container, source, target, to):
    container.add_node("Cast", source, target, op_version=6, to=to, name=scope.get_unique_operator_name("Cast"))


def _transformer_shape(operator):
    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    _onnx_type(operator.inputs[0])
    operator.outputs[0].type = type(operator.inputs[0].type)([n, est.n_components])


def _transformer_converter(scope, operator, container):
    est = operator.raw_operator
    check_is_fitted(est)
    model = _export(est, _encode, est.n_features_in_, ["codes"], "encode")
    (codes,) = _embed(scope, operator, container, model)
    out = operator.outputs[0]
    _cast(scope, container, codes, out.onnx_name, _onnx_type(out))


def _detector_parser(scope, model, inputs, custom_parsers=None):
    from skl2onnx.common.data_types import Int64TensorType, guess_tensor_type

    operator = scope.declare_local_operator(_alias(type(model)), model)
    operator.inputs = inputs
    names = ["label", "scores"]
    if scope.get_options(model, {"score_samples": False})["score_samples"]:
        names.append("score_samples")
    for name in names:
        kind = Int64TensorType() if name == "label" else guess_tensor_type(inputs[0].type)
        operator.outputs.append(scope.declare_local_variable(name, kind))
    return operator.outputs


def _detector_shape(operator):
    from skl2onnx.common.data_types import Int64TensorType

    n = operator.inputs[0].get_first_dimension()
    kind = type(operator.inputs[0].type)
    _onnx_type(operator.inputs[0])
    operator.outputs[0].type = Int64TensorType([n])
    for var in operator.outputs[1:]:
        var.type = kind([n, 1])


def _detector_converter(scope, operator, container):
    from onnx import TensorProto

    det = operator.raw_operator
    check_is_fitted(det)
    ae = _unwrap(det.autoencoder_)
    model = _export(ae, _detector_fn(det), det.n_features_in_, ["label", "decision", "score_samples"],
                    "score_samples")
    raw = _embed(scope, operator, container, model)
    # The graph's decision and scores are (n,): skl2onnx's outlier detectors give (n, 1).
    container.add_node("Identity", raw[0], operator.outputs[0].onnx_name,
                       name=scope.get_unique_operator_name("Identity"))
    shape = scope.get_unique_variable_name("skae_column")
    container.add_initializer(shape, TensorProto.INT64, [2], [-1, 1])
    for var, name in zip(operator.outputs[1:], raw[1:]):
        column = scope.get_unique_variable_name(f"skae_{var.raw_name}64")
        container.add_node("Reshape", [name, shape], column, name=scope.get_unique_operator_name("Reshape"))
        _cast(scope, container, column, var.onnx_name, _onnx_type(var))


def _classifier_shape(operator):
    from skl2onnx.common.data_types import FloatTensorType
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    _onnx_type(operator.inputs[0])
    calculate_linear_classifier_output_shapes(operator)
    # float32 whatever the input, as skae's predict_proba (and what skl2onnx's ZipMap takes).
    operator.outputs[1].type = FloatTensorType(operator.outputs[1].type.shape)


def _classifier_converter(scope, operator, container):
    from onnx import TensorProto

    clf = operator.raw_operator
    check_is_fitted(clf)
    model = _export(clf, _classify, clf.n_features_in_, ["index", "probabilities"], "logits")
    index, proba = _embed(scope, operator, container, model)
    label_var, proba_var = operator.outputs[0], operator.outputs[1]
    _cast(scope, container, proba, proba_var.onnx_name, _onnx_type(proba_var))
    options = container.get_options(clf, {"nocl": False})
    classes = np.asarray(clf.classes_)
    if options["nocl"]:
        container.add_node("Identity", index, label_var.onnx_name, name=scope.get_unique_operator_name("Identity"))
        return
    table = scope.get_unique_variable_name("skae_classes")
    if classes.dtype.kind in "iub":
        container.add_initializer(table, TensorProto.INT64, [len(classes)], classes.astype(np.int64).tolist())
    else:
        container.add_initializer(table, TensorProto.STRING, [len(classes)],
                                  [str(c).encode("utf-8") for c in classes])
    container.add_node("Gather", [table, index], label_var.onnx_name, axis=0,
                       name=scope.get_unique_operator_name("Gather"))


def _alias(cls):
    return f"Skae{cls.__name__}"


def register_converters():
    """Register skl2onnx converters (shape calculators, converters and parsers) for every skae estimator.

    Called when :mod:`skae.onnx` is imported; call it again after something else has overwritten
    them. Idempotent.
    """
    _require_onnx()
    from skl2onnx import update_registered_converter

    for cls in _transformers():
        update_registered_converter(cls, _alias(cls), _transformer_shape, _transformer_converter)
    update_registered_converter(
        AutoencoderOutlierDetector, _alias(AutoencoderOutlierDetector), _detector_shape,
        _detector_converter, parser=_detector_parser, options={"score_samples": [False, True]},
    )
    update_registered_converter(
        AutoencoderClassifier, _alias(AutoencoderClassifier), _classifier_shape, _classifier_converter,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )


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


def _standalone(estimator, fn, n_in, output_names, what, dtype):
    """A model of its own for ``fn``: input ``X`` and outputs of the requested float dtype."""
    from onnx import TensorProto, helper

    _require_onnx()
    check_is_fitted(estimator)
    model = _export(estimator, fn, n_in, output_names, what)
    if np.dtype(dtype) == np.float32:
        return model
    if np.dtype(dtype) != np.float64:
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}.")
    # Rename the graph's input and outputs, and cast around them.
    graph = model.graph
    for node in graph.node:
        node.input[:] = ["skae_X32" if n == "X" else n for n in node.input]
        node.output[:] = [f"skae_{n}32" if n in output_names else n for n in node.output]
    graph.node.insert(0, helper.make_node("Cast", ["X"], ["skae_X32"], to=TensorProto.FLOAT))
    for name in output_names:
        graph.node.append(helper.make_node("Cast", [f"skae_{name}32"], [name], to=TensorProto.DOUBLE))
    for value in [*graph.input, *graph.output]:
        value.type.tensor_type.elem_type = TensorProto.DOUBLE
    return model


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
    model = _standalone(estimator, _decode, estimator.n_components, ["X_out"], "decode", dtype)
    _rename(model, {"X": "Z", "X_out": "X"})
    return model


def _rename(model, names):
    graph = model.graph
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    for value in [*graph.input, *graph.output]:
        value.name = names.get(value.name, value.name)


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
