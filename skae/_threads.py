"""The intra-op thread count of one training loop, for the calling thread only.

``torch.set_num_threads`` is process-wide: it is the user's setting, and ``fit`` leaves it alone.
The OpenMP runtime torch runs on keeps the thread count per thread, though: ``omp_set_num_threads``
sets the calling thread's ``nthreads-var`` (OpenMP 4.5, §2.3.3: a data-environment ICV), which is
what ATen's ``parallel_for`` and oneDNN read through ``omp_get_max_threads``; MKL's
``mkl_set_num_threads_local`` sets its own per-thread count, which its matrix products read.
:func:`intra_op_threads` sets both around a block and restores them after: other threads, threads
started meanwhile (they take torch's process-wide count) and ``torch.get_num_threads()`` after the
block are unchanged. Where the runtime is not one whose functions are found in this process
(Linux, torch's own OpenMP runtime, MKL optional), it changes nothing.
"""

import contextlib
import ctypes
import os
import sys

import torch

__all__ = ["flush_denormal", "intra_op_threads"]

# The OpenMP runtimes torch ships or links (GNU, Intel, LLVM), by file name.
_OPENMP_NAMES = ("libgomp", "libiomp5", "libomp")
_runtime = None  # (omp_get_max_threads, omp_set_num_threads, mkl_set_num_threads_local or None) or ()


def _loaded_libraries():
    """Paths of the shared libraries this process has loaded (Linux; empty elsewhere)."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f if line.count(" ") >= 5 and "/" in line}
    except OSError:
        return []
    return sorted(p for p in paths if ".so" in os.path.basename(p))


def _find_runtime():
    """The OpenMP (and MKL) thread-count functions of the runtime torch uses, or () if not found.

    Only libraries already loaded are opened (``dlopen`` of a loaded path returns the same
    handle): loading a second OpenMP runtime would give the process two thread pools.
    """
    import torch  # (loads libtorch and its OpenMP runtime first)

    libraries = _loaded_libraries()
    omp = [p for p in libraries if os.path.basename(p).startswith(_OPENMP_NAMES)]
    # Other packages vendor runtimes of their own (scikit-learn's libgomp-<hash>.so): torch's is the
    # one in its own folder (pip wheels), else the only one loaded (a system runtime).
    own = [p for p in omp if os.path.dirname(p).startswith(os.path.dirname(torch.__file__))]
    omp = own or omp
    if len(omp) != 1:  # none, or several: which one torch uses is not known
        return ()
    try:
        lib = ctypes.CDLL(omp[0])
        get, set_ = lib.omp_get_max_threads, lib.omp_set_num_threads
    except (OSError, AttributeError):
        return ()
    get.restype, get.argtypes = ctypes.c_int, []
    set_.restype, set_.argtypes = None, [ctypes.c_int]
    mkl = None
    for path in libraries:
        if os.path.basename(path).startswith("libtorch_cpu"):
            try:
                mkl = ctypes.CDLL(path).MKL_Set_Num_Threads_Local  # the C interface (by value)
            except (OSError, AttributeError):
                mkl = None  # a build without MKL: its BLAS is OpenMP's or single-threaded
            else:
                mkl.restype, mkl.argtypes = ctypes.c_int, [ctypes.c_int]
    return get, set_, mkl


@contextlib.contextmanager
def intra_op_threads(n):
    """Run the block with ``n`` intra-op threads in the calling thread only (None: unchanged).

    Yields the count in force inside the block (the previous one when nothing could be set).
    """
    global _runtime
    if _runtime is None:
        _runtime = _find_runtime()
    if n is None or not _runtime:
        yield None if not _runtime else _runtime[0]()
        return
    get, set_, mkl = _runtime
    before = get()
    if n == before:
        yield before
        return
    set_(n)
    previous_mkl = mkl(n) if mkl is not None else None
    try:
        yield n
    finally:
        set_(before)
        if mkl is not None:
            mkl(previous_mkl)


# A training step does fewer multiply-adds than this (batch rows x weights x 3: the forward pass and
# the two products of the backward pass) in well under a millisecond on one core, and torch spends
# most of it dispatching ops, not multiplying. Split over threads, each of its ~5 parallel regions
# per layer (a product forward, two backward, Adam's update of the weight and of the bias) ends in a
# barrier: microseconds on a quiet machine, up to a scheduler time slice when another process holds
# a core. Measured on a 2-core Xeon (2026-12-06): the fastest steps of 64-128-32 (4M multiply-adds),
# 64-512-32 and 784-64-8 (16-20M) took the same time on one thread as on two; beside a 2-thread load,
# a fit of the first on one thread ran many times quicker than a raw torch loop on two
# (benchmarks/bench_contention.py).
SMALL_STEP_MACS = 2**25


def step_threads(module, batch_size):
    """The intra-op threads for training ``module`` on batches of ``batch_size`` rows (None: torch's).

    One for a fully connected network whose step is small (see :data:`SMALL_STEP_MACS`); None
    otherwise: for a network with convolutions (4-D weights: their work is not the weights' count),
    or on an accelerator.
    """
    params = list(module.parameters())
    if not params or params[0].device.type != "cpu" or any(p.dim() > 2 for p in params):
        return None
    weights = sum(p.numel() for p in params if p.dim() == 2)
    return 1 if 3 * batch_size * weights < SMALL_STEP_MACS else None


def _flushing_denormals():
    """Whether this thread flushes subnormal floats to zero now (torch has no getter: a subnormal
    float32 times one is zero exactly when it does)."""
    return float((torch.tensor([1e-39], dtype=torch.float32) * 1.0).item()) == 0.0


@contextlib.contextmanager
def flush_denormal():
    """Subnormal floats flushed to zero inside the block, the caller's setting restored after.

    Training can drive weights and optimiser moments into the subnormal range (below 1.2e-38 in
    float32), where x86 arithmetic takes a slow path: a top-k autoencoder of 1000 units on MNIST,
    whose idle units decay, went from 2 s to 48 s per epoch after its sixth. Flushed, those values
    are zero, which changes no result measurably. Where the CPU cannot flush, nothing changes.
    """
    previous = _flushing_denormals()
    changed = not previous and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)
