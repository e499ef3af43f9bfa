"""skl2onnx's side: shape calculators, converters and parsers that embed the exported networks
(``_export.py``) in a pipeline's graph, and their registration."""

import inspect
import types

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._base import BaseAutoencoder
from .._classifier import AutoencoderClassifier
from .._outlier import AutoencoderOutlierDetector
from ._export import _classify, _detector_fn, _export, _require_onnx, _transform_fn, _unwrap


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
    model = _export(est, _transform_fn(est), est.n_features_in_, ["codes"], "encode")
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
