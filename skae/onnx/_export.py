"""The fitted network's inference paths exported to ONNX models: tracing, the exporters, the check
that the exported graph computes what the network does, and the standalone models' plumbing."""

import copy
import io
import warnings

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from .._objective import Objective
from .._vae import VAE
from ..nn.vae import _LOG_2PI, log_weights

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
    """The fitted network, on the CPU, in float32 (a copy when it lives elsewhere), checked against
    the estimator's parameters as its own outputs check it (a SparseAutoencoder's current k set)."""
    estimator._check_network()
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


def _transform_fn(estimator):
    """The network path of ``estimator.transform``: the encoder, with a SparseAutoencoder's
    ``transform_k`` units kept where it sets one, its codes divided by ``code_scale_``."""
    k = getattr(estimator, "transform_k", None)
    encode = _encode
    if getattr(estimator, "sparsity", None) == "topk" and k is not None:

        def encode(module, x):
            return module.encode(x, k=k)

    scale = estimator._code_scale()
    if scale == 1.0:
        return encode

    def scaled(module, x):
        return encode(module, x) / scale

    return scaled


def _decode(module, z):
    return module.decode(z)


def _decode_fn(estimator):
    """The network path of ``estimator.inverse_transform``: codes times ``code_scale_``, decoded."""
    scale = estimator._code_scale()
    if scale == 1.0:
        return _decode

    def decode(module, z):
        return module.decode(z * scale)

    return decode


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
        encode, decode = _transform_fn(ae), _decode_fn(ae)

    def fn(module, x):
        error = -score(module, x).double()
        if detector.code_distance:
            code = encode(module, x)
            centred = code.double() - code_mean
            distance = ((centred @ precision) * centred).sum(dim=1)
            spread = (decode(module, code).double() - mean).square().sum(dim=1)
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
    from .._vae import _SCORING_SEED

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


def _rename(model, names):
    graph = model.graph
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    for value in [*graph.input, *graph.output]:
        value.name = names.get(value.name, value.name)
