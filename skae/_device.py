"""Randomness and devices: seeds drawn from ``random_state`` and the ``device`` / ``precision`` checks."""

import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state


def _seed_from(random_state):
    """An integer seed drawn from ``random_state`` without touching numpy's or torch's global RNG."""
    if random_state is None:
        # Fresh OS entropy: np.random.mtrand's global state is left alone.
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(random_state, numbers.Integral):
        return int(random_state) % (2**63)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _resolve_device(device):
    """``torch.device`` for the ``device`` parameter, with a clear error when it is unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available here.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                "device(s) are available."
            )
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r} was requested but MPS is not available here.")
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'cpu', 'cuda', 'cuda:N' or 'mps'.")
    return dev


def _bfloat16_supported(device="cpu"):
    """Whether torch can train in bfloat16 on ``device`` (a CPU: avx512_bf16/AMX through oneDNN)."""
    device = torch.device(device)
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return False


def _check_precision(precision, device):
    """The autocast dtype for ``precision`` on ``device`` (None for float32)."""
    if precision == "float32":
        return None
    if not _bfloat16_supported(device):
        raise ValueError(
            f"precision='bfloat16' needs a CPU with avx512_bf16/AMX or a CUDA device with bfloat16 "
            f"support; device {str(device)!r} has neither. Use precision='float32'."
        )
    return torch.bfloat16
