"""Pickling and skops for every skae estimator: no torch storage in the saved state, a digest of it
checked before anything is loaded, and the network rebuilt by ``_build_module`` on load."""

import inspect
import warnings

import numpy as np
import torch

from ._device import _resolve_device
from ._integrity import DIGEST_KEY, check_state_digest, state_digest
from ._version import __version__

__all__ = ["PersistenceMixin"]


class PersistenceMixin:
    """``__getstate__`` / ``__setstate__`` of the estimators (see the module docstring)."""

    def __getstate__(self):
        # Torch objects are saved as numpy arrays and the network as its state_dict, rebuilt by
        # _build_module on load. The state then holds no torch storage (it loads on a CPU-only machine
        # whatever device it was fitted on), names no class of skae.nn (which may change between
        # versions), and skops can persist it: skops cannot serialize torch tensors or modules.
        state = self.__dict__.copy()
        state["_skae_version"] = __version__
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = module.state_dict()
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:
            state["_optimizer_state"] = optimizer.state_dict()
            if module is not None:  # the state numbers the parameters; their names survive a regrouping
                state["_optimizer_names"] = parameter_names(optimizer, module)
        torch_keys = [key for key, value in state.items() if _holds_tensor(value)]
        for key in torch_keys:
            state[key] = _to_numpy(state[key])
        if torch_keys:
            state["_torch_keys"] = torch_keys
        state[DIGEST_KEY] = state_digest(state)  # a damaged file then fails to load (_integrity.py)
        return state

    def __setstate__(self, state):
        state = check_state_digest(state, type(self).__name__)
        version = state.pop("_skae_version", None)
        if version is not None and version != __version__:
            warnings.warn(
                f"Loading a {type(self).__name__} pickled with skae {version} into skae "
                f"{__version__}. This may break or give different results; refit it with "
                f"skae {__version__} to be safe.",
                UserWarning,
                stacklevel=2,
            )
        for key in state.pop("_torch_keys", ()):
            state[key] = _to_tensor(state[key])
        module_state = state.pop("_module_state", None)
        self.__dict__.update(state)
        # Parameters added since the pickle was made take their defaults, which are the behaviour of
        # the version that made it (get_params, clone and refitting need them all).
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not inspect.Parameter.empty and name not in self.__dict__:
                setattr(self, name, param.default)
        self._optimizer = None
        if module_state is not None:
            try:
                module = self._build_module(self.n_features_in_).float()
                module.load_state_dict(module_state)
            except (AttributeError, KeyError, RuntimeError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"This {type(self).__name__} was saved with skae {version or '(unknown version)'} "
                    f"and its network cannot be rebuilt by skae {__version__}: {exc}. Load it with "
                    f"skae {version or 'the version that saved it'}, or refit it with skae {__version__}."
                ) from exc
            self.module_ = module.eval()
        module = self.__dict__.get("module_")
        if module is not None:
            try:
                module.to(_resolve_device(self.device))
            except ValueError:
                warnings.warn(
                    f"{type(self).__name__} was fitted on device={self.device!r}, which is not "
                    "available here; it was loaded on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )


def _holds_tensor(obj):
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, dict):
        return any(_holds_tensor(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_holds_tensor(v) for v in obj)
    return False


def _to_numpy(obj):
    """Tensors (nested in dicts, lists, tuples) as CPU numpy arrays; dtypes numpy lacks stay tensors."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().to("cpu")
        try:
            return obj.numpy().copy()
        except TypeError:  # bfloat16 and friends
            return obj
    if isinstance(obj, dict):
        return type(obj)((k, _to_numpy(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy(v) for v in obj)
    return obj


def _to_tensor(obj):
    """The inverse of :func:`_to_numpy`: numpy arrays back to (writable, owned) CPU tensors."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, dict):
        return type(obj)((k, _to_tensor(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_tensor(v) for v in obj)
    return obj


def parameter_names(optimizer, module):
    """The names in ``module`` of ``optimizer``'s parameters, in the order its ``state_dict`` numbers them."""
    name_of = {id(p): name for name, p in module.named_parameters()}
    return [name_of[id(p)] for group in optimizer.param_groups for p in group["params"]]


def restored_optimizer(module, saved, names, fresh, lr):
    """The optimizer of an unpickled model's first training call, from its saved ``state_dict``.

    With the parameters' ``names`` (in the state's order, :func:`parameter_names`): Adam grouped as
    when it was saved, its state loaded, then regrouped where ``fresh`` (built from the current
    parameters) decays other weights, as in memory. A pickle of an older skae has no names: its state
    loads into ``fresh`` where the groups match; where they do not (alpha went between 0 and non-zero
    since), training goes on with ``fresh`` and a warning.
    """
    from ._training import _adam, _with_current_alpha  # _training imports this module

    if names is None:
        try:
            fresh.load_state_dict(saved)
        except ValueError:
            warnings.warn(
                "This model's optimizer state, saved by an older skae, is grouped for another alpha "
                "than the current one: training goes on with a new optimizer (Adam's moments restart).",
                UserWarning,
                stacklevel=4,
            )
        return fresh
    param, flat = dict(module.named_parameters()), iter(names)
    optimizer = _adam([{"params": [param[next(flat)] for _ in group["params"]]} for group in saved["param_groups"]], lr)
    optimizer.load_state_dict(saved)
    return _with_current_alpha(optimizer, fresh)
